// The fake applier's kernel rules, checked against the real thing: the same sequences of IR
// transactions go to FakeApplier and, as nft JSON, to nft 1.0.6 in a private network namespace
// (unprivileged user namespace when not root). Every transaction must succeed or fail alike, with
// the same errno, and both must end holding the same objects. If nft or the kernel change, this
// fails, not the tests that trust the fake.

import { expect, it } from 'vitest';
import { transactionToJson } from '../../compiler/nft/json.js';
import type { Command, Transaction } from '../../ir/transaction.js';
import type { Chain, Rule, SetDef } from '../../ir/types.js';
import { FakeApplier, FakeKernelError, type Errno } from '../../runtime/apply/fake.js';
import { describeInNetns } from '../harness/privileges.js';
import { inNewNetns } from '../iptables/unshare.js';

const T = { family: 'ip' as const, table: 'fk' };
const addTable: Command = { op: 'add', what: 'table', ...T };
const set = (name: string, decl: Partial<SetDef> = {}): Command => ({ op: 'add', what: 'set', ...T, set: { name, keyType: ['ipv4_addr'], ...decl } });
const chain = (name: string): Command => ({ op: 'add', what: 'chain', ...T, chain: { name } as Omit<Chain, 'rules'> });
const rule = (ch: string, r: Rule): Command => ({ op: 'add', what: 'rule', ...T, chain: ch, rule: r });
const elems = (op: 'add' | 'delete', s: string, elements: { key: string; data?: { kind: 'goto' | 'jump'; target: string } | { kind: 'drop' } }[]): Command => ({ op, what: 'element', ...T, set: s, elements });
const del = (what: 'chain' | 'set', name: string, isMap = false): Command => (what === 'chain' ? { op: 'delete', what, ...T, name } : { op: 'delete', what, ...T, name, isMap });
const flush = (what: 'chain' | 'set', name: string, isMap = false): Command => (what === 'chain' ? { op: 'flush', what, ...T, name } : { op: 'flush', what, ...T, name, isMap });
const daddrIn = (s: string): Rule['stmts'][number] => ({ kind: 'match', left: { kind: 'payload', protocol: 'ip', field: 'daddr' }, op: '==', right: { kind: 'setref', name: s } });

/** The starting point of most sequences: a set, a verdict map and chains that reference them. */
const setup: Command[] = [
  addTable,
  set('s'),
  set('m', { dataType: 'verdict' }),
  chain('c'),
  chain('d'),
  chain('x'),
  chain('lonely'),
  elems('add', 's', [{ key: '10.0.0.1' }]),
  elems('add', 'm', [{ key: '10.0.0.2', data: { kind: 'goto', target: 'x' } }]),
  rule('c', { stmts: [daddrIn('s'), { kind: 'verdict', verdict: { kind: 'jump', target: 'd' } }] }),
  rule('c', { stmts: [{ kind: 'vmap', key: { kind: 'payload', protocol: 'ip', field: 'daddr' }, map: 'm' }] }),
  rule('lonely', { stmts: [{ kind: 'counter' }] }),
];

type Outcome = 'ok' | Errno | 'OTHER';

/** Named sequences; each transaction's expected outcome is what nft 1.0.6 + this kernel do. */
const sequences: { name: string; txs: { cmds: Command[]; expect: Outcome }[] }[] = [
  {
    name: 'ENOENT: deleting what is not there, adding into what is not there',
    txs: [
      { cmds: setup, expect: 'ok' },
      { cmds: [elems('delete', 's', [{ key: '10.9.9.9' }])], expect: 'ENOENT' },
      { cmds: [del('set', 'nope')], expect: 'ENOENT' },
      { cmds: [del('chain', 'nope')], expect: 'ENOENT' },
      { cmds: [{ op: 'delete', what: 'table', family: 'ip', table: 'nope' }], expect: 'ENOENT' },
      { cmds: [{ op: 'add', what: 'chain', family: 'ip', table: 'nope', chain: { name: 'c' } }], expect: 'ENOENT' },
      { cmds: [elems('add', 'nope', [{ key: '10.0.0.1' }])], expect: 'ENOENT' },
      { cmds: [rule('nope', { stmts: [{ kind: 'counter' }] })], expect: 'ENOENT' },
      { cmds: [rule('c', { stmts: [daddrIn('nope')] })], expect: 'ENOENT' },
      { cmds: [rule('c', { stmts: [{ kind: 'verdict', verdict: { kind: 'jump', target: 'nope' } }] })], expect: 'ENOENT' },
      { cmds: [elems('add', 'm', [{ key: '10.0.0.3', data: { kind: 'goto', target: 'nope' } }])], expect: 'ENOENT' },
      { cmds: [flush('chain', 'nope')], expect: 'ENOENT' },
    ],
  },
  {
    name: 'EEXIST: a map key with other data; re-adding the same is no error',
    txs: [
      { cmds: setup, expect: 'ok' },
      { cmds: [elems('add', 'm', [{ key: '10.0.0.2', data: { kind: 'drop' } }])], expect: 'EEXIST' },
      { cmds: [elems('add', 'm', [{ key: '10.0.0.2', data: { kind: 'goto', target: 'x' } }])], expect: 'ok' },
      { cmds: [elems('add', 's', [{ key: '10.0.0.1' }])], expect: 'ok' },
      { cmds: [chain('c'), addTable], expect: 'ok' },
    ],
  },
  {
    name: 'EBUSY: referenced sets and chains; unreferenced ones go with their rules',
    txs: [
      { cmds: setup, expect: 'ok' },
      { cmds: [del('set', 's')], expect: 'EBUSY' },
      { cmds: [del('set', 'm', true)], expect: 'EBUSY' },
      { cmds: [del('chain', 'd')], expect: 'EBUSY' },
      { cmds: [del('chain', 'x')], expect: 'EBUSY' },
      { cmds: [del('chain', 'lonely')], expect: 'ok' },
      { cmds: [flush('chain', 'c'), del('set', 's'), del('chain', 'd')], expect: 'ok' },
      { cmds: [elems('delete', 'm', [{ key: '10.0.0.2' }]), del('chain', 'x')], expect: 'ok' },
    ],
  },
  {
    name: 'all or nothing: a failing command undoes the ones before it',
    txs: [
      { cmds: setup, expect: 'ok' },
      { cmds: [elems('add', 's', [{ key: '10.0.0.99' }]), chain('new'), elems('delete', 's', [{ key: '10.9.9.9' }])], expect: 'ENOENT' },
      // Nothing of it stayed: deleting the element or the chain fails.
      { cmds: [elems('delete', 's', [{ key: '10.0.0.99' }])], expect: 'ENOENT' },
      { cmds: [del('chain', 'new')], expect: 'ENOENT' },
      { cmds: [flush('set', 's'), elems('add', 's', [{ key: '10.0.0.7' }])], expect: 'ok' },
      { cmds: [elems('delete', 's', [{ key: '10.0.0.1' }])], expect: 'ENOENT' },
    ],
  },
];

