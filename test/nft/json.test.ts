import { describe, expect, it } from 'vitest';
import { NftJsonError, rulesetToJson, transactionToJson, validateNftJson } from '../../compiler/nft/json.js';
import type { NftCommand, NftJsonRoot } from '../../compiler/nft/schema.js';
import type { Command } from '../../ir/transaction.js';
import type { Expr, Stmt } from '../../ir/types.js';
import { fullRuleset, ipv4Table } from './fixtures.js';

const T = { family: 'ip', table: 't' } as const;
const tuple: Expr = {
  kind: 'concat',
  parts: [{ kind: 'payload', protocol: 'ip', field: 'daddr' }, { kind: 'meta', key: 'l4proto' }, { kind: 'payload', protocol: 'th', field: 'dport' }],
};
const tupleJson = {
  concat: [{ payload: { protocol: 'ip', field: 'daddr' } }, { meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }],
};

function one(cmd: Command): NftCommand {
  const [first] = transactionToJson({ commands: [cmd] }).nftables;
  return first as NftCommand;
}

function exprOf(...stmts: Stmt[]): unknown[] {
  const cmd = one({ op: 'add', what: 'rule', ...T, chain: 'c', rule: { stmts } });
  if (!('add' in cmd) || !('rule' in cmd.add)) throw new Error('not a rule');
  return cmd.add.rule.expr;
}

function commandsOf(root: NftJsonRoot): NftCommand[] {
  return root.nftables.filter((c): c is NftCommand => !('metainfo' in c));
}

