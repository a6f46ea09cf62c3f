// Quarantine: one service port the kernel refuses costs only itself.
//
// The compiler resolves every conflict it knows of, but the kernel may still refuse a transaction
// (a kernel limit, a bug of ours). A plain sync loop then fails forever and nothing else on the
// node is programmed. Here, when a sync fails, the service ports responsible are found by
// bisection, everything else is programmed, and the culprits are quarantined:
//   - a quarantined port keeps the version the kernel last accepted (or stays absent if it never
//     had one), as a failed transaction keeps the whole ruleset in kube-proxy;
//   - it is retried when it changes (the model holds another ServicePort object for it: the
//     ModelCache keeps the objects of unchanged services) and at every full sync requested by
//     the loop (start, periodic).
// The search looks only at what changed since the last successful sync (per service port: old
// version → new version), applying halves of those changes as check-only transactions against
// the mirror, so it costs O(change · log change) probes; when the mirror cannot be trusted
// (drift) or nothing is in the kernel yet, it probes full transactions instead. The hot path
// pays nothing while the quarantine is empty and one identity lookup per port while it is not.

import type { ServicePort } from '../../compiler/model/types.js';
import type { Ruleset } from '../../ir/types.js';
import { SyncError, type SyncEngine, type SyncResult } from './engine.js';

/** `ip ns/name:port/tcp`: one service port of one family (the lowering's fragment identity). */
export const portKey = (sp: ServicePort): string => `${sp.family === 4 ? 'ip' : 'ip6'} ${sp.id}/${sp.protocol}`;

export interface QuarantinedPort {
  /** `ip ns/name:port/tcp` */
  key: string;
  /** The versions the kernel refused (released when the model no longer holds them); [] for a refused removal. */
  refused: ServicePort[];
  /** What stays programmed instead: the version the kernel last accepted, or nothing. */
  kept: ServicePort[];
  /** The kernel's error for the smallest transaction that held this change. */
  reason: string;
  /** When it was quarantined (Date.now()). */
  since: number;
}

export interface ContainedResult extends SyncResult {
  /** Every port in quarantine after this sync. */
  quarantined: QuarantinedPort[];
  /** Quarantined by this sync. */
  newlyQuarantined: QuarantinedPort[];
  /** Taken out of quarantine by this sync (its retry was accepted), or gone from the model. */
  released: QuarantinedPort[];
  /** Check-only transactions the search sent (0 when the sync succeeded at once). */
  probes: number;
}

export type PortsCompiler = (servicePorts: ServicePort[]) => Ruleset;

/** Two versions of one key are the same when they are the same objects (the model cache keeps them). */
const samePorts = (a: readonly ServicePort[] | undefined, b: readonly ServicePort[] | undefined): boolean =>
  (a?.length ?? 0) === (b?.length ?? 0) && (a ?? []).every((sp, i) => sp === (b ?? [])[i]);

function byKey(ports: readonly ServicePort[]): Map<string, ServicePort[]> {
  const m = new Map<string, ServicePort[]>();
  for (const sp of ports) {
    const k = portKey(sp);
    const l = m.get(k);
    if (l) l.push(sp);
    else m.set(k, [sp]);
  }
  return m;
}

export class Quarantine {
  private readonly entries = new Map<string, QuarantinedPort>();
  /** The ports of the last successful sync (as passed to the compiler); null before it. */
  private programmed: ServicePort[] | null = null;

  constructor(
    private readonly engine: SyncEngine,
    private readonly now: () => number = Date.now,
  ) {}

  get list(): QuarantinedPort[] {
    return [...this.entries.values()];
  }

  /**
   * Syncs `ports` (the model's service ports) through the engine, leaving quarantined ports at
   * their kept version; on a refused transaction, isolates the culprits and programs the rest.
   * `full` (a full sync the loop asked for) retries every quarantined port. Throws (SyncError)
   * only when the failure cannot be pinned on service ports (the kernel or the applier is broken).
   */
  async sync(ports: ServicePort[], compile: PortsCompiler, opts: { full?: boolean } = {}): Promise<ContainedResult> {
    const released: QuarantinedPort[] = [];
    if (opts.full) {
      released.push(...this.entries.values());
      this.entries.clear();
    }
    const included = this.entries.size === 0 ? ports : this.substitute(ports, released);
    let result: SyncResult;
    try {
      result = await this.engine.sync(compile(included), { full: opts.full === true });
    } catch (err) {
      if (!(err instanceof SyncError)) throw err;
      return this.contain(included, compile, err, released);
    }
    this.programmed = included;
    return { ...result, quarantined: this.list, newlyQuarantined: [], released, probes: 0 };
  }

  /**
   * `ports` with every quarantined version replaced by the kept one. An entry whose refused
   * versions are all gone from the model is released: the port changed, so it is retried.
   */
  private substitute(ports: ServicePort[], released: QuarantinedPort[]): ServicePort[] {
    const refusedBy = new Map<ServicePort, QuarantinedPort>();
    for (const e of this.entries.values()) for (const sp of e.refused) refusedBy.set(sp, e);
    const seen = new Set<QuarantinedPort>();
    const out: ServicePort[] = [];
    for (const sp of ports) {
      const e = refusedBy.get(sp);
      if (!e) out.push(sp);
      else if (!seen.has(e)) {
        seen.add(e);
        out.push(...e.kept);
      }
    }
    for (const e of this.entries.values()) {
      // A refused removal (refused = []) holds its kept version until the next full sync.
      if (e.refused.length === 0) out.push(...e.kept);
      else if (!seen.has(e)) {
        this.entries.delete(e.key);
        released.push(e);
      }
    }
    return out;
  }

