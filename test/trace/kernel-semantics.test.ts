// The interpreter against the real kernel, on small hand-built rulesets that each hinge on one
// netfilter behaviour the interpreter claims to reproduce (NAT core priority, NAT not re-run on
// the loopback pass, jump/goto/return, verdict-map misses, interval concatenations, numgen).
// Locally generated UDP inside a private namespace: output → postrouting → lo → prerouting →
// input. For each probe, the receivers real datagrams reach must be the ones the trace predicts.

import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rulesetToJson } from '../../compiler/nft/json.js';
import { endpointKey, predictedEndpoints, traceConnection, type Packet } from '../../ir/interpret.js';
import { c, chain, daddr, dport, eq, l4proto, mark, ne, r, v } from './builders.js';
import type { BaseChainSpec, Chain, Ruleset, SetDef, Stmt, Value, Verdict } from '../../ir/types.js';
import { cleanupAll, createNamespace, exec, nftLoad } from '../harness/netns.js';
import { describeWithNamespaces } from '../harness/privileges.js';

const PROBE = fileURLToPath(new URL('./scripts/udp-probe.mjs', import.meta.url));

// --- IR builders (ip family, table "trace")
const udp = eq(l4proto, c('udp'));
const dnat = (addr: string, port: number): Stmt => ({ kind: 'dnat', family: 'ip', addr: c(addr), port: c(port) });
const orMark = (bits: number): Stmt => ({ kind: 'setmark', value: { kind: 'or', left: mark, bits } });
const base = (type: 'filter' | 'nat', hook: BaseChainSpec['hook'], prio: number): BaseChainSpec => ({ type, hook, prio, policy: 'accept' });
const table = (chains: Chain[], sets: SetDef[] = []): Ruleset => ({ tables: [{ family: 'ip', name: 'trace', sets, chains }] });

interface Probe {
  dst: string;
  port: number;
  count?: number;
}

let ns = '';

async function reached(ruleset: Ruleset, listen: string[], probes: Probe[]): Promise<(string | null)[][]> {
  await exec(ns, ['nft', 'flush', 'ruleset']);
  await nftLoad(ns, rulesetToJson(ruleset));
  const spec = { listen, send: probes.map((p) => ({ dst: p.dst, port: p.port, count: p.count ?? 1 })) };
  const out = await exec(ns, ['node', PROBE, JSON.stringify(spec)]);
  return (JSON.parse(out.stdout) as { results: (string | null)[][] }).results;
}

function predicted(ruleset: Ruleset, p: Probe): Map<string, number> {
  const packet: Packet = { family: 'ip', src: '127.0.0.1', dst: p.dst, proto: 'udp', dport: p.port };
  return predictedEndpoints(traceConnection(ruleset, packet, { localAddresses: [], sourceIsLocal: true }));
}

/** Every probe: what the kernel delivered is exactly (single path) or within (random) the prediction. */
async function agree(ruleset: Ruleset, listen: string[], probes: Probe[]): Promise<void> {
  const got = await reached(ruleset, listen, probes);
  probes.forEach((p, i) => {
    const want = predicted(ruleset, p);
    const seen = new Set(got[i]);
    const where = `probe ${endpointKey(p.dst, p.port)}`;
    if (want.size === 0) expect(seen, `${where}: predicted no delivery`).toEqual(new Set([null]));
    else {
      expect(seen.has(null), `${where}: a datagram was lost, predicted ${[...want.keys()].join(', ')}`).toBe(false);
      for (const k of seen) expect(want.has(k as string), `${where}: reached ${k}, predicted ${[...want.keys()].join(', ')}`).toBe(true);
    }
  });
}