describe('IR → nft JSON: statements and expressions', () => {
  it('maps the verdict map dispatch and the numgen anonymous vmap exactly as nft 1.0.6 expects them', () => {
    expect(exprOf({ kind: 'vmap', key: tuple, map: 'service-ips' })).toEqual([{ vmap: { key: tupleJson, data: '@service-ips' } }]);
    expect(
      exprOf({ kind: 'anonvmap', key: { kind: 'numgen', mod: 2 }, entries: [[0, { kind: 'goto', target: 'a' }], [1, { kind: 'drop' }]] }),
    ).toEqual([
      { vmap: { key: { numgen: { mode: 'random', mod: 2, offset: 0 } }, data: { set: [[0, { goto: { target: 'a' } }], [1, { drop: null }]] } } },
    ]);
  });

  it('maps map-valued DNAT to two map lookups with the same key', () => {
    expect(
      exprOf({
        kind: 'dnat',
        family: 'ip',
        addr: { kind: 'maplookup', key: tuple, map: 'addr0' },
        port: { kind: 'maplookup', key: tuple, map: 'port0' },
      }),
    ).toEqual([{ dnat: { family: 'ip', addr: { map: { key: tupleJson, data: '@addr0' } }, port: { map: { key: tupleJson, data: '@port0' } } } }]);
  });

  it('maps marks, masquerade, reject, fib, counter, set update', () => {
    const mark: Expr = { kind: 'meta', key: 'mark' };
    expect(
      exprOf(
        { kind: 'match', left: { kind: 'and', left: mark, mask: 0x4000 }, op: '!=', right: { kind: 'const', value: 0x4000 } },
        { kind: 'setmark', value: { kind: 'xor', left: mark, bits: 0x4000 } },
        { kind: 'setmark', value: { kind: 'or', left: mark, bits: 1 } },
        { kind: 'masquerade', fullyRandom: true },
      ),
    ).toEqual([
      { match: { op: '!=', left: { '&': [{ meta: { key: 'mark' } }, 16384] }, right: 16384 } },
      { mangle: { key: { meta: { key: 'mark' } }, value: { '^': [{ meta: { key: 'mark' } }, 16384] } } },
      { mangle: { key: { meta: { key: 'mark' } }, value: { '|': [{ meta: { key: 'mark' } }, 1] } } },
      { masquerade: { flags: 'fully-random' } },
    ]);
    expect(exprOf({ kind: 'masquerade', fullyRandom: false })).toEqual([{ masquerade: null }]);
    expect(exprOf({ kind: 'reject', with: 'tcp-reset' })).toEqual([{ reject: { type: 'tcp reset' } }]);
    expect(exprOf({ kind: 'reject', with: 'icmpx-port-unreachable' })).toEqual([{ reject: { type: 'icmp', expr: 'port-unreachable' } }]);
    expect(
      exprOf({ kind: 'match', left: { kind: 'fib', lookup: 'daddr', result: 'type' }, op: '==', right: { kind: 'const', value: 'local' } }, { kind: 'counter' }),
    ).toEqual([{ match: { op: '==', left: { fib: { result: 'type', flags: ['daddr'] } }, right: 'local' } }, { counter: null }]);
    const saddr: Expr = { kind: 'payload', protocol: 'ip', field: 'saddr' };
    expect(exprOf({ kind: 'setupdate', set: 'aff', elem: saddr, timeout: 60 })).toEqual([
      { set: { op: 'update', elem: { elem: { val: { payload: { protocol: 'ip', field: 'saddr' } }, timeout: 60 } }, set: '@aff' } },
    ]);
    expect(exprOf({ kind: 'setupdate', set: 'aff', elem: saddr })).toEqual([
      { set: { op: 'update', elem: { payload: { protocol: 'ip', field: 'saddr' } }, set: '@aff' } },
    ]);
  });

  it('uses per-family ICMP for reject in ip6 tables', () => {
    const cmd = one({ op: 'add', what: 'rule', family: 'ip6', table: 't', chain: 'c', rule: { stmts: [{ kind: 'reject', with: 'icmpx-port-unreachable' }] } });
    expect(cmd).toEqual({ add: { rule: { family: 'ip6', table: 't', chain: 'c', expr: [{ reject: { type: 'icmpv6', expr: 'port-unreachable' } }] } } });
  });

  it('maps prefixes, ranges, anonymous sets and set references', () => {
    const daddr: Expr = { kind: 'payload', protocol: 'ip', field: 'daddr' };
    expect(
      exprOf(
        { kind: 'match', left: daddr, op: '!=', right: { kind: 'const', value: { prefix: { addr: '10.0.0.0', len: 8 } } } },
        { kind: 'match', left: daddr, op: 'in', right: { kind: 'anonset', elements: ['10.0.0.1', { range: ['10.0.0.5', '10.0.0.9'] }] } },
        { kind: 'match', left: daddr, op: '==', right: { kind: 'setref', name: 'nets' } },
      ),
    ).toEqual([
      { match: { op: '!=', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '10.0.0.0', len: 8 } } } },
      { match: { op: 'in', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { set: ['10.0.0.1', { range: ['10.0.0.5', '10.0.0.9'] }] } } },
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '@nets' } },
    ]);
  });
});

