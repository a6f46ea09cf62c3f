// The interpreter on hand-built IR: each test pins one kernel behaviour (chain control flow,
// lookups, NAT, forks) with a ruleset small enough to read.

import { describe, expect, it } from 'vitest';
import { predictedEndpoints, traceConnection, TraceError, verdictProbabilities, type Packet, type TraceEnv } from '../../ir/interpret.js';
import { c, chain, daddr, dport, eq, l4proto, mark, ne, r, saddr, v } from './builders.js';
import type { BaseChainSpec, Chain, Expr, Ruleset, SetDef, Stmt, Value, Verdict } from '../../ir/types.js';

// --- small IR builders
const accept = v({ kind: 'accept' });
const drop = v({ kind: 'drop' });
const ret = v({ kind: 'return' });
const jump = (target: string): Stmt => v({ kind: 'jump', target });
const goto = (target: string): Stmt => v({ kind: 'goto', target });
const setmark = (value: Expr): Stmt => ({ kind: 'setmark', value });
const markTo = (n: number): Stmt => setmark(c(n));
const filter = (hook: BaseChainSpec['hook'], prio = 0, policy: 'accept' | 'drop' = 'accept'): BaseChainSpec => ({ type: 'filter', hook, prio, policy });
const nat = (hook: BaseChainSpec['hook'], prio: number): BaseChainSpec => ({ type: 'nat', hook, prio, policy: 'accept' });
const rs = (chains: Chain[], sets: SetDef[] = []): Ruleset => ({ tables: [{ family: 'ip', name: 't', sets, chains }] });

const pkt: Packet = { family: 'ip', src: '192.0.2.1', dst: '10.0.0.1', proto: 'tcp', dport: 80 };
const outside: TraceEnv = { localAddresses: ['192.168.0.1'], sourceIsLocal: false };

function only(ruleset: Ruleset, p: Packet = pkt, env: TraceEnv = outside) {
  const out = traceConnection(ruleset, p, env);
  expect(out).toHaveLength(1);
  return out[0]!;
}

describe('chain control flow', () => {
  it('jump returns to the rule after the jump; goto does not push; return pops', () => {
    const o = only(
      rs([
        chain('pre', [r(jump('a')), r(setmark({ kind: 'or', left: mark, bits: 0x4 }))], filter('prerouting')),
        // a: goto b; b returns to pre (a's caller), so a's second rule never runs
        chain('a', [r(setmark({ kind: 'or', left: mark, bits: 0x1 }), goto('b')), r(drop)]),
        chain('b', [r(setmark({ kind: 'or', left: mark, bits: 0x2 }), ret), r(drop)]),
      ]),
    );
    expect(o.verdict).toBe('accept');
    expect(o.mark).toBe(0x7);
  });

  it('end of a regular chain returns to the caller; end of the base chain applies the policy', () => {
    const base = (policy: 'accept' | 'drop'): Ruleset => rs([chain('pre', [r(jump('a')), r(markTo(9))], filter('prerouting', 0, policy)), chain('a', [r(markTo(1))])]);
    expect(only(base('accept'))).toMatchObject({ verdict: 'accept', mark: 9 });
    expect(only(base('drop'))).toMatchObject({ verdict: 'drop', mark: 9 });
    const pol = only(base('drop')).steps.at(-1);
    expect(pol).toMatchObject({ kind: 'verdict', verdict: 'drop', by: 'policy' });
  });

  it('goto from the base chain: the end of the target applies the base policy; return at depth 0 too', () => {
    expect(only(rs([chain('pre', [r(goto('a')), r(accept)], filter('prerouting', 0, 'drop')), chain('a', [r(markTo(3))])]))).toMatchObject({ verdict: 'drop', mark: 3 });
    expect(only(rs([chain('pre', [r(ret), r(accept)], filter('prerouting', 0, 'drop'))])).verdict).toBe('drop');
  });

  it('accept ends only its base chain: the next base chain of the hook and later hooks still run', () => {
    const o = only(
      rs([
        chain('first', [r(accept), r(markTo(1))], filter('prerouting', -10)),
        chain('second', [r(markTo(2))], filter('prerouting', 10)),
        chain('fwd', [r(eq(mark, c(2)), drop)], filter('forward')),
      ]),
    );
    expect(o.verdict).toBe('drop');
    expect(o.steps.filter((s) => s.kind === 'chain').map((s) => s.kind === 'chain' && s.chain)).toEqual(['first', 'second', 'fwd']);
  });

  it('accept inside a jumped-to chain accepts the whole base chain', () => {
    expect(only(rs([chain('pre', [r(jump('a')), r(drop)], filter('prerouting')), chain('a', [r(accept)])])).verdict).toBe('accept');
  });

  it('drop and reject end everything, later hooks do not run', () => {
    const o = only(rs([chain('pre', [r({ kind: 'reject', with: 'tcp-reset' })], filter('prerouting')), chain('fwd', [r(markTo(1))], filter('forward'))]));
    expect(o).toMatchObject({ verdict: 'reject', reject: 'tcp-reset', mark: 0 });
    expect(o.steps.some((s) => s.kind === 'chain' && s.chain === 'fwd')).toBe(false);
  });

  it('base chains of a hook run in priority order, whatever their order in the table', () => {
    const o = only(rs([chain('late', [r(eq(mark, c(1)), drop)], filter('prerouting', 50)), chain('early', [r(markTo(1))], filter('prerouting', -50))]));
    expect(o.verdict).toBe('drop');
  });

  it('continue does nothing; the rest of the rule runs', () => {
    expect(only(rs([chain('pre', [r(v({ kind: 'continue' }), markTo(5))], filter('prerouting'))])).mark).toBe(5);
  });

  it('rejects a jump stack deeper than 16 and missing chains', () => {
    const chains = [chain('pre', [r(jump('c0'))], filter('prerouting'))];
    for (let i = 0; i < 17; i++) chains.push(chain(`c${i}`, [r(jump(`c${i + 1}`))]));
    chains.push(chain('c17', []));
    expect(() => traceConnection(rs(chains), pkt, outside)).toThrow(TraceError);
    expect(() => traceConnection(rs([chain('pre', [r(jump('nope'))], filter('prerouting'))]), pkt, outside)).toThrow(/nope/);
  });
});