function errnoOf(text: string): Outcome {
  if (/No such file or directory/.test(text)) return 'ENOENT';
  if (/File exists/.test(text)) return 'EEXIST';
  if (/Device or resource busy/.test(text)) return 'EBUSY';
  return 'OTHER';
}

async function onFake(txs: Transaction[]): Promise<{ outcomes: Outcome[]; fake: FakeApplier }> {
  const fake = new FakeApplier();
  const outcomes: Outcome[] = [];
  for (const tx of txs) {
    outcomes.push(await fake.apply(tx).then(() => 'ok' as const, (e: unknown) => (e instanceof FakeKernelError ? e.errno : 'OTHER')));
  }
  return { outcomes, fake };
}

function onKernel(txs: Transaction[]): { outcomes: Outcome[]; listing: { nftables: Record<string, Record<string, unknown>>[] } } {
  const files: Record<string, string> = {};
  txs.forEach((tx, i) => (files[`tx${i}.json`] = JSON.stringify(transactionToJson(tx))));
  const script = [
    ...txs.map((_, i) => `if nft -j -f "$D/tx${i}.json" 2>"$D/err${i}"; then echo "${i} ok"; else echo "${i} fail $(tr '\\n' ' ' < "$D/err${i}")"; fi`),
    'echo "---"',
    'nft -j list ruleset',
  ].join('\n');
  const r = inNewNetns(script, files);
  expect(r.status, r.stderr).toBe(0);
  const [head = '', listing = '{"nftables":[]}'] = r.stdout.split('---\n');
  const outcomes = head.trim().split('\n').map((l): Outcome => (/^\d+ ok$/.test(l) ? 'ok' : errnoOf(l)));
  return { outcomes, listing: JSON.parse(listing) as { nftables: Record<string, Record<string, unknown>>[] } };
}

/** Objects as "kind name [count]" (rules counted per chain, elements per set), comparable across both. */
function kernelObjects(listing: { nftables: Record<string, Record<string, unknown>>[] }): string[] {
  const out = new Map<string, number>();
  for (const item of listing.nftables) {
    const kind = Object.keys(item)[0] as string;
    const body = item[kind] as Record<string, unknown>;
    if (kind === 'chain') out.set(`chain ${String(body.name)}`, out.get(`chain ${String(body.name)}`) ?? 0);
    if (kind === 'rule') out.set(`chain ${String(body.chain)}`, (out.get(`chain ${String(body.chain)}`) ?? 0) + 1);
    if (kind === 'set' || kind === 'map') out.set(`set ${String(body.name)}`, Array.isArray(body.elem) ? body.elem.length : 0);
    if (kind === 'table') out.set(`table ${String(body.name)}`, 0);
  }
  return [...out].map(([k, n]) => `${k} ${n}`).sort();
}

function fakeObjects(fake: FakeApplier): string[] {
  const out: string[] = [];
  for (const t of fake.ruleset().tables) {
    out.push(`table ${t.name} 0`);
    for (const c of t.chains) out.push(`chain ${c.name} ${c.rules.length}`);
    for (const s of t.sets) out.push(`set ${s.name} ${s.elements.length}`);
  }
  return out.sort();
}

describeInNetns('FakeApplier vs nft 1.0.6 and the kernel, on the same transactions', () => {
  it.each(sequences)('$name', async ({ txs }) => {
    const irs = txs.map((t) => ({ commands: t.cmds }));
    const kernel = onKernel(irs);
    const { outcomes, fake } = await onFake(irs);
    expect(kernel.outcomes, 'kernel outcomes match the documented expectation').toEqual(txs.map((t) => t.expect));
    expect(outcomes, 'fake outcomes match the kernel').toEqual(kernel.outcomes);
    expect(fakeObjects(fake)).toEqual(kernelObjects(kernel.listing));
  });
});
