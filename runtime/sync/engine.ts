// The sync engine: keeps a mirror of what it last programmed and sends only the delta.
//
// Full sync (one transaction that replaces our tables atomically: `add table; delete table;`
// rebuild) at the first sync, after any failure, after `syncPeriodMs`, on request, and when drift
// was detected; otherwise `diffRulesets(mirror, desired)`, and nothing at all when that is empty.
// A failed transaction changes nothing in the kernel (one netlink batch, all or nothing), so the
// mirror stays right; we still distrust it and go full, immediately (retryFullOnFailure) or at
// the next sync.

import { diffRulesets } from '../../ir/diff.js';
import { type Command, fullTransaction, rewriteTransaction, type Transaction } from '../../ir/transaction.js';
import type { Family, Ruleset } from '../../ir/types.js';
import type { Applier } from '../apply/types.js';
import { canaryGuard, canaryMatches, canaryRuleProbe, DEFAULT_CANARY_SET, newEpoch, withCanary } from './canary.js';

export interface SyncEngineOptions {
  applier: Applier;
  /** Full resync period; kube-proxy's default is 1 h. */
  syncPeriodMs?: number;
  /**
   * Probe the canary (one `list set` + one check-only transaction per table) before a non-full
   * sync at most this often (0 = every sync). Deletion/replacement of a table is also caught by
   * every partial transaction itself; a flush only by this probe.
   */
  driftProbeIntervalMs?: number;
  /** After a failed partial sync, try a full one in the same call (repairs drift at once). */
  retryFullOnFailure?: boolean;
  /** Our tables that may exist from an earlier run and must go when `desired` lacks them. */
  ownedTables?: { family: Family; name: string }[];
  canarySet?: string;
  now?: () => number;
}

export type SyncKind = 'full' | 'partial' | 'noop';

export interface SyncResult {
  kind: SyncKind;
  /** IR commands sent (0 for noop). */
  commands: number;
  durationMs: number;
  /** Why a full sync happened (start, period, drift, failure, requested). */
  reason?: string;
  /** Set when a partial transaction failed and this result is the full sync that recovered. */
  recoveredFrom?: string;
}

export class SyncError extends Error {
  constructor(message: string, readonly kind: Exclude<SyncKind, 'noop'>, override readonly cause: unknown) {
    super(message);
    this.name = 'SyncError';
  }
}

const tableId = (t: { family: Family; name: string }): string => `${t.family} ${t.name}`;

export class SyncEngine {
  private mirror: Ruleset | null = null;
  private epoch = 0;
  private fullReason: string | null = 'start';
  private lastFullAt = 0;
  private lastProbeAt = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly canary: string;
  private readonly now: () => number;

  constructor(private readonly opts: SyncEngineOptions) {
    this.canary = opts.canarySet ?? DEFAULT_CANARY_SET;
    this.now = opts.now ?? (() => performance.now());
  }

  /** What the engine believes the kernel holds (with the canary); null before the first sync. */
  get programmed(): Ruleset | null {
    return this.mirror;
  }

  /** True once a sync succeeded: partial transactions (and partial probes) have a base. */
  get hasMirror(): boolean {
    return this.mirror !== null;
  }