describe('lookups', () => {
  const vmapSet: SetDef = {
    name: 'm',
    keyType: ['ipv4_addr', 'inet_proto', 'inet_service'],
    dataType: 'verdict',
    elements: [{ key: { concat: ['10.0.0.1', 'tcp', 80] }, data: { kind: 'goto', target: 'hit' }, comment: 'svc' }],
  };
  const key: Expr = { kind: 'concat', parts: [daddr, l4proto, dport] };

  it('a verdict map without an entry ends the rule: the rest of that rule does not run, the next rule does', () => {
    const ruleset = rs(
      [chain('pre', [r({ kind: 'vmap', key, map: 'm' }, drop), r(markTo(7))], filter('prerouting')), chain('hit', [r(markTo(1))])],
      [vmapSet],
    );
    expect(only(ruleset, { ...pkt, dport: 81 })).toMatchObject({ verdict: 'accept', mark: 7 });
    // With an entry, the verdict (goto) is taken; `hit` returns to the base chain's policy.
    const o = only(ruleset);
    expect(o).toMatchObject({ verdict: 'accept', mark: 1 });
    const rule = o.steps.find((s) => s.kind === 'rule' && s.chain === 'pre');
    expect(rule).toMatchObject({ details: [{ kind: 'lookup', key: '10.0.0.1 . tcp . 80', set: '@m', found: true, result: 'goto hit', comment: 'svc' }] });
  });

  it('protocol names and numbers are the same key; ports given as strings too', () => {
    const s: SetDef = { ...vmapSet, elements: [{ key: { concat: ['10.0.0.1', 6, '80'] }, data: { kind: 'drop' } }] };
    expect(only(rs([chain('pre', [r({ kind: 'vmap', key, map: 'm' })], filter('prerouting'))], [s])).verdict).toBe('drop');
  });

  it('interval sets: prefixes, ranges, and concatenations with a prefix in the last field', () => {
    const nets: SetDef = { name: 'nets', keyType: ['ipv4_addr'], flags: ['interval'], elements: [{ key: { prefix: { addr: '10.244.0.0', len: 16 } } }, { key: { range: ['172.16.0.5', '172.16.0.9'] } }] };
    const allow: SetDef = {
      name: 'allow',
      keyType: ['ipv4_addr', 'inet_proto', 'inet_service', 'ipv4_addr'],
      flags: ['interval'],
      elements: [{ key: { concat: ['10.0.0.1', 'tcp', 80, { prefix: { addr: '203.0.113.0', len: 24 } }] } }],
    };
    const ruleset = rs(
      [
        chain(
          'pre',
          [
            r(eq(saddr, { kind: 'setref', name: 'nets' }), markTo(1), accept),
            r(ne({ kind: 'concat', parts: [daddr, l4proto, dport, saddr] }, { kind: 'setref', name: 'allow' }), drop),
            r(markTo(2)),
          ],
          filter('prerouting'),
        ),
      ],
      [nets, allow],
    );
    const from = (src: string) => only(ruleset, { ...pkt, src });
    expect(from('10.244.255.255')).toMatchObject({ verdict: 'accept', mark: 1 });
    expect(from('10.245.0.0')).toMatchObject({ verdict: 'drop' });
    expect(from('172.16.0.5')).toMatchObject({ mark: 1 });
    expect(from('172.16.0.9')).toMatchObject({ mark: 1 });
    expect(from('172.16.0.10')).toMatchObject({ verdict: 'drop' });
    expect(from('203.0.113.7')).toMatchObject({ verdict: 'accept', mark: 2 });
    expect(from('203.0.114.7').verdict).toBe('drop');
    expect(only(ruleset, { ...pkt, src: '203.0.113.7', dport: 81 }).verdict).toBe('drop');
  });

  it('constant prefixes and anonymous sets; fib type local; loopback is always local', () => {
    const ruleset = rs([
      chain(
        'pre',
        [
          r(eq(daddr, c({ prefix: { addr: '127.0.0.0', len: 8 } })), markTo(1), accept),
          r(eq({ kind: 'fib', lookup: 'daddr', result: 'type' }, c('local')), markTo(2), accept),
          r(eq(dport, { kind: 'anonset', elements: [22, { range: [8000, 8999] }] }), markTo(3), accept),
        ],
        filter('prerouting'),
      ),
    ]);
    expect(only(ruleset, { ...pkt, dst: '127.0.0.53' }).mark).toBe(1);
    expect(only(ruleset, { ...pkt, dst: '192.168.0.1' }).mark).toBe(2);
    expect(only(ruleset, { ...pkt, dport: 8080 }).mark).toBe(3);
    expect(only(ruleset, { ...pkt, dport: 22 }).mark).toBe(3);
    expect(only(ruleset, { ...pkt, dport: 9000 }).mark).toBe(0);
  });

  it('a missing map entry in a value (dnat address) ends the rule', () => {
    const addr: SetDef = { name: 'addr', keyType: ['inet_service'], dataType: 'ipv4_addr', elements: [{ key: 80, data: '10.1.0.1' }] };
    const ruleset = rs([chain('pre', [r({ kind: 'dnat', family: 'ip', addr: { kind: 'maplookup', key: dport, map: 'addr' } }), r(markTo(4))], nat('prerouting', -100))], [addr]);
    const miss = only(ruleset, { ...pkt, dport: 81 });
    expect(miss.mark).toBe(4);
    expect(miss.dnat).toBeUndefined();
    expect(only(ruleset)).toMatchObject({ mark: 0, dnat: { addr: '10.1.0.1' }, dst: { addr: '10.1.0.1', port: 80 } });
  });

  it('dynamic sets are empty for a first packet; set updates are reported', () => {
    const clients: SetDef = { name: 'clients', keyType: ['ipv4_addr'], flags: ['timeout'], timeout: 10800, dynamic: true, elements: [{ key: '192.0.2.1' }] };
    const o = only(
      rs(
        [
          chain(
            'pre',
            [r(eq(saddr, { kind: 'setref', name: 'clients' }), drop), r({ kind: 'setupdate', set: 'clients', elem: saddr }, { kind: 'dnat', family: 'ip', addr: c('10.1.0.9') })],
            nat('prerouting', -100),
          ),
        ],
        [clients],
      ),
    );
    expect(o).toMatchObject({ verdict: 'accept', remembered: [{ set: 'clients', elem: '192.0.2.1', timeout: 10800 }], dnat: { addr: '10.1.0.9' } });
  });
});

