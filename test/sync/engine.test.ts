// The sync engine against a real kernel in private namespaces: full / partial / noop, recovery
// after a failed transaction, repair after someone deleted or flushed our table, restart over an
// existing table, periodic full sync.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transaction } from '../../ir/transaction.js';
import type { Ruleset } from '../../ir/types.js';
import { CliApplier } from '../../runtime/apply/cli.js';
import type { Applier, ApplyInput } from '../../runtime/apply/types.js';
import { DEFAULT_CANARY_SET, SyncEngine, SyncError } from '../../runtime/sync/index.js';
import { endpointIp, layout, mapChains, mapSet, TABLE } from '../diff/fixtures.js';
import { RemoteApplier } from '../apply/remote-applier.js';
import { createNamespace, destroyNamespace, exec, nsExecArgv } from '../harness/netns.js';
import { normalizedListing, rawListing } from './kernel.js';

/** Counts kernel calls and can inject one bad command into the next transaction. */
class Recording implements Applier {
  calls: Transaction[] = [];
  injectOnce = false;
  constructor(private readonly inner: Applier) {}
  get name(): 'cli' | 'lib' {
    return this.inner.name;
  }
  async apply(input: ApplyInput): Promise<void> {
    const tx = input as Transaction;
    this.calls.push(tx);
    if (this.injectOnce) {
      this.injectOnce = false;
      // A reference to a chain that does not exist: the kernel rejects the whole batch.
      tx.commands.push({ op: 'add', what: 'rule', family: 'ip', table: TABLE, chain: 'services', rule: { stmts: [{ kind: 'verdict', verdict: { kind: 'jump', target: 'no-such-chain' } }] } });
    }
    return this.inner.apply(tx);
  }
  check(input: ApplyInput): Promise<void> {
    return this.inner.check(input);
  }
  listSetElements(...a: Parameters<Applier['listSetElements']>): ReturnType<Applier['listSetElements']> {
    return this.inner.listSetElements(...a);
  }
  listJson(command: string): ReturnType<Applier['listJson']> {
    return this.inner.listJson(command);
  }
  close(): void {
    this.inner.close();
  }
}

const v0 = layout(30, 3);
const step = (rs: Ruleset, i: number): Ruleset =>
  mapSet(rs, 'backend-addr', (s) => ({ ...s, elements: s.elements.map((e, j) => (j === i ? { ...e, data: endpointIp(i, 0, 1 + (i % 5)) } : e)) }));