  /**
   * Check-only: would the kernel accept `desired`, as a partial transaction against the mirror
   * (guarded by the canary) or as a full one? Returns nft's error text, or null when it would.
   * Changes nothing, in the kernel or here. The quarantine bisects with it (quarantine.ts).
   */
  probe(desired: Ruleset, mode: 'partial' | 'full'): Promise<string | null> {
    const run = async (): Promise<string | null> => {
      let tx: Transaction;
      if (mode === 'partial' && this.mirror) {
        const target = withCanary(desired, this.canary, this.epoch);
        const delta = diffRulesets(this.mirror, target);
        if (delta.commands.length === 0) return null;
        tx = this.guard(delta, this.mirror, target);
      } else {
        tx = this.fullTx(withCanary(desired, this.canary, newEpoch()));
      }
      try {
        await this.opts.applier.check(tx);
        return null;
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Forces the next sync to be a full one. */
  requestFullSync(reason: string): void {
    this.fullReason ??= reason;
  }

  sync(desired: Ruleset, options: { full?: boolean } = {}): Promise<SyncResult> {
    const run = (): Promise<SyncResult> => this.syncNow(desired, options.full === true);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /**
   * Cheap drift check, no listing of the table: per table one `list set` of the canary and one
   * check-only transaction. Returns a description of the drift (and schedules a full sync) or
   * null when every table is as we left it.
   */
  async checkDrift(): Promise<string | null> {
    if (!this.mirror) return null;
    this.lastProbeAt = this.now();
    for (const t of this.mirror.tables) {
      const drift = await this.probeTable(t);
      if (drift) {
        this.requestFullSync(`drift: ${drift}`);
        return drift;
      }
    }
    return null;
  }

  private async probeTable(t: { family: Family; name: string }): Promise<string | null> {
    const { applier } = this.opts;
    const elems = await applier.listSetElements(t.family, t.name, this.canary, false);
    if (elems === null) return `table ${tableId(t)} is gone`;
    if (!canaryMatches(elems, this.epoch)) return `table ${tableId(t)} was replaced or its elements flushed`;
    try {
      await applier.check({ commands: canaryRuleProbe(t, this.canary) });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (/Device or resource busy/.test(msg)) return null; // the canary rule still holds the set
      return `table ${tableId(t)}: canary probe failed: ${msg}`;
    }
    return `table ${tableId(t)} was flushed (its rules are gone)`;
  }

  private fullReasonNow(forced: boolean): string | null {
    if (forced) return 'requested';
    if (this.fullReason) return this.fullReason;
    if (this.now() - this.lastFullAt >= (this.opts.syncPeriodMs ?? 3_600_000)) return 'period';
    return null;
  }

  private async syncNow(desired: Ruleset, forced: boolean): Promise<SyncResult> {
    const start = this.now();
    const reason = this.fullReasonNow(forced);
    if (reason) return this.full(desired, reason, start);

    if (this.now() - this.lastProbeAt >= (this.opts.driftProbeIntervalMs ?? 10_000)) {
      const drift = await this.checkDrift();
      if (drift) return this.full(desired, `drift: ${drift}`, start);
    }
    const target = withCanary(desired, this.canary, this.epoch);
    const mirror = this.mirror as Ruleset;
    const delta = diffRulesets(mirror, target);
    if (delta.commands.length === 0) return { kind: 'noop', commands: 0, durationMs: this.now() - start };
    const guarded = this.guard(delta, mirror, target);
    try {
      await this.opts.applier.apply(guarded);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.requestFullSync(`partial sync failed: ${msg}`);
      if (this.opts.retryFullOnFailure ?? true) {
        const res = await this.full(desired, `partial sync failed`, start);
        return { ...res, recoveredFrom: msg };
      }
      throw new SyncError(`partial sync failed (next sync is full): ${msg}`, 'partial', err);
    }
    this.mirror = target;
    return { kind: 'partial', commands: guarded.commands.length, durationMs: this.now() - start };
  }

  /** Prefixes the canary guard of every table the delta touches that the mirror has. */
  private guard(delta: Transaction, mirror: Ruleset, target: Ruleset): Transaction {
    const known = new Set(mirror.tables.map(tableId));
    const touched = new Set(delta.commands.map((c) => `${c.family} ${c.table}`));
    const guards: Command[] = [];
    for (const t of target.tables) {
      if (known.has(tableId(t)) && touched.has(tableId(t))) guards.push(...canaryGuard(t, this.canary, this.epoch));
    }
    return { commands: [...guards, ...delta.commands] };
  }

  private async full(desired: Ruleset, reason: string, start: number): Promise<SyncResult> {
    // Periodic/requested full syncs over a trusted mirror rewrite in place, keeping the tables
    // and the packet-path sets (session affinity); anything else (start, drift, failure) or a
    // failed rewrite replaces the tables.
    if (this.mirror && (reason === 'period' || reason === 'requested')) {
      const epoch = newEpoch();
      const target = withCanary(desired, this.canary, epoch);
      const tx = rewriteTransaction(this.mirror, target);
      try {
        await this.opts.applier.apply(tx);
        this.committedFull(target, epoch);
        return { kind: 'full', commands: tx.commands.length, durationMs: this.now() - start, reason };
      } catch {
        reason = `${reason}; in-place rewrite failed, replacing the tables`;
      }
    }
    const epoch = newEpoch();
    const target = withCanary(desired, this.canary, epoch);
    const tx = this.fullTx(target);
    try {
      await this.opts.applier.apply(tx);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.fullReason = `full sync failed: ${msg}`;
      throw new SyncError(`full sync (${reason}) failed; the kernel keeps the previous ruleset: ${msg}`, 'full', err);
    }
    this.committedFull(target, epoch);
    return { kind: 'full', commands: tx.commands.length, durationMs: this.now() - start, reason };
  }

  /** Replaces our tables with `target`, and removes tables of ours that `target` no longer has. */
  private fullTx(target: Ruleset): Transaction {
    const tx = fullTransaction(target);
    // Tables of ours that `desired` no longer has: `add` first so `delete` cannot hit ENOENT.
    const wanted = new Set(target.tables.map(tableId));
    const stale = new Map<string, { family: Family; name: string }>();
    for (const t of [...(this.opts.ownedTables ?? []), ...(this.mirror?.tables ?? [])]) {
      if (!wanted.has(tableId(t))) stale.set(tableId(t), { family: t.family, name: t.name });
    }
    for (const t of stale.values()) {
      tx.commands.push({ op: 'add', what: 'table', family: t.family, table: t.name });
      tx.commands.push({ op: 'delete', what: 'table', family: t.family, table: t.name });
    }
    return tx;
  }

  private committedFull(target: Ruleset, epoch: number): void {
    this.mirror = target;
    this.epoch = epoch;
    this.fullReason = null;
    this.lastFullAt = this.now();
    this.lastProbeAt = this.lastFullAt;
  }
}