describe('numgen forks', () => {
  const lb = (n: number, target: (i: number) => string): Stmt => ({
    kind: 'anonvmap',
    key: { kind: 'numgen', mod: n },
    entries: Array.from({ length: n }, (_, i): [Value, Verdict] => [i, { kind: 'goto', target: target(i) }]),
  });

  it('mod N gives N outcomes of 1/N; nested forks multiply', () => {
    const ruleset = rs([
      chain('pre', [r(lb(3, (i) => `e${i}`))], nat('prerouting', -100)),
      chain('e0', [r({ kind: 'dnat', family: 'ip', addr: c('10.1.0.0'), port: c(8080) })]),
      chain('e1', [r({ kind: 'dnat', family: 'ip', addr: c('10.1.0.1'), port: c(8080) })]),
      chain('e2', [r(lb(2, (i) => `f${i}`))]),
      chain('f0', [r({ kind: 'dnat', family: 'ip', addr: c('10.1.0.20'), port: c(8080) })]),
      chain('f1', [r({ kind: 'dnat', family: 'ip', addr: c('10.1.0.21'), port: c(8080) })]),
    ]);
    const out = traceConnection(ruleset, pkt, outside);
    const eps = predictedEndpoints(out);
    expect([...eps.keys()]).toEqual(['10.1.0.0:8080', '10.1.0.1:8080', '10.1.0.20:8080', '10.1.0.21:8080']);
    expect(eps.get('10.1.0.0:8080')).toBeCloseTo(1 / 3);
    expect(eps.get('10.1.0.20:8080')).toBeCloseTo(1 / 6);
    expect(out.reduce((s, o) => s + o.probability, 0)).toBeCloseTo(1);
  });

  it('branches ending the same way are merged and their probabilities summed', () => {
    const ruleset = rs([
      chain('pre', [r(lb(4, (i) => (i < 3 ? 'same' : 'other')))], nat('prerouting', -100)),
      chain('same', [r({ kind: 'dnat', family: 'ip', addr: c('10.1.0.1'), port: c(80) })]),
      chain('other', [r(drop)]),
    ]);
    const out = traceConnection(ruleset, pkt, outside);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ verdict: 'accept', probability: 0.75, paths: 3 });
    expect(out[1]).toMatchObject({ verdict: 'drop', probability: 0.25, paths: 1 });
    expect(verdictProbabilities(out)).toEqual({ accept: 0.75, drop: 0.25, reject: 0 });
  });

  it('a numgen value without an entry in the anonymous map ends the rule', () => {
    const ruleset = rs([chain('pre', [r({ kind: 'anonvmap', key: { kind: 'numgen', mod: 2 }, entries: [[0, { kind: 'drop' }]] }), r(markTo(1))], filter('prerouting'))]);
    const out = traceConnection(ruleset, pkt, outside);
    expect(out.map((o) => [o.verdict, o.probability, o.mark])).toEqual([
      ['drop', 0.5, 0],
      ['accept', 0.5, 1],
    ]);
  });
});