  private async contain(included: ServicePort[], compile: PortsCompiler, failure: SyncError, released: QuarantinedPort[]): Promise<ContainedResult> {
    // Partial probes need a kernel that holds the mirror: check for drift first (cheap).
    const drift = this.engine.hasMirror ? await this.engine.checkDrift() : 'no mirror';
    if (drift !== null && failure.kind === 'partial') {
      // Someone deleted or flushed our table: that alone fails a partial transaction, and the
      // full sync the drift check scheduled may simply succeed (an engine with
      // retryFullOnFailure has tried that already: failure.kind is then 'full').
      try {
        const r = await this.engine.sync(compile(included));
        this.programmed = included;
        return { ...r, quarantined: this.list, newlyQuarantined: [], released, probes: 0, recoveredFrom: failure.message };
      } catch (err) {
        if (!(err instanceof SyncError)) throw err;
        failure = err;
      }
    }
    let mode: 'partial' | 'full' = drift === null ? 'partial' : 'full';
    let probes = 0;
    let from = byKey(this.programmed ?? []);
    const to = byKey(included);
    const probe = (list: ServicePort[]): Promise<string | null> => {
      probes++;
      return this.engine.probe(compile(list), mode);
    };

    const changedKeys = (): string[] => {
      const keys: string[] = [];
      for (const [k, sps] of to) if (!samePorts(from.get(k), sps)) keys.push(k);
      for (const k of from.keys()) if (!to.has(k)) keys.push(k);
      // Ports the kernel held before go first: where two changes clash, the older claim wins.
      return keys.sort((a, b) => Number(!from.has(a)) - Number(!from.has(b)));
    };
    let changed = changedKeys();
    // Nothing changed, yet the kernel refuses: a full transaction of what it holds (a kernel
    // limit on one batch, or a port it accepted piecemeal). Bisect the whole ruleset.
    if (changed.length === 0) mode = 'full';
    const state = (applied: ReadonlySet<string>): ServicePort[] => {
      const ch = new Set(changed);
      const out: ServicePort[] = [];
      const emitted = new Set<string>();
      for (const sp of included) {
        const k = portKey(sp);
        if (!ch.has(k) || applied.has(k)) out.push(sp);
        else if (!emitted.has(k)) {
          emitted.add(k);
          out.push(...(from.get(k) ?? []));
        }
      }
      for (const [k, sps] of from) if (!to.has(k) && !applied.has(k)) out.push(...sps);
      return out;
    };

    if (mode === 'full') {
      // The base (what the kernel last accepted) must still be accepted; else start from nothing.
      if (from.size > 0 && (changed.length === 0 || (await probe(state(new Set()))) !== null)) {
        from = new Map();
        changed = changedKeys();
      }
      if (from.size === 0) {
        const err = await probe([]);
        if (err !== null) throw new SyncError(`${failure.message}; the kernel refuses even a ruleset without services (${err}): not a service's fault`, failure.kind, failure.cause);
      }
    }
    if (changed.length === 0) throw failure;

    const applied = new Set<string>();
    const rejected = new Map<string, string>();
    // Adaptive group testing: a half is tried on top of what was accepted so far; when the
    // first half of a failing set passes whole, the second half is known to fail.
    const search = async (cands: string[], knownError: string | null): Promise<void> => {
      let err = knownError;
      if (err === null) {
        err = await probe(state(new Set([...applied, ...cands])));
        if (err === null) {
          for (const k of cands) applied.add(k);
          return;
        }
      }
      if (cands.length === 1) {
        rejected.set(cands[0] as string, err);
        return;
      }
      const mid = Math.ceil(cands.length / 2);
      const first = cands.slice(0, mid);
      await search(first, null);
      await search(cands.slice(mid), first.every((k) => applied.has(k)) ? err : null);
    };
    await search(changed, failure.message);

    const final = state(applied);
    let result: SyncResult;
    try {
      result = await this.engine.sync(compile(final));
    } catch (err) {
      if (err instanceof SyncError) throw new SyncError(`${err.message} (after quarantining ${[...rejected.keys()].join(', ')})`, err.kind, err.cause);
      throw err;
    }
    this.programmed = final;

    const newly: QuarantinedPort[] = [];
    for (const [key, reason] of rejected) {
      const e: QuarantinedPort = { key, refused: to.get(key) ?? [], kept: from.get(key) ?? [], reason, since: this.now() };
      this.entries.set(key, e);
      // A retry refused again is not news.
      const i = released.findIndex((r) => r.key === key);
      if (i >= 0 && samePorts(released[i]?.refused, e.refused)) {
        e.since = (released[i] as QuarantinedPort).since;
        released.splice(i, 1);
      } else newly.push(e);
    }
    return { ...result, quarantined: this.list, newlyQuarantined: newly, released, probes, recoveredFrom: failure.message };
  }
}
