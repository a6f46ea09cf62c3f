// Conflict resolution: every key of every map and set gets exactly one owner before anything
// reaches the lowering, so the kernel never sees two claims to one key (it refuses them with
// EEXIST, or a verdict map would get two values for one key).
//
// A service port claims
//   - `clusterIP . proto . port`                        (an allocated cluster IP),
//   - `externalIP . proto . port`, `lbIP . proto . port` (set by users or controllers),
//   - `proto . nodePort`                                (per family: each family has its own table).
// Every other key follows from these: the no-endpoint, ETP Local, masquerade and firewall
// elements of an address key are all keyed by that key, so their owner is the key's owner.
//
// Who wins (deterministic, whatever the input order):
//   1. an allocated cluster IP over an externalIP or LB IP (which anyone allowed to create a
//      Service can set — issue 11: externalIPs of kube-dns's cluster IP froze every node);
//   2. then the older Service (metadata.creationTimestamp; unknown counts as newest);
//   3. then namespace/name, then the port name.
// The loser keeps all its other keys, and takes the key over when the winner goes away. A
// Service whose own cluster IP is also one of its externalIPs/LB IPs holds one claim: the
// cluster IP's (that case is reported too: the external one's semantics are dropped).
//
// The resolver is incremental: it indexes claims by key and re-resolves only the groups (Services)
// that share a key with a changed one, so the daemon's hot path stays O(change). An unchanged
// service port keeps its object identity (the lowering memoises fragments by identity).

import type { KeyConflict, ServicePort } from './types.js';

type ClaimKind = 'cluster IP' | 'externalIP' | 'loadBalancer IP' | 'nodePort';

interface Claim {
  key: string;
  kind: ClaimKind;
  /** The IP address (address claims) — to drop it from the loser's lists. */
  ip?: string;
  sp: ServicePort;
  group: string;
  rank: Rank;
}

interface Rank {
  /** 0 = allocated cluster IP, 1 = user-set. */
  allocated: number;
  /** creationTimestamp in ms; +Infinity when unknown. */
  created: number;
  service: string;
  portName: string;
  id: string;
}

interface Group {
  raw: readonly ServicePort[];
  claims: Claim[];
  /** Resolved ports, or undefined when a claim of this group changed owner since. */
  resolved?: ServicePort[];
  /** Per raw port: the resolved copy last made and the claims it lost (reused when unchanged). */
  copies: WeakMap<ServicePort, { lost: string; port: ServicePort }>;
}

