// The sync engine, the diff's command ordering and the canary, on the in-memory FakeApplier
// (runtime/apply/fake.ts): no root, no kernel. The fake enforces the kernel rules these rely on
// (ENOENT, EEXIST, EBUSY, all or nothing), checked against the kernel in
// test/apply/fake-vs-kernel.test.ts; the same scenarios run against the kernel in engine.test.ts
// and property.test.ts when root.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffRulesets } from '../../ir/diff.js';
import { fullTransaction, rewriteTransaction, type Transaction } from '../../ir/transaction.js';
import type { Ruleset } from '../../ir/types.js';
import { FakeApplier, FakeKernelError } from '../../runtime/apply/fake.js';
import { DEFAULT_CANARY_SET } from '../../runtime/sync/canary.js';
import { SyncEngine, SyncError } from '../../runtime/sync/engine.js';
import { endpointIp, layout, mapChains, mapSet, TABLE } from '../diff/fixtures.js';
import { build, saddr, shape, T } from './shapes.js';

/** A ruleset made comparable: sets (elements sorted) and chains sorted by name, canary dropped. */
function normal(rs: Ruleset, drop: string[] = [DEFAULT_CANARY_SET]): unknown {
  return rs.tables
    .map((t) => ({
      table: `${t.family} ${t.name}`,
      sets: t.sets
        .filter((s) => !drop.includes(s.name))
        .map((s) => ({ ...s, elements: s.elements.map((e) => JSON.stringify(e)).sort() }))
        .sort((a, b) => (a.name < b.name ? -1 : 1)),
      chains: t.chains.filter((c) => !drop.includes(c.name)).sort((a, b) => (a.name < b.name ? -1 : 1)),
    }))
    .sort((a, b) => (a.table < b.table ? -1 : 1));
}

/** What a fresh full load of `rs` leaves. */
async function fresh(rs: Ruleset): Promise<FakeApplier> {
  const f = new FakeApplier();
  await f.apply(fullTransaction(rs));
  return f;
}

