// KERNEL: loads what the emitters produce into a real kernel, each time in a fresh network
// namespace (`unshare -n`), and checks that the JSON and the text forms give the same ruleset.

import { describe, expect, it } from 'vitest';
import { rulesetToJson, transactionToJson } from '../../compiler/nft/json.js';
import { rulesetToText, transactionToText } from '../../compiler/nft/text.js';
import { fullTransaction, type Transaction } from '../../ir/transaction.js';
import type { Ruleset, Table } from '../../ir/types.js';
import { KUBE_STYLE_CHAIN, fullRuleset, ipv4Table } from './fixtures.js';
import { canRunKernelTests, normaliseListing, runInFreshNetns, type NsResult } from './netns.js';

const kernel = canRunKernelTests();

function ok(r: NsResult): string {
  expect(r.stderr, `nft failed (exit ${r.code}):\n${r.stderr}`).toBe('');
  expect(r.code).toBe(0);
  return normaliseListing(r.stdout);
}

/** Loads each file in order (`-j` for .json) in one fresh namespace and lists the ruleset. */
function loadAndList(files: [string, string][]): string {
  const script = [...files.map(([name]) => `nft ${name.endsWith('.json') ? '-j ' : ''}-f ${name}`), 'nft list ruleset'].join('\n');
  return ok(runInFreshNetns(script, Object.fromEntries(files)));
}

const json = (root: unknown): string => JSON.stringify(root);

// Before: the fixture plus two objects the delta removes. After: what the delta must leave.
function beforeTable(): Table {
  const t = ipv4Table();
  t.sets.push(
    { name: 'legacy', keyType: ['ipv4_addr'], dataType: 'mark', elements: [{ key: '10.9.9.9', data: 16 }] },
    { name: 'legacy-set', keyType: ['inet_service'], elements: [{ key: 80 }] },
  );
  return t;
}

function afterTable(): Table {
  const t = ipv4Table();
  const dispatch = t.sets.find((s) => s.name === 'service-ips')!;
  dispatch.elements = [
    { key: { concat: ['10.96.0.10', 'tcp', 80] }, data: { kind: 'goto', target: 'ep-a' } },
    { key: { concat: ['10.96.0.11', 'udp', 53] }, data: { kind: 'goto', target: 'ep-c' } },
    { key: { concat: ['10.96.0.13', 'sctp', 9000] }, data: { kind: 'jump', target: 'ep-b' } },
    { key: { concat: ['10.96.0.14', 'tcp', 8443] }, data: { kind: 'goto', target: 'svc-new' }, comment: 'default/new:https' },
    { key: { concat: ['10.96.0.15', 'tcp', 80] }, data: { kind: 'goto', target: KUBE_STYLE_CHAIN } },
  ];
  t.sets.find((s) => s.name === 'blocked-nets')!.elements = [{ key: { prefix: { addr: '10.0.0.0', len: 8 } } }];
  t.chains = t.chains.filter((c) => c.name !== 'svc-web');
  t.chains.find((c) => c.name === 'ep-b')!.rules = [
    {
      stmts: [
        { kind: 'match', left: { kind: 'meta', key: 'l4proto' }, op: '==', right: { kind: 'const', value: 'tcp' } },
        { kind: 'dnat', family: 'ip', addr: { kind: 'const', value: '10.244.2.9' }, port: { kind: 'const', value: 9090 } },
      ],
    },
  ];
  t.chains.push({ name: 'svc-new', rules: [{ stmts: [{ kind: 'verdict', verdict: { kind: 'goto', target: 'ep-c' } }], comment: 'default/new:https' }] });
  return t;
}

function delta(): Transaction {
  const at = { family: 'ip', table: 'nftproxy' } as const;
  const after = afterTable();
  const key = (addr: string, proto: string, port: number) => ({ key: { concat: [addr, proto, port] } });
  return {
    commands: [
      { op: 'add', what: 'chain', ...at, chain: { name: 'svc-new' } },
      { op: 'add', what: 'rule', ...at, chain: 'svc-new', rule: after.chains.find((c) => c.name === 'svc-new')!.rules[0]! },
      // Changing a map value is delete + add of the key in the same batch (a plain add is EEXIST).
      { op: 'delete', what: 'element', ...at, set: 'service-ips', elements: [key('10.96.0.10', 'tcp', 80), key('10.96.0.11', 'udp', 53), key('10.96.0.12', 'tcp', 443)] },
      { op: 'add', what: 'element', ...at, set: 'service-ips', elements: after.sets.find((s) => s.name === 'service-ips')!.elements.filter((e) => JSON.stringify(e.key).match(/10\.96\.0\.1[014]/)) },
      { op: 'flush', what: 'chain', ...at, name: 'svc-web' },
      { op: 'delete', what: 'chain', ...at, name: 'svc-web' },
      { op: 'flush', what: 'chain', ...at, name: 'ep-b' },
      { op: 'add', what: 'rule', ...at, chain: 'ep-b', rule: after.chains.find((c) => c.name === 'ep-b')!.rules[0]! },
      { op: 'flush', what: 'set', ...at, name: 'blocked-nets', isMap: false },
      { op: 'add', what: 'element', ...at, set: 'blocked-nets', elements: [{ key: { prefix: { addr: '10.0.0.0', len: 8 } } }] },
      { op: 'delete', what: 'set', ...at, name: 'legacy', isMap: true },
      { op: 'delete', what: 'set', ...at, name: 'legacy-set', isMap: false },
    ],
  };
}