describe('NAT', () => {
  it('dnat reads map data from the packet before rewriting it and ends the chain', () => {
    const key: Expr = { kind: 'concat', parts: [daddr, dport] };
    const addr: SetDef = { name: 'addr', keyType: ['ipv4_addr', 'inet_service'], dataType: 'ipv4_addr', elements: [{ key: { concat: ['10.0.0.1', 80] }, data: '10.1.0.7' }] };
    const port: SetDef = { name: 'port', keyType: ['ipv4_addr', 'inet_service'], dataType: 'inet_service', elements: [{ key: { concat: ['10.0.0.1', 80] }, data: 8080 }] };
    const o = only(
      rs(
        [
          chain(
            'pre',
            [
              r(eq(l4proto, c('tcp')), { kind: 'dnat', family: 'ip', addr: { kind: 'maplookup', key, map: 'addr' }, port: { kind: 'maplookup', key, map: 'port' } }, markTo(1)),
              r(markTo(2)),
            ],
            nat('prerouting', -100),
          ),
          // A second nat chain at the same hook does not run once the connection has a binding.
          chain('pre2', [r({ kind: 'dnat', family: 'ip', addr: c('10.9.9.9') })], nat('prerouting', -90)),
          chain('fwd', [r(eq(daddr, c('10.1.0.7')), eq(dport, c(8080)), markTo(3))], filter('forward')),
        ],
        [addr, port],
      ),
    );
    expect(o).toMatchObject({ verdict: 'accept', dnat: { addr: '10.1.0.7', port: 8080 }, mark: 3, delivery: 'remote' });
  });

  it('nat chains run at the NAT core priority (-100), not at their own', () => {
    // A nat chain declared at prio -50 still runs before a filter chain at -90.
    const o = only(
      rs([
        chain('filt', [r(eq(daddr, c('10.1.0.1')), drop)], filter('prerouting', -90)),
        chain('dn', [r({ kind: 'dnat', family: 'ip', addr: c('10.1.0.1') })], nat('prerouting', -50)),
      ]),
    );
    expect(o.verdict).toBe('drop');
  });

  it('routing after DNAT: a local destination goes to input, not forward/postrouting', () => {
    const ruleset = rs([
      chain('dn', [r({ kind: 'dnat', family: 'ip', addr: c('192.168.0.1'), port: c(22) })], nat('prerouting', -100)),
      chain('in', [r(markTo(1))], filter('input')),
      chain('fwd', [r(drop)], filter('forward')),
      chain('post', [r({ kind: 'masquerade', fullyRandom: true })], nat('postrouting', 100)),
    ]);
    expect(only(ruleset)).toMatchObject({ verdict: 'accept', mark: 1, delivery: 'local', masquerade: false });
  });

  it('locally generated packets: output then postrouting; to a local address they come back through lo without NAT', () => {
    const ruleset = rs([
      chain('out', [r(markTo(1))], filter('output')),
      chain('nout', [r(eq(dport, c(80)), { kind: 'dnat', family: 'ip', addr: c('10.1.0.1') })], nat('output', -100)),
      chain('pre', [r(setmark({ kind: 'or', left: mark, bits: 0x10 }))], filter('prerouting')),
      chain('npre', [r({ kind: 'dnat', family: 'ip', addr: c('10.9.9.9') })], nat('prerouting', -100)),
      chain('post', [r(eq(daddr, c('10.1.0.1')), { kind: 'masquerade', fullyRandom: false })], nat('postrouting', 100)),
    ]);
    const local: TraceEnv = { localAddresses: ['192.168.0.1'], sourceIsLocal: true };
    expect(only(ruleset, { ...pkt, src: '192.168.0.1' }, local)).toMatchObject({ dnat: { addr: '10.1.0.1' }, masquerade: true, mark: 1, delivery: 'remote' });
    const o = only(ruleset, { ...pkt, src: '192.168.0.1', dst: '192.168.0.1', dport: 22 }, local);
    expect(o).toMatchObject({ verdict: 'accept', mark: 0x11, delivery: 'local', masquerade: false });
    expect(o.dnat).toBeUndefined();
    expect(o.steps.some((s) => s.kind === 'nat-skipped' && s.hook === 'prerouting')).toBe(true);
  });

  it('mark operations: set, or, and, xor', () => {
    const ruleset = rs([
      chain(
        'pre',
        [
          r(markTo(0xff00)),
          r(setmark({ kind: 'or', left: mark, bits: 0x4000_0000 })),
          r(setmark({ kind: 'xor', left: mark, bits: 0x0f00 })),
          r(eq({ kind: 'and', left: mark, mask: 0x4000_0000 }, c(0)), drop),
          r(setmark({ kind: 'and', left: mark, mask: 0x4000_ffff })),
        ],
        filter('prerouting'),
      ),
    ]);
    expect(only(ruleset)).toMatchObject({ verdict: 'accept', mark: 0x4000_f000 });
    expect(only(ruleset, { ...pkt, mark: 1 }).mark).toBe(0x4000_f000);
  });

  it('only tables of the packet family take part; IPv6 packets use ip6 tables', () => {
    const ruleset: Ruleset = {
      tables: [
        { family: 'ip', name: 't', sets: [], chains: [chain('pre', [r(drop)], filter('prerouting'))] },
        {
          family: 'ip6',
          name: 't',
          sets: [],
          chains: [chain('pre', [r(eq({ kind: 'payload', protocol: 'ip6', field: 'daddr' }, c('fd00::1')), { kind: 'dnat', family: 'ip6', addr: c('fd00::2'), port: c(8080) })], nat('prerouting', -100))],
        },
      ],
    };
    const out = traceConnection(ruleset, { family: 'ip6', src: '2001:db8::1', dst: 'fd00::1', proto: 'tcp', dport: 80 }, outside);
    expect(out).toHaveLength(1);
    expect(predictedEndpoints(out)).toEqual(new Map([['[fd00::2]:8080', 1]]));
  });
});