describe('IR → nft JSON: objects', () => {
  it('emits base chains with integer prio and regular chains bare', () => {
    expect(one({ op: 'add', what: 'chain', ...T, chain: { name: 'pre', base: { type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } } })).toEqual({
      add: { chain: { ...T, name: 'pre', type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
    });
    expect(one({ op: 'add', what: 'chain', ...T, chain: { name: 'c' } })).toEqual({ add: { chain: { ...T, name: 'c' } } });
  });

  it('emits maps with a type array, flags as arrays, and a dynamic set with timeout but never `dynamic`', () => {
    expect(one({ op: 'add', what: 'set', ...T, set: { name: 'm', keyType: ['ipv4_addr', 'inet_proto', 'inet_service'], dataType: 'verdict' } })).toEqual({
      add: { map: { ...T, name: 'm', type: ['ipv4_addr', 'inet_proto', 'inet_service'], map: 'verdict' } },
    });
    expect(one({ op: 'add', what: 'set', ...T, set: { name: 's', keyType: ['ipv4_addr'], flags: ['interval'] } })).toEqual({
      add: { set: { ...T, name: 's', type: 'ipv4_addr', flags: ['interval'] } },
    });
    expect(one({ op: 'add', what: 'set', ...T, set: { name: 'a', keyType: ['ipv4_addr'], timeout: 60, size: 100, dynamic: true } })).toEqual({
      add: { set: { ...T, name: 'a', type: 'ipv4_addr', flags: ['timeout'], timeout: 60, size: 100 } },
    });
    expect(one({ op: 'delete', what: 'set', ...T, name: 'm', isMap: true })).toEqual({ delete: { map: { ...T, name: 'm' } } });
    expect(one({ op: 'flush', what: 'set', ...T, name: 's', isMap: false })).toEqual({ flush: { set: { ...T, name: 's' } } });
  });

  it('wraps element timeouts and comments, emits verdict and scalar map data, deletes by key only', () => {
    const elements = [
      { key: { concat: ['10.0.0.1', 'tcp', 80] }, data: { kind: 'goto', target: 'x' } as const, comment: 'ns/a:"p"' },
      { key: { concat: ['10.0.0.2', 'udp', 53] }, data: { kind: 'accept' } as const },
    ];
    expect(one({ op: 'add', what: 'element', ...T, set: 'm', elements })).toEqual({
      add: {
        element: {
          ...T,
          name: 'm',
          elem: [
            [{ elem: { val: { concat: ['10.0.0.1', 'tcp', 80] }, comment: "ns/a:'p'" } }, { goto: { target: 'x' } }],
            [{ concat: ['10.0.0.2', 'udp', 53] }, { accept: null }],
          ],
        },
      },
    });
    expect(one({ op: 'delete', what: 'element', ...T, set: 'm', elements })).toEqual({
      delete: { element: { ...T, name: 'm', elem: [{ concat: ['10.0.0.1', 'tcp', 80] }, { concat: ['10.0.0.2', 'udp', 53] }] } },
    });
    expect(one({ op: 'add', what: 'element', ...T, set: 's', elements: [{ key: '10.0.0.1', timeout: 30 }, { key: { prefix: { addr: '10.1.0.0', len: 16 } } }] })).toEqual({
      add: { element: { ...T, name: 's', elem: [{ elem: { val: '10.0.0.1', timeout: 30 } }, { prefix: { addr: '10.1.0.0', len: 16 } }] } },
    });
    expect(one({ op: 'add', what: 'element', ...T, set: 'p', elements: [{ key: '10.0.0.1', data: 8080 }] })).toEqual({
      add: { element: { ...T, name: 'p', elem: [['10.0.0.1', 8080]] } },
    });
  });

  it('makes comments safe and at most 128 bytes, identically for every use', () => {
    const long = 'ns-' + 'x'.repeat(200) + '/"svc"\n';
    const cmd = one({ op: 'add', what: 'rule', ...T, chain: 'c', rule: { stmts: [{ kind: 'counter' }], comment: long } });
    if (!('add' in cmd) || !('rule' in cmd.add)) throw new Error('not a rule');
    expect(cmd.add.rule.comment).toHaveLength(128);
    expect(cmd.add.rule.comment).toMatch(/^ns-x+$/);
    const cmd2 = one({ op: 'add', what: 'rule', ...T, chain: 'c', rule: { stmts: [{ kind: 'counter' }], comment: 'a/"b"\tc' } });
    if (!('add' in cmd2) || !('rule' in cmd2.add)) throw new Error('not a rule');
    expect(cmd2.add.rule.comment).toBe("a/'b'?c");
  });
});

describe('IR → nft JSON: full sync', () => {
  it('is add/delete/add table, sets, chains, elements, rules; no elements for dynamic sets', () => {
    const cmds = commandsOf(rulesetToJson({ tables: [ipv4Table()] }));
    expect(cmds.slice(0, 3)).toEqual([
      { add: { table: { family: 'ip', name: 'nftproxy' } } },
      { delete: { table: { family: 'ip', name: 'nftproxy' } } },
      { add: { table: { family: 'ip', name: 'nftproxy' } } },
    ]);
    const kinds = cmds.slice(3).map((c) => {
      const [verb, obj] = Object.entries(c)[0] as [string, object];
      return `${verb} ${Object.keys(obj)[0]}`;
    });
    const firstChain = kinds.indexOf('add chain');
    const firstElement = kinds.indexOf('add element');
    const firstRule = kinds.indexOf('add rule');
    expect(kinds.slice(0, firstChain).every((k) => k === 'add set' || k === 'add map')).toBe(true);
    expect(firstChain).toBeLessThan(firstElement);
    expect(firstElement).toBeLessThan(firstRule);
    const elementTargets = cmds.flatMap((c) => ('add' in c && 'element' in c.add ? [c.add.element.name] : []));
    expect(elementTargets).not.toContain('affinity');
    const json = JSON.stringify(cmds);
    expect(json).not.toContain('dynamic');
    expect(json).not.toMatch(/"\d+\.\d+\.\d+\.\d+\/\d+"/);
  });

  it('is deterministic', () => {
    expect(JSON.stringify(rulesetToJson(fullRuleset()))).toBe(JSON.stringify(rulesetToJson(fullRuleset())));
  });
});

describe('IR → nft JSON: errors name the command', () => {
  const good: Command = { op: 'add', what: 'table', ...T };

  it('reports the index of a command with an empty jump target', () => {
    const bad: Command = { op: 'add', what: 'rule', ...T, chain: 'c', rule: { stmts: [{ kind: 'verdict', verdict: { kind: 'jump', target: '' } }] } };
    let err: unknown;
    try {
      transactionToJson({ commands: [good, good, bad] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NftJsonError);
    expect((err as NftJsonError).commandIndex).toBe(2);
    expect((err as NftJsonError).message).toMatch(/^command 2 \(add rule ip t c\): add\.rule\.expr\[0\]\.jump\.target: /);
  });

  it('rejects CIDR strings and wrong-family addresses instead of sending them to DNS', () => {
    const daddr: Expr = { kind: 'payload', protocol: 'ip', field: 'daddr' };
    const match = (value: string): Command => ({ op: 'add', what: 'rule', ...T, chain: 'c', rule: { stmts: [{ kind: 'match', left: daddr, op: '==', right: { kind: 'const', value } }] } });
    expect(() => transactionToJson({ commands: [match('10.0.0.0/8')] })).toThrow(/command 0/);
    expect(() => transactionToJson({ commands: [match('fd00::1')] })).toThrow(/IPv4/);
    expect(() => transactionToJson({ commands: [match('localhost')] })).toThrow(/IPv4/);
    const set: Command = { op: 'add', what: 'set', ...T, set: { name: 's', keyType: ['ipv4_addr', 'inet_service'] } };
    const elems = (key: string): Command => ({ op: 'add', what: 'element', ...T, set: 's', elements: [{ key: { concat: [key, 80] } }] });
    expect(() => transactionToJson({ commands: [set, elems('fd00::1')] })).toThrow(/command 1 .*IPv4/);
    expect(() => transactionToJson({ commands: [set, elems('10.0.0.1')] })).not.toThrow();
    const dnat: Command = { op: 'add', what: 'rule', ...T, chain: 'c', rule: { stmts: [{ kind: 'dnat', family: 'ip', addr: { kind: 'const', value: 'fd00::1' } }] } };
    expect(() => transactionToJson({ commands: [dnat] })).toThrow(/literal ip address/);
  });

  it('rejects names that are not identifiers', () => {
    expect(() => transactionToJson({ commands: [{ op: 'add', what: 'table', family: 'ip', table: 'my table' }] })).toThrow(NftJsonError);
    expect(() => transactionToJson({ commands: [{ op: 'add', what: 'chain', ...T, chain: { name: 'x'.repeat(256) } }] })).toThrow(/command 0/);
  });

  it('validateNftJson names the offending item of foreign JSON', () => {
    expect(() => validateNftJson({ nftables: [{ add: { table: { family: 'ip', name: 't' } } }, { add: { chain: { family: 'ip', table: 't', name: 'c', prio: '0', type: 'nat', hook: 'input' } } }] })).toThrow(/command 1/);
    expect(validateNftJson(JSON.parse(JSON.stringify(rulesetToJson(fullRuleset()))))).toBeTruthy();
  });
});
