// The daemon's view of the cluster: the latest version of every Service, EndpointSlice,
// ServiceCIDR and this Node, as raw Kubernetes JSON (the compiler validates; the store only keeps). Every change bumps
// a generation and remembers when the oldest not-yet-programmed change arrived, which is what the
// network programming latency metric measures from.

export type WatchedKind = 'Service' | 'EndpointSlice' | 'Node' | 'ServiceCIDR';

export interface KubeObjectLike {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: unknown };
}

export interface StoreChange {
  kind: WatchedKind;
  type: 'upsert' | 'delete';
  key: string;
  /** The new version (upsert) or the last known version (delete). */
  object: KubeObjectLike;
  /** The version an upsert replaced (an EndpointSlice may have moved to another service). */
  previous?: KubeObjectLike;
  /** Wall-clock ms when the change reached the store. */
  at: number;
}

const API_VERSIONS: Record<WatchedKind, string> = { Service: 'v1', Node: 'v1', EndpointSlice: 'discovery.k8s.io/v1', ServiceCIDR: 'networking.k8s.io/v1' };

function keyOf(obj: KubeObjectLike): string {
  const md = obj.metadata ?? {};
  // Names are unique per namespace at any moment; the uid tells a re-created object from the old one.
  return `${md.namespace ?? ''}/${md.name ?? ''}`;
}

export class ObjectStore {
  private readonly byKind = new Map<WatchedKind, Map<string, KubeObjectLike>>([
    ['Service', new Map()],
    ['EndpointSlice', new Map()],
    ['Node', new Map()],
    ['ServiceCIDR', new Map()],
  ]);
  private gen = 0;
  /** Arrival times of changes not yet consumed by a sync, oldest first. */
  private pending: number[] = [];
  private readonly listeners = new Set<(c: StoreChange) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  get generation(): number {
    return this.gen;
  }

  upsert(kind: WatchedKind, obj: KubeObjectLike): void {
    const key = keyOf(obj);
    const map = this.map(kind);
    const old = map.get(key);
    if (old && sameVersion(old, obj)) return;
    map.set(key, obj);
    this.changed({ kind, type: 'upsert', key, object: obj, previous: old, at: this.now() });
  }

  remove(kind: WatchedKind, obj: KubeObjectLike): void {
    const key = keyOf(obj);
    const old = this.map(kind).get(key);
    if (!old || !this.map(kind).delete(key)) return;
    this.changed({ kind, type: 'delete', key, object: old, at: this.now() });
  }

  get(kind: WatchedKind, namespace: string, name: string): KubeObjectLike | undefined {
    return this.map(kind).get(`${namespace}/${name}`);
  }

  list(kind: WatchedKind): KubeObjectLike[] {
    return [...this.map(kind).values()];
  }

  count(kind: WatchedKind): number {
    return this.map(kind).size;
  }

  /** Every object, in a stable order (kind, then key): the compiler's input. */
  snapshot(): KubeObjectLike[] {
    const out: KubeObjectLike[] = [];
    for (const kind of ['Node', 'ServiceCIDR', 'Service', 'EndpointSlice'] as const) {
      const map = this.map(kind);
      for (const key of [...map.keys()].sort()) {
        const o = map.get(key);
        if (o) out.push({ kind, apiVersion: API_VERSIONS[kind], ...o } as KubeObjectLike);
      }
    }
    return out;
  }

  /** Hands the arrival times of all pending changes to a sync that is about to program them. */
  takePending(): { generation: number; arrivals: number[] } {
    const arrivals = this.pending;
    this.pending = [];
    return { generation: this.gen, arrivals };
  }

  /** Puts arrival times back (the sync that took them failed), keeping them oldest first. */
  restorePending(arrivals: number[]): void {
    this.pending = [...arrivals, ...this.pending];
  }

  /** Arrival time of the oldest change not yet programmed, if any. */
  oldestPending(): number | undefined {
    return this.pending[0];
  }

  onChange(fn: (c: StoreChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private map(kind: WatchedKind): Map<string, KubeObjectLike> {
    const m = this.byKind.get(kind);
    if (!m) throw new Error(`unknown kind ${kind}`);
    return m;
  }

  private changed(c: StoreChange): void {
    this.gen++;
    // Bounded: a burst of 100k events during a long sync needs only its oldest arrivals to be exact.
    if (this.pending.length < 100_000) this.pending.push(c.at);
    for (const l of this.listeners) l(c);
  }
}

function sameVersion(a: KubeObjectLike, b: KubeObjectLike): boolean {
  const ra = a.metadata?.resourceVersion;
  return ra !== undefined && ra === b.metadata?.resourceVersion && a.metadata?.uid === b.metadata?.uid;
}