function timestampMs(ts: string | undefined): number {
  if (ts === undefined) return Number.POSITIVE_INFINITY;
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

function compareRank(a: Rank, b: Rank): number {
  if (a.allocated !== b.allocated) return a.allocated - b.allocated;
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  if (a.service !== b.service) return a.service < b.service ? -1 : 1;
  if (a.portName !== b.portName) return a.portName < b.portName ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const compareClaims = (a: Claim, b: Claim): number => compareRank(a.rank, b.rank) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);

/** The human-readable key (also the index key: it names the key exactly). */
const addrKey = (ip: string, sp: ServicePort): string => `${ip} ${sp.protocol} ${sp.port}`;
const nodePortKey = (sp: ServicePort, nodePort: number): string =>
  `nodePort ${sp.protocol} ${nodePort}${sp.family === 6 ? ' (IPv6)' : ''}`;

function claimsOf(group: string, sp: ServicePort): Claim[] {
  const base = { created: timestampMs(sp.creationTimestamp), service: `${sp.namespace}/${sp.name}`, portName: sp.portName, id: sp.id };
  const user: Rank = { allocated: 1, ...base };
  const out: Claim[] = [];
  if (sp.clusterIP !== undefined) out.push({ key: addrKey(sp.clusterIP, sp), kind: 'cluster IP', ip: sp.clusterIP, sp, group, rank: { allocated: 0, ...base } });
  for (const ip of sp.externalIPs) out.push({ key: addrKey(ip, sp), kind: 'externalIP', ip, sp, group, rank: user });
  for (const ip of sp.loadBalancerIPs) out.push({ key: addrKey(ip, sp), kind: 'loadBalancer IP', ip, sp, group, rank: user });
  if (sp.nodePort !== undefined) out.push({ key: nodePortKey(sp, sp.nodePort), kind: 'nodePort', sp, group, rank: user });
  return out;
}

function reasonFor(winner: Claim, loser: Claim): string {
  if (winner.sp === loser.sp) return `its own cluster IP is also listed as ${loser.kind}: the cluster IP keeps the key`;
  if (winner.rank.allocated < loser.rank.allocated) return `an allocated cluster IP wins over ${loser.kind === 'externalIP' ? 'an' : 'a'} ${loser.kind}`;
  if (winner.rank.created !== loser.rank.created) return `the older Service wins (${winner.sp.creationTimestamp ?? '?'} before ${loser.sp.creationTimestamp ?? 'unknown'})`;
  return 'same age: the first by namespace/name and port name wins';
}

export class ConflictResolver {
  private readonly groups = new Map<string, Group>();
  /** Claims by key, best first. Almost always one. */
  private readonly byKey = new Map<string, Claim[]>();
  /** Keys with more than one claim. */
  private readonly contested = new Set<string>();

  /** Replaces the (unresolved) service ports of one group, e.g. one Service. O(its claims). */
  set(group: string, ports: readonly ServicePort[]): void {
    const old = this.groups.get(group);
    if (old !== undefined && old.raw === ports) return;
    if (old !== undefined) for (const c of old.claims) this.unindex(c);
    if (ports.length === 0) {
      this.groups.delete(group);
      return;
    }
    const claims = ports.flatMap((sp) => claimsOf(group, sp));
    const g: Group = { raw: ports, claims, copies: old?.copies ?? new WeakMap() };
    this.groups.set(group, g);
    for (const c of claims) this.index(c);
  }

  delete(group: string): void {
    this.set(group, []);
  }

  /** The group's service ports without the claims they lost. Unchanged ports keep their identity. */
  ports(group: string): ServicePort[] {
    const g = this.groups.get(group);
    if (g === undefined) return [];
    if (g.resolved === undefined) g.resolved = g.raw.map((sp) => this.resolvePort(g, sp));
    return g.resolved;
  }

  /** Every claim that lost, with its winner. O(contested keys). */
  conflicts(): KeyConflict[] {
    const out: KeyConflict[] = [];
    for (const key of [...this.contested].sort()) {
      const cs = this.byKey.get(key) as Claim[];
      const winner = cs[0] as Claim;
      for (const loser of cs.slice(1)) out.push({ key, winner: winner.sp.id, loser: loser.sp.id, reason: reasonFor(winner, loser) });
    }
    return out;
  }

  private index(c: Claim): void {
    let cs = this.byKey.get(c.key);
    if (cs === undefined) {
      this.byKey.set(c.key, [c]);
      this.stale(c.group);
      return;
    }
    cs = [...cs, c].sort(compareClaims);
    this.byKey.set(c.key, cs);
    this.contested.add(c.key);
    for (const x of cs) this.stale(x.group);
  }

  private unindex(c: Claim): void {
    const cs = this.byKey.get(c.key);
    if (cs === undefined) return;
    const rest = cs.filter((x) => x !== c);
    if (rest.length === 0) this.byKey.delete(c.key);
    else this.byKey.set(c.key, rest);
    if (rest.length <= 1) this.contested.delete(c.key);
    for (const x of rest) this.stale(x.group);
  }

  private stale(group: string): void {
    const g = this.groups.get(group);
    if (g !== undefined) g.resolved = undefined;
  }

  private resolvePort(g: Group, sp: ServicePort): ServicePort {
    const lost = g.claims.filter((c) => c.sp === sp && (this.byKey.get(c.key) as Claim[])[0] !== c);
    if (lost.length === 0) return sp;
    const sig = lost.map((c) => `${c.kind} ${c.key}`).join('\n');
    const prev = g.copies.get(sp);
    if (prev !== undefined && prev.lost === sig) return prev.port;
    const lostIps = (kind: ClaimKind): Set<string> => new Set(lost.filter((c) => c.kind === kind).map((c) => c.ip as string));
    const ext = lostIps('externalIP');
    const lb = lostIps('loadBalancer IP');
    const port: ServicePort = {
      ...sp,
      externalIPs: sp.externalIPs.filter((ip) => !ext.has(ip)),
      loadBalancerIPs: sp.loadBalancerIPs.filter((ip) => !lb.has(ip)),
    };
    if (lost.some((c) => c.kind === 'cluster IP')) delete port.clusterIP;
    if (lost.some((c) => c.kind === 'nodePort')) delete port.nodePort;
    g.copies.set(sp, { lost: sig, port });
    return port;
  }
}

/** Groups service ports by Service (`namespace/name`). */
export const serviceGroup = (sp: ServicePort): string => `${sp.namespace}/${sp.name}`;

/** One-shot resolution of a whole model's service ports (order kept). */
export function resolveConflicts(servicePorts: readonly ServicePort[]): { servicePorts: ServicePort[]; conflicts: KeyConflict[] } {
  const byGroup = new Map<string, ServicePort[]>();
  for (const sp of servicePorts) {
    const g = serviceGroup(sp);
    const l = byGroup.get(g);
    if (l) l.push(sp);
    else byGroup.set(g, [sp]);
  }
  const r = new ConflictResolver();
  for (const [g, ports] of byGroup) r.set(g, ports);
  const resolved = new Map<string, ServicePort[]>();
  for (const g of byGroup.keys()) resolved.set(g, r.ports(g));
  const next = new Map<string, number>();
  const out = servicePorts.map((sp) => {
    const g = serviceGroup(sp);
    const i = next.get(g) ?? 0;
    next.set(g, i + 1);
    return (resolved.get(g) as ServicePort[])[i] as ServicePort;
  });
  return { servicePorts: out, conflicts: r.conflicts() };
}