describe.each(['cli', 'lib'] as const)('SyncEngine with the %s applier', (kind) => {
  let ns: string;
  let ref: string;
  let remote: RemoteApplier;
  let refApplier: CliApplier;

  beforeAll(async () => {
    ns = await createNamespace(`sync-${kind}`);
    ref = await createNamespace(`sync-${kind}-ref`);
    remote = await RemoteApplier.start(ns, kind);
    refApplier = new CliApplier({ wrap: nsExecArgv(ref) });
  });
  afterAll(async () => {
    remote?.close();
    refApplier?.close();
    await destroyNamespace(ns);
    await destroyNamespace(ref);
  });

  /** The listing of `ns` (canary dropped) equals a fresh full load of `rs` in the reference ns. */
  async function expectKernelEquals(rs: Ruleset): Promise<void> {
    await exec(ref, ['nft', 'flush', 'ruleset']);
    await new SyncEngine({ applier: refApplier }).sync(rs);
    const opts = { dropSets: [DEFAULT_CANARY_SET] };
    expect(await normalizedListing(ns, opts)).toEqual(await normalizedListing(ref, opts));
  }

  it('full first, then partial deltas with the canary guard, and no kernel call when nothing changed', async () => {
    const rec = new Recording(remote);
    const engine = new SyncEngine({ applier: rec, driftProbeIntervalMs: 3_600_000 });
    const r0 = await engine.sync(v0);
    expect(r0).toMatchObject({ kind: 'full', reason: 'start' });
    const v1 = step(v0, 5);
    const r1 = await engine.sync(v1);
    expect(r1.kind).toBe('partial');
    expect(rec.calls[1]!.commands.map((c) => `${c.op} ${c.what} ${'set' in c ? c.set : ''}`)).toEqual([
      `delete element ${DEFAULT_CANARY_SET}`,
      `add element ${DEFAULT_CANARY_SET}`,
      'delete element backend-addr',
      'add element backend-addr',
    ]);
    const r2 = await engine.sync(v1);
    expect(r2).toMatchObject({ kind: 'noop', commands: 0 });
    expect(rec.calls).toHaveLength(2);
    await expectKernelEquals(v1);
  });

  it('a failed transaction leaves the kernel byte-for-byte unchanged; the next sync is full', async () => {
    const rec = new Recording(remote);
    const engine = new SyncEngine({ applier: rec, retryFullOnFailure: false });
    await engine.sync(v0);
    const before = await rawListing(ns);
    rec.injectOnce = true;
    const err = await engine.sync(step(v0, 7)).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect((err as SyncError).message).toMatch(/add rule ip nfp-diff in chain services/);
    expect(await rawListing(ns)).toBe(before);
    const r = await engine.sync(step(v0, 7));
    expect(r.kind).toBe('full');
    expect(r.reason).toMatch(/partial sync failed/);
    await expectKernelEquals(step(v0, 7));
  });

  it('an invalid desired state fails atomically, and a valid one afterwards is loaded in full', async () => {
    const engine = new SyncEngine({ applier: remote });
    await engine.sync(v0);
    const before = await rawListing(ns);
    const broken = mapChains(step(v0, 2), (chains) => chains.map((c) => (c.name === 'lb' ? { ...c, rules: [{ stmts: [{ kind: 'match', left: { kind: 'payload', protocol: 'ip', field: 'saddr' }, op: '==', right: { kind: 'setref', name: 'missing-set' } }] }] } : c)));
    await expect(engine.sync(broken)).rejects.toThrow(SyncError);
    expect(await rawListing(ns)).toBe(before);
    const r = await engine.sync(step(v0, 3));
    expect(r.kind).toBe('full');
    await expectKernelEquals(step(v0, 3));
  });

  it('recovers within the same call when a partial transaction fails (retryFullOnFailure)', async () => {
    const rec = new Recording(remote);
    const engine = new SyncEngine({ applier: rec });
    await engine.sync(v0);
    rec.injectOnce = true;
    const r = await engine.sync(step(v0, 9));
    expect(r.kind).toBe('full');
    expect(r.recoveredFrom).toMatch(/no-such-chain|services/);
    await expectKernelEquals(step(v0, 9));
  });

  it('repairs a deleted table at the next sync that has changes', async () => {
    const engine = new SyncEngine({ applier: remote, driftProbeIntervalMs: 3_600_000 });
    await engine.sync(v0);
    await exec(ns, ['nft', 'delete', 'table', 'ip', TABLE]);
    const r = await engine.sync(step(v0, 11));
    expect(r.kind).toBe('full');
    expect(r.recoveredFrom).toMatch(/No such file or directory/);
    await expectKernelEquals(step(v0, 11));
  });

  it('repairs a flushed table even when nothing changed (canary probe, no listing)', async () => {
    const engine = new SyncEngine({ applier: remote, driftProbeIntervalMs: 0 });
    await engine.sync(v0);
    expect((await engine.sync(v0)).kind).toBe('noop');
    await exec(ns, ['nft', 'flush', 'table', 'ip', TABLE]);
    const r = await engine.sync(v0);
    expect(r.kind).toBe('full');
    expect(r.reason).toMatch(/drift: table ip nfp-diff was flushed \(its rules are gone\)/);
    await expectKernelEquals(v0);
    await exec(ns, ['nft', 'delete', 'table', 'ip', TABLE]);
    expect(await engine.checkDrift()).toMatch(/is gone/);
    expect((await engine.sync(v0)).kind).toBe('full');
    await expectKernelEquals(v0);
  });

  it('a restarted engine replaces an existing table in one transaction and drops stale tables of ours', async () => {
    const old: Ruleset = { tables: [...v0.tables, { family: 'ip6', name: 'nfp-old', sets: [], chains: [] }] };
    await new SyncEngine({ applier: remote }).sync(old);
    const rec = new Recording(remote);
    const engine = new SyncEngine({ applier: rec, ownedTables: [{ family: 'ip6', name: 'nfp-old' }] });
    const target = step(v0, 13);
    const r = await engine.sync(target);
    expect(r.kind).toBe('full');
    expect(rec.calls).toHaveLength(1);
    // Replacement happens inside the one batch: the table is never absent between two batches.
    expect(rec.calls[0]!.commands.slice(0, 3).map((c) => `${c.op} ${c.what}`)).toEqual(['add table', 'delete table', 'add table']);
    await expectKernelEquals(target);
    expect((await exec(ns, ['nft', 'list', 'tables'])).stdout).not.toMatch(/nfp-old/);
  });

  it('goes full again after the sync period', async () => {
    let now = 0;
    const engine = new SyncEngine({ applier: remote, syncPeriodMs: 1000, now: () => now });
    now = 5;
    expect((await engine.sync(v0)).kind).toBe('full');
    now = 500;
    expect((await engine.sync(step(v0, 1))).kind).toBe('partial');
    now = 1100;
    expect(await engine.sync(step(v0, 1))).toMatchObject({ kind: 'full', reason: 'period' });
  });
});