describe.skipIf(!kernel)('KERNEL: nft 1.0.6 loads what we emit (fresh netns per load)', () => {
  const ruleset: Ruleset = fullRuleset();
  const jsonText = json(rulesetToJson(ruleset));
  let fromJson = '';

  it('loads the full-sync JSON twice in a row (delete + re-add of our tables)', () => {
    const once = loadAndList([['full.json', jsonText]]);
    fromJson = loadAndList([['full.json', jsonText], ['again.json', jsonText]]);
    expect(fromJson).toBe(once);
    // The listing is the real thing, not an empty ruleset that would compare equal to another.
    for (const s of [
      'table ip nftproxy {',
      'table ip6 nftproxy6 {',
      'ip daddr . meta l4proto . th dport vmap @service-ips',
      'numgen random mod 2 vmap { 0 : goto ep-a, 1 : goto ep-b }',
      'dnat to ip daddr . meta l4proto . tcp dport map @addr0:ip daddr . meta l4proto . tcp dport map @port0',
      'dnat to [fd00:244::7]:8080',
      'masquerade fully-random',
      'reject with tcp reset',
      'flags dynamic,timeout',
      '10.96.0.10 . tcp . 80 comment "default/web:http" : goto svc-web',
      "comment \"kube-system/'dns':?dns\"",
      'type nat hook prerouting priority dstnat; policy accept;',
      '10.0.0.0/8',
      `10.96.0.15 . tcp . 80 : goto ${KUBE_STYLE_CHAIN}`,
    ]) {
      expect(fromJson).toContain(s);
    }
  });

  it('loads the text form into a fresh namespace with the same result as the JSON', () => {
    expect(fromJson).not.toBe('');
    expect(loadAndList([['full.nft', rulesetToText(ruleset)]])).toBe(fromJson);
  });

  it('loads the full-sync transaction as text twice with the same result', () => {
    const tx = transactionToText(fullTransaction(ruleset));
    expect(loadAndList([['a.nft', tx], ['b.nft', tx]])).toBe(fromJson);
  });

  it('applies a delta transaction (JSON and text alike) to exactly the target ruleset', () => {
    const before: Ruleset = { tables: [beforeTable()] };
    const after: Ruleset = { tables: [afterTable()] };
    const expected = loadAndList([['after.json', json(rulesetToJson(after))]]);
    const viaJson = loadAndList([
      ['before.json', json(rulesetToJson(before))],
      ['delta.json', json(transactionToJson(delta()))],
    ]);
    const viaText = loadAndList([
      ['before.nft', rulesetToText(before)],
      ['delta.nft', transactionToText(delta())],
    ]);
    expect(viaJson).toBe(expected);
    expect(viaText).toBe(expected);
    expect(expected).toContain('10.96.0.14 . tcp . 8443 comment "default/new:https" : goto svc-new');
    expect(expected).not.toContain('svc-web');
    expect(expected).not.toContain('legacy');
  });

  it('the kernel does reject what the schema keeps out (icmpx in an ip table, a jump to nowhere)', () => {
    const base = [
      { add: { table: { family: 'ip', name: 't' } } },
      { add: { chain: { family: 'ip', table: 't', name: 'c' } } },
    ];
    const withStmt = (stmt: unknown) => json({ nftables: [...base, { add: { rule: { family: 'ip', table: 't', chain: 'c', expr: [stmt] } } }] });
    const icmpx = runInFreshNetns('nft -j -f x.json', { 'x.json': withStmt({ reject: { type: 'icmpx', expr: 'port-unreachable' } }) });
    expect(icmpx.code).not.toBe(0);
    expect(icmpx.stderr).toMatch(/abstracted ICMP unreachable not supported/);
    const nowhere = runInFreshNetns('nft -j -f x.json', { 'x.json': withStmt({ jump: { target: 'missing' } }) });
    expect(nowhere.code).not.toBe(0);
  });
});