describeWithNamespaces('interpreter vs kernel', () => {
  beforeAll(async () => {
    ns = await createNamespace('trace');
  });
  afterAll(async () => {
    await cleanupAll();
  });

  it('nat chains run at the NAT core priority: a filter chain at -90 already sees the DNAT of a nat chain at -50', async () => {
    const rs = table([
      chain('f', [r(eq(daddr, c('127.0.0.3')), v({ kind: 'drop' }))], base('filter', 'output', -90)),
      chain('n', [r(eq(daddr, c('127.0.0.2')), udp, dnat('127.0.0.3', 8080))], base('nat', 'output', -50)),
    ]);
    expect(predicted(rs, { dst: '127.0.0.2', port: 9000 }).size).toBe(0);
    await agree(rs, ['127.0.0.3:8080', '127.0.0.2:9000', '127.0.0.4:8080'], [{ dst: '127.0.0.2', port: 9000 }, { dst: '127.0.0.4', port: 8080 }]);
  });

  it('the loopback pass of a local packet runs filter chains but not nat prerouting again', async () => {
    const rs = table([
      chain('out', [r(eq(dport, c(9001)), udp, dnat('127.0.0.3', 8080))], base('nat', 'output', -100)),
      chain('pre', [r(udp, dnat('127.0.0.4', 8080))], base('nat', 'prerouting', -100)),
      chain('in', [r(eq(dport, c(9002)), v({ kind: 'drop' }))], base('filter', 'input', 0)),
    ]);
    await agree(rs, ['127.0.0.3:8080', '127.0.0.4:8080', '127.0.0.2:9000', '127.0.0.2:9002'], [
      { dst: '127.0.0.2', port: 9001 },
      { dst: '127.0.0.2', port: 9000 },
      { dst: '127.0.0.2', port: 9002 },
    ]);
    expect([...predicted(rs, { dst: '127.0.0.2', port: 9000 }).keys()]).toEqual(['127.0.0.2:9000']);
  });

  it('jump, goto, return, implicit return and verdict-map misses', async () => {
    const vm: SetDef = { name: 'vm', keyType: ['inet_service'], dataType: 'verdict', elements: [{ key: 9100, data: { kind: 'goto', target: 'hit' } }] };
    const rs = table(
      [
        chain(
          'f',
          [
            r(v({ kind: 'jump', target: 'a' })),
            // A verdict-map miss ends the rule: the drop after it must not run.
            r({ kind: 'vmap', key: dport, map: 'vm' }, v({ kind: 'drop' })),
            r(orMark(0x8)),
            r(ne(mark, c(0xf)), v({ kind: 'drop' })),
          ],
          base('filter', 'output', 0),
        ),
        chain('a', [r(orMark(0x1), v({ kind: 'goto', target: 'b' })), r(v({ kind: 'drop' }))]),
        chain('b', [r(orMark(0x2), v({ kind: 'jump', target: 'c' })), r(orMark(0x4), v({ kind: 'return' })), r(v({ kind: 'drop' }))]),
        chain('c', [r(eq(dport, c(9003)), v({ kind: 'drop' }))]),
        chain('hit', [r(v({ kind: 'drop' }))]),
      ],
      [vm],
    );
    await agree(rs, ['127.0.0.2:9000', '127.0.0.2:9003', '127.0.0.2:9100'], [
      { dst: '127.0.0.2', port: 9000 },
      { dst: '127.0.0.2', port: 9003 },
      { dst: '127.0.0.2', port: 9100 },
    ]);
    expect(predicted(rs, { dst: '127.0.0.2', port: 9000 }).size).toBe(1);
  });

  it('interval set with a concatenation: prefix and port range', async () => {
    const allow: SetDef = {
      name: 'allow',
      keyType: ['ipv4_addr', 'inet_service'],
      flags: ['interval'],
      elements: [{ key: { concat: [{ prefix: { addr: '127.0.1.0', len: 30 } }, { range: [9000, 9009] }] } }],
    };
    const rs = table([chain('f', [r(ne({ kind: 'concat', parts: [daddr, dport] }, { kind: 'setref', name: 'allow' }), v({ kind: 'drop' }))], base('filter', 'output', 0))], [allow]);
    const probes: Probe[] = [
      { dst: '127.0.1.3', port: 9009 },
      { dst: '127.0.1.0', port: 9000 },
      { dst: '127.0.1.4', port: 9000 },
      { dst: '127.0.1.3', port: 9010 },
    ];
    await agree(rs, ['127.0.1.3:9009', '127.0.1.0:9000', '127.0.1.4:9000', '127.0.1.3:9010'], probes);
    expect(probes.map((p) => predicted(rs, p).size)).toEqual([1, 1, 0, 0]);
  });

  it('numgen random mod 3: every connection lands on a predicted endpoint, each endpoint is used', async () => {
    const rs = table([
      chain(
        'n',
        [r(udp, { kind: 'anonvmap', key: { kind: 'numgen', mod: 3 }, entries: [0, 1, 2].map((i): [Value, Verdict] => [i, { kind: 'goto', target: `e${i}` }]) })],
        base('nat', 'output', -100),
      ),
      ...[0, 1, 2].map((i) => chain(`e${i}`, [r(udp, dnat(`127.0.0.${10 + i}`, 8080))])),
    ]);
    const want = predicted(rs, { dst: '127.0.0.2', port: 9000 });
    expect([...want.values()].map((p) => p.toFixed(4))).toEqual(['0.3333', '0.3333', '0.3333']);
    const [got] = await reached(rs, ['127.0.0.10:8080', '127.0.0.11:8080', '127.0.0.12:8080'], [{ dst: '127.0.0.2', port: 9000, count: 60 }]);
    const counts = new Map<string | null, number>();
    for (const k of got ?? []) counts.set(k, (counts.get(k) ?? 0) + 1);
    expect(counts.has(null)).toBe(false);
    // P(an endpoint gets fewer than 5 of 60 at p=1/3) is about 1e-5.
    for (const k of want.keys()) expect(counts.get(k) ?? 0).toBeGreaterThanOrEqual(5);
  });
});