describe('diff ordering on the fake kernel: full(first) + diffs == full(last)', () => {
  it('holds for random state sequences (no ENOENT/EBUSY/EEXIST on any step)', async () => {
    let commands = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(shape, { minLength: 2, maxLength: 6 }), async (shapes) => {
        const states = shapes.map(build);
        const f = await fresh(states[0]!);
        for (let i = 1; i < states.length; i++) {
          const tx = diffRulesets(states[i - 1]!, states[i]!);
          commands += tx.commands.length;
          await f.apply(tx);
        }
        expect(normal(f.ruleset())).toEqual(normal((await fresh(states.at(-1)!)).ruleset()));
      }),
      { numRuns: 300 },
    );
    expect(commands).toBeGreaterThan(0);
  });

  it('rewrites keep packet-path sets and end where a full load would', async () => {
    const withAffinity = (rs: Ruleset): Ruleset => ({
      tables: rs.tables.map((t) => ({
        ...t,
        sets: [...t.sets, { name: 'aff', keyType: ['ipv4_addr'], flags: ['timeout'], timeout: 600, elements: [], dynamic: true }],
        chains: [...t.chains, { name: 'affc', rules: [{ stmts: [{ kind: 'setupdate', set: 'aff', elem: saddr }] }] }],
      })),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(shape, { minLength: 2, maxLength: 4 }), async (shapes) => {
        const states = shapes.map(build).map(withAffinity);
        const f = await fresh(states[0]!);
        await f.apply({ commands: [{ op: 'add', what: 'element', family: 'ip', table: T, set: 'aff', elements: [{ key: '10.9.9.9', timeout: 600 }] }] });
        for (let i = 1; i < states.length; i++) await f.apply(rewriteTransaction(states[i - 1]!, states[i]!));
        expect(normal(f.ruleset(), ['aff'])).toEqual(normal((await fresh(states.at(-1)!)).ruleset(), ['aff']));
        expect(await f.listSetElements('ip', T, 'aff', false)).toEqual(['10.9.9.9']);
      }),
      { numRuns: 150 },
    );
  });

  it('the fake is not vacuous: a diff in the wrong order fails like the kernel', async () => {
    const a = build({ chains: ['c0', 'c1'], svc: [[1, 1]], addrs: [], interval: false, ports: [], extra: false, prio: -100, rules: [[], [], [], []] });
    const f = await fresh(a);
    // Deleting the chain a verdict-map element still points at: EBUSY, and nothing changes.
    const before = f.ruleset();
    const err = await f.apply({ commands: [{ op: 'delete', what: 'chain', family: 'ip', table: T, name: 'c1' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FakeKernelError);
    expect((err as FakeKernelError).errno).toBe('EBUSY');
    expect(f.ruleset()).toEqual(before);
  });
});

const v0 = layout(30, 3);
const step = (rs: Ruleset, i: number): Ruleset =>
  mapSet(rs, 'backend-addr', (s) => ({ ...s, elements: s.elements.map((e, j) => (j === i ? { ...e, data: endpointIp(i, 0, 1 + (i % 5)) } : e)) }));
/** A reference to a chain that does not exist: the kernel (and the fake) reject the whole batch. */
const badRule = (tx: Transaction): Transaction => ({
  commands: [...tx.commands, { op: 'add', what: 'rule', family: 'ip', table: TABLE, chain: 'services', rule: { stmts: [{ kind: 'verdict', verdict: { kind: 'jump', target: 'no-such-chain' } }] } }],
});

/** Wraps a fake so that the next transaction gets one bad command appended. */
function injecting(f: FakeApplier): { applier: FakeApplier; injectOnce: () => void } {
  let armed = false;
  const apply = f.apply.bind(f);
  f.apply = (input) => {
    if (armed && !('nftables' in input)) {
      armed = false;
      return apply(badRule(input));
    }
    return apply(input);
  };
  return { applier: f, injectOnce: () => (armed = true) };
}

describe('SyncEngine on the fake applier', () => {
  it('full first, then partial deltas with the canary guard, and no kernel call when nothing changed', async () => {
    const f = new FakeApplier();
    const engine = new SyncEngine({ applier: f, driftProbeIntervalMs: 3_600_000 });
    expect(await engine.sync(v0)).toMatchObject({ kind: 'full', reason: 'start' });
    const v1 = step(v0, 5);
    expect((await engine.sync(v1)).kind).toBe('partial');
    expect(f.committed[1]!.commands.map((c) => `${c.op} ${c.what} ${'set' in c ? c.set : ''}`)).toEqual([
      `delete element ${DEFAULT_CANARY_SET}`,
      `add element ${DEFAULT_CANARY_SET}`,
      'delete element backend-addr',
      'add element backend-addr',
    ]);
    expect(await engine.sync(v1)).toMatchObject({ kind: 'noop', commands: 0 });
    expect(f.committed).toHaveLength(2);
    expect(normal(f.ruleset())).toEqual(normal(v1));
  });

  it('a failed transaction leaves the state unchanged; the next sync is full', async () => {
    const { applier: f, injectOnce } = injecting(new FakeApplier());
    const engine = new SyncEngine({ applier: f, retryFullOnFailure: false });
    await engine.sync(v0);
    const before = f.ruleset();
    injectOnce();
    const err = await engine.sync(step(v0, 7)).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect((err as SyncError).message).toMatch(/No such file or directory/);
    expect(f.ruleset()).toEqual(before);
    const r = await engine.sync(step(v0, 7));
    expect(r.kind).toBe('full');
    expect(r.reason).toMatch(/partial sync failed/);
    expect(normal(f.ruleset())).toEqual(normal(step(v0, 7)));
  });

  it('an invalid desired state fails atomically, and a valid one afterwards is loaded in full', async () => {
    const f = new FakeApplier();
    const engine = new SyncEngine({ applier: f });
    await engine.sync(v0);
    const before = f.ruleset();
    const broken = mapChains(step(v0, 2), (chains) => chains.map((c) => (c.name === 'lb' ? { ...c, rules: [{ stmts: [{ kind: 'match', left: { kind: 'payload', protocol: 'ip', field: 'saddr' }, op: '==', right: { kind: 'setref', name: 'missing-set' } }] }] } : c)));
    await expect(engine.sync(broken)).rejects.toThrow(SyncError);
    expect(f.ruleset()).toEqual(before);
    expect((await engine.sync(step(v0, 3))).kind).toBe('full');
    expect(normal(f.ruleset())).toEqual(normal(step(v0, 3)));
  });

  it('recovers within the same call when a partial transaction fails (retryFullOnFailure)', async () => {
    const { applier: f, injectOnce } = injecting(new FakeApplier());
    const engine = new SyncEngine({ applier: f });
    await engine.sync(v0);
    injectOnce();
    const r = await engine.sync(step(v0, 9));
    expect(r.kind).toBe('full');
    expect(r.recoveredFrom).toMatch(/No such file or directory/);
    expect(normal(f.ruleset())).toEqual(normal(step(v0, 9)));
  });

  it('repairs a deleted table at the next sync that has changes (the canary guard fails with ENOENT)', async () => {
    const f = new FakeApplier();
    const engine = new SyncEngine({ applier: f, driftProbeIntervalMs: 3_600_000 });
    await engine.sync(v0);
    f.deleteTable('ip', TABLE);
    const r = await engine.sync(step(v0, 11));
    expect(r.kind).toBe('full');
    expect(r.recoveredFrom).toMatch(/No such file or directory/);
    expect(normal(f.ruleset())).toEqual(normal(step(v0, 11)));
  });

  it('repairs a flushed table even when nothing changed (canary probe: EBUSY while the rule holds the set)', async () => {
    const f = new FakeApplier();
    const engine = new SyncEngine({ applier: f, driftProbeIntervalMs: 0 });
    await engine.sync(v0);
    expect((await engine.sync(v0)).kind).toBe('noop');
    f.flushTable('ip', TABLE);
    const r = await engine.sync(v0);
    expect(r.kind).toBe('full');
    expect(r.reason).toMatch(/drift: table ip nfp-diff was flushed \(its rules are gone\)/);
    expect(normal(f.ruleset())).toEqual(normal(v0));
    f.deleteTable('ip', TABLE);
    expect(await engine.checkDrift()).toMatch(/is gone/);
    expect((await engine.sync(v0)).kind).toBe('full');
    expect(normal(f.ruleset())).toEqual(normal(v0));
  });

  it('a restarted engine replaces an existing table in one transaction and drops stale tables of ours', async () => {
    const f = new FakeApplier();
    await new SyncEngine({ applier: f }).sync({ tables: [...v0.tables, { family: 'ip6', name: 'nfp-old', sets: [], chains: [] }] });
    const engine = new SyncEngine({ applier: f, ownedTables: [{ family: 'ip6', name: 'nfp-old' }] });
    const target = step(v0, 13);
    expect((await engine.sync(target)).kind).toBe('full');
    expect(f.committed).toHaveLength(2);
    expect(f.committed[1]!.commands.slice(0, 3).map((c) => `${c.op} ${c.what}`)).toEqual(['add table', 'delete table', 'add table']);
    expect(normal(f.ruleset())).toEqual(normal(target));
  });

  it('goes full again after the sync period, rewriting in place (packet-path state kept)', async () => {
    let now = 0;
    const f = new FakeApplier();
    const engine = new SyncEngine({ applier: f, syncPeriodMs: 1000, now: () => now });
    now = 5;
    expect((await engine.sync(v0)).kind).toBe('full');
    now = 500;
    expect((await engine.sync(step(v0, 1))).kind).toBe('partial');
    now = 1100;
    expect(await engine.sync(step(v0, 1))).toMatchObject({ kind: 'full', reason: 'period' });
    expect(normal(f.ruleset())).toEqual(normal(step(v0, 1)));
  });
});
