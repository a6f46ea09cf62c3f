// Lowering: service model → IR. The layout is "static program, dynamic maps" (README, "Design"):
// a fixed set of chains and rules (`staticProgram`), with every service and endpoint stored as
// set/map elements contributed by per-service-port fragments (fragment.ts). The only chains that
// depend on the data are
//   - `<pool>-lb-N` (numgen's modulus is an immediate, so one chain per endpoint count N), only
//     for the counts N in use in the pool, and `<pool>-ep-I` (one per slot) for I below the
//     largest of them: linear in endpoints, and a count change adds or removes at most one lb
//     chain and the slots past the old largest count;
//   - affinity chains for services with sessionAffinity ClientIP (a measured exception).
// None of them grows with the number of services.
//
// Pass a LowerCache to reuse the fragments of unchanged service ports between compiles (the
// daemon and the benchmark do): the ruleset then shares element objects with the previous one,
// which the diff exploits.

import type { Chain, Element, Expr, Family, Rule, Ruleset, SetDef, Stmt, Table, Value, Verdict } from '../ir/types.js';
import { cidrContains, parseCidr } from '../ir/ip.js';
import { recordElementDelta } from '../ir/element-delta.js';
import type { ClusterModel, CompileOptions, ServicePort } from './model/types.js';
import { addrType, endpointNamespaces, keyedByAddress, loopback, names, poolsOf, type EndpointNamespace } from './layout.js';
import { fragmentId, lowerServicePort, type Fragment } from './fragment.js';
import { daddr, dport, fibType, goto, gotoStmt, jump, konst, l4proto, mark, match, packetKey, rule, saddr, set, verdict } from './ir-build.js';



/**
 * Elements shared by several service ports (a cluster IP of a multi-port service, an endpoint
 * address behind several ports), reference-counted across compiles so that deduplicating them
 * costs O(change) instead of hashing every address on every compile. Map order = element order.
 */
interface RefSet extends Tracked {
  byKey: Map<string, { count: number; el: Element; index: number }>;
}

/**
 * An element array maintained in place: copied before a change once it has been handed out
 * (rulesets are immutable), with the elements added and removed since, which the hand-out
 * records as a delta hint for the diff (ir/element-delta.ts).
 */
interface Tracked {
  elements: Element[];
  shared: boolean;
  lastOut?: Element[];
  added: Set<Element>;
  removed: Set<Element>;
}

const emptyTracked = (): Tracked => ({ elements: [], shared: false, added: new Set(), removed: new Set() });
const emptyRefSet = (): RefSet => ({ ...emptyTracked(), byKey: new Map() });

function writable(set: Tracked): Element[] {
  if (set.shared) {
    set.elements = set.elements.slice();
    set.shared = false;
  }
  return set.elements;
}

function tracked(set: Tracked, el: Element, op: 'add' | 'remove'): void {
  const [mine, other] = op === 'add' ? [set.added, set.removed] : [set.removed, set.added];
  if (other.has(el)) other.delete(el);
  else mine.add(el);
}

/** The current elements, handed out to a ruleset: later changes copy first. */
function handOut(set: Tracked): Element[] {
  if (set.lastOut !== undefined && set.lastOut !== set.elements) {
    recordElementDelta(set.elements, { base: set.lastOut, added: [...set.added], removed: [...set.removed] });
  }
  set.added.clear();
  set.removed.clear();
  set.lastOut = set.elements;
  set.shared = true;
  return set.elements;
}

/**
 * A set's elements maintained across compiles: fragments add and remove their element objects
 * (swap-remove, copy-on-write once handed out), so a change costs O(its elements), not O(set).
 */
interface ElementSet extends Tracked {
  index: Map<Element, number>;
}

function esAdd(es: ElementSet, el: Element): void {
  const els = writable(es);
  es.index.set(el, els.length);
  els.push(el);
  tracked(es, el, 'add');
}

function esRemove(es: ElementSet, el: Element): void {
  const i = es.index.get(el);
  if (i === undefined) return;
  const els = writable(es);
  es.index.delete(el);
  const last = els.pop() as Element;
  if (last !== el) {
    els[i] = last;
    es.index.set(last, i);
  }
  tracked(es, el, 'remove');
}

/** The elements a fragment puts into the incrementally maintained sets, by set name. */
function indexedElements(fr: Fragment): Map<string, Element[]> {
  const out = new Map<string, Element[]>();
  const put = (name: string, el: Element): void => {
    const l = out.get(name);
    if (l) l.push(el);
    else out.set(name, [el]);
  };
  for (const ns of endpointNamespaces) {
    for (const t of fr.targets[ns]) {
      if (t.dispatch) put(names.dispatch(ns), t.dispatch);
      if (t.noEndpoint) put(keyedByAddress(ns) ? names.noEndpointServices : names.noEndpointNodeports, t.noEndpoint);
      for (let i = 0; i < t.n; i++) put(names.slotAddr(t.pool, i), t.addrs[i] as Element);
      if (t.n === 0) continue;
      if (t.mixed) for (let i = 0; i < t.n; i++) put(names.poolPort(t.pool, i), t.ports[i] as Element);
      else put(names.poolPort(t.pool), t.ports[0] as Element);
    }
  }
  return out;
}

/**
 * Moves the incremental sets and the per-pool endpoint-count histogram from `prev` to `fr`;
 * every set that gains or loses an element is marked dirty.
 */
function moveElements(state: FamilyState, prev: Fragment | undefined, fr: Fragment | undefined, dirty: Set<string>): void {
  const before = prev ? indexedElements(prev) : new Map<string, Element[]>();
  const after = fr ? indexedElements(fr) : new Map<string, Element[]>();
  const setOf = (name: string): ElementSet => {
    let es = state.sets.get(name);
    if (!es) state.sets.set(name, (es = { ...emptyTracked(), index: new Map() }));
    return es;
  };
  for (const [name, olds] of before) {
    const keep = new Set(after.get(name) ?? []);
    const es = setOf(name);
    for (const el of olds) {
      if (keep.has(el)) continue;
      esRemove(es, el);
      dirty.add(name);
    }
  }
  for (const [name, news] of after) {
    const had = new Set(before.get(name) ?? []);
    const es = setOf(name);
    for (const el of news) {
      if (had.has(el)) continue;
      esAdd(es, el);
      dirty.add(name);
    }
  }
  const count = (x: Fragment, d: number): void => {
    for (const ns of endpointNamespaces) {
      for (const t of x.targets[ns]) {
        if (t.n === 0) continue;
        let h = state.poolN.get(t.pool);
        if (!h) state.poolN.set(t.pool, (h = new Map()));
        const c = (h.get(t.n) ?? 0) + d;
        if (c === 0) h.delete(t.n);
        else h.set(t.n, c);
      }
    }
  };
  if (prev) count(prev, -1);
  if (fr) count(fr, 1);
}

interface FamilyState {
  sets: Map<string, ElementSet>;
  /** Per pool: endpoint count → number of targets with it (the pool's largest N sizes its slots). */
  poolN: Map<string, Map<number, number>>;
}

const emptyState = (): Record<Family, FamilyState> => ({
  ip: { sets: new Map(), poolN: new Map() },
  ip6: { sets: new Map(), poolN: new Map() },
});

/** Memo of fragments by ServicePort object; valid for one options object and node address list. */
export interface LowerCache {
  opts?: CompileOptions;
  nodeKey?: string;
  fragments: WeakMap<ServicePort, Fragment>;
  /** The live fragment of each service port by identity (`family id`), for stable slots. */
  previous: Map<string, Fragment>;
  /** Fragments used by the last compile, per family (aligned with lastSps), and its generation number. */
  lastFragments: Record<Family, Fragment[]>;
  lastSps: Record<Family, ServicePort[]>;
  gen: number;
  /** Affinity sets and chains of the last compile (rebuilt only when an affinity service changes). */
  lastAffinity: Record<Family, { sets: SetDef[]; chains: Chain[] } | undefined>;
  refs: Record<Family, { clusterIps: RefSet; hairpin: RefSet }>;
  /** Chains that depend only on configuration: reused so the diff skips them. */
  chains: Map<string, Chain[]>;
  /** The lb-N and ep-I chains of the last compile, by `lb|ep pool N|I`. */
  poolChains: Record<Family, Map<string, Chain>>;
  /** The sets of the last compile by family and name: reused when no changed fragment touches them. */
  lastSets: Record<Family, Map<string, SetDef>>;
  /** Incrementally maintained dispatch, no-endpoint and slot maps, and endpoint-count histograms. */
  state: Record<Family, FamilyState>;
}

export function createLowerCache(): LowerCache {
  return {
    fragments: new WeakMap(),
    previous: new Map(),
    lastFragments: { ip: [], ip6: [] },
    lastSps: { ip: [], ip6: [] },
    gen: 0,
    lastAffinity: { ip: undefined, ip6: undefined },
    refs: emptyRefs(),
    chains: new Map(),
    poolChains: { ip: new Map(), ip6: new Map() },
    lastSets: { ip: new Map(), ip6: new Map() },
    state: emptyState(),
  };
}

/**
 * The sets assembled from all fragments when dirty (the small ones, and affinity under one
 * marker) that a fragment feeds. The maintained sets mark themselves (moveElements, addRefs).
 */
function contributions(fr: Fragment, out: Set<string>): void {
  const small: [Element[], string][] = [
    [fr.externalMasq, names.externalMasq],
    [fr.externalLocal, names.externalLocal],
    [fr.nodeportsMasq, names.nodeportsMasq],
    [fr.nodeportsLocal, names.nodeportsLocal],
    [fr.firewallIps, names.firewallIps],
    [fr.firewallAllow, names.firewallAllow],
  ];
  for (const [list, name] of small) if (list.length > 0) out.add(name);
  if (fr.affinitySets.length > 0 || fr.affinityChains.length > 0) out.add(AFFINITY);
}

const AFFINITY = '#affinity';

const emptyRefs = (): LowerCache['refs'] => ({
  ip: { clusterIps: emptyRefSet(), hairpin: emptyRefSet() },
  ip6: { clusterIps: emptyRefSet(), hairpin: emptyRefSet() },
});

/** Takes a reference; true when the element is new to the set. */
function ref(set: RefSet, key: string, make: () => Element): boolean {
  const r = set.byKey.get(key);
  if (r) {
    r.count++;
    return false;
  }
  const els = writable(set);
  const el = make();
  set.byKey.set(key, { count: 1, el, index: els.length });
  els.push(el);
  tracked(set, el, 'add');
  return true;
}

/** Drops a reference; the last one removes the element (the last element takes its place): true then. */
function unref(set: RefSet, key: string): boolean {
  const r = set.byKey.get(key);
  if (!r || --r.count > 0) return false;
  set.byKey.delete(key);
  const els = writable(set);
  const last = els.pop() as Element;
  if (last !== r.el) {
    els[r.index] = last;
    const moved = set.byKey.get(refKeyOf(last));
    if (moved) moved.index = r.index;
  }
  tracked(set, r.el, 'remove');
  return true;
}

/** The reference key of a cluster-ips (`ip`) or hairpin (`ip . ip`) element. */
function refKeyOf(e: Element): string {
  return typeof e.key === 'object' && 'concat' in e.key ? String(e.key.concat[0]) : String(e.key);
}

function addRefs(refs: LowerCache['refs'][Family], fr: Fragment, sign: 1 | -1, dirty: Set<string>): void {
  if (fr.clusterIp !== undefined) {
    const ip = fr.clusterIp;
    if (sign > 0 ? ref(refs.clusterIps, ip, () => ({ key: ip })) : unref(refs.clusterIps, ip)) dirty.add(names.clusterIps);
  }
  for (const ip of fr.hairpinIps) {
    if (sign > 0 ? ref(refs.hairpin, ip, () => ({ key: { concat: [ip, ip] } })) : unref(refs.hairpin, ip)) dirty.add(names.hairpin);
  }
}

function memoChains(cache: LowerCache, key: string, make: () => Chain[]): Chain[] {
  let c = cache.chains.get(key);
  if (!c) {
    c = make();
    cache.chains.set(key, c);
  }
  return c;
}

export function compile(model: ClusterModel, opts: CompileOptions, cache: LowerCache = createLowerCache()): Ruleset {
  const nodeKey = JSON.stringify(model.node.addresses);
  if (cache.opts !== opts || cache.nodeKey !== nodeKey) Object.assign(cache, createLowerCache(), { opts, nodeKey });
  const gen = ++cache.gen;
  const families: Family[] = ['ip', 'ip6'];
  return {
    tables: families.map((f) => {
      const nodeAddrs = nodeAddresses(model, f, opts);
      const fragments: Fragment[] = [];
      const dirty = new Set<string>();
      const refs = cache.refs[f];
      const lastSps = cache.lastSps[f];
      const lastFrs = cache.lastFragments[f];
      const sps: ServicePort[] = [];
      let slow = false;
      for (const sp of model.servicePorts) {
        if ((sp.family === 4 ? 'ip' : 'ip6') !== f) continue;
        // Same service port at the same position as last time: its fragment, without a lookup.
        const k = sps.length;
        sps.push(sp);
        if (lastSps[k] === sp) {
          const same = lastFrs[k] as Fragment;
          same.gen = gen;
          fragments.push(same);
          continue;
        }
        slow = true;
        let fr = cache.fragments.get(sp);
        // Used by the previous compile: still the current version of its service port.
        if (fr && fr.gen === gen - 1) {
          fr.gen = gen;
          fragments.push(fr);
          continue;
        }
        const id = fr ? fr.id : fragmentId(sp, f);
        const prev = cache.previous.get(id);
        // A new or changed service port is lowered, keeping the slots of its previous version.
        if (!fr) {
          fr = lowerServicePort(sp, f, nodeAddrs, prev);
          cache.fragments.set(sp, fr);
        }
        // (fr can also be an older version coming back: same bookkeeping as a change.)
        if (prev !== fr) {
          cache.previous.set(id, fr);
          // New references first: an address the new version keeps never drops to zero, so its
          // element stays the same object (no delete + add of every endpoint of a big service).
          addRefs(refs, fr, 1, dirty);
          contributions(fr, dirty);
          if (prev) {
            addRefs(refs, prev, -1, dirty);
            contributions(prev, dirty);
          }
          moveElements(cache.state[f], prev, fr, dirty);
        }
        fr.gen = gen;
        fragments.push(fr);
      }
      // Service ports that are gone (not replaced by a new version above).
      for (const old of slow || lastFrs.length !== fragments.length ? lastFrs : []) {
        if (old.gen === gen || cache.previous.get(old.id) !== old) continue;
        cache.previous.delete(old.id);
        addRefs(refs, old, -1, dirty);
        contributions(old, dirty);
        moveElements(cache.state[f], old, undefined, dirty);
      }
      cache.lastFragments[f] = fragments;
      cache.lastSps[f] = sps;
      return assemble(f, fragments, opts, nodePortAddresses(f, opts, nodeAddrs, model.node.primaryIPs ?? []), cache, dirty, model);
    }),
  };
}

function nodeAddresses(model: ClusterModel, family: Family, opts: CompileOptions): string[] {
  const all = opts.nodeIPs.length > 0 ? opts.nodeIPs : model.node.addresses;
  return all.filter((a) => (family === 'ip' ? !a.includes(':') : a.includes(':')));
}

/**
 * NodePort addresses of one family, as kube-proxy's NodePortAddresses: the `--nodeport-addresses`
 * CIDRs of this family (`primary` stands for the node's primary IP of the family, from the Node
 * object) matched against the node's addresses (--node-ip / the daemon's interface addresses,
 * else the Node object's). A family without a CIDR (or with a zero CIDR) is not restricted: every
 * node address of that family (--node-ip), else every local address (`fib daddr type local`).
 * Never loopback.
 */
export function nodePortAddresses(family: Family, opts: CompileOptions, nodeAddrs: string[], primaryIPs: string[]): string[] | 'all-local' {
  const ofFamily = (a: string): boolean => (family === 'ip' ? !a.includes(':') : a.includes(':'));
  const lo = loopback(family);
  const notLoopback = (a: string): boolean => !cidrContains(`${lo.addr}/${lo.len}`, a);
  const cidrs = opts.nodePortAddresses
    .flatMap((c) => (c === 'primary' ? primaryIPs.filter(notLoopback).map((ip) => `${ip}/${ip.includes(':') ? 128 : 32}`) : [c]))
    .filter(ofFamily);
  if (cidrs.length > 0 && !cidrs.some((c) => parseCidr(c)?.len === 0)) {
    return nodeAddrs.filter(notLoopback).filter((a) => cidrs.some((c) => cidrContains(c, a)));
  }
  if (opts.nodeIPs.length > 0) return opts.nodeIPs.filter(ofFamily).filter(notLoopback);
  return 'all-local';
}

/** Concatenates element lists, keeping the first of elements with the same key. */
function unique(lists: Iterable<Element[]>, keyOf: (e: Element) => string): Element[] {
  const seen = new Set<string>();
  const out: Element[] = [];
  for (const list of lists) {
    for (const e of list) {
      const k = keyOf(e);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(e);
    }
  }
  return out;
}

const jsonKey = (e: Element): string => JSON.stringify(e.key);

/** Same declaration (everything but the elements); cheap, as it runs for every slot map on every compile. */
function sameDecl(a: Omit<SetDef, 'elements'>, b: Omit<SetDef, 'elements'>): boolean {
  const same = <T>(x: T[] | undefined, y: T[] | undefined): boolean =>
    x === y || (x !== undefined && y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]));
  return (
    a.name === b.name &&
    a.dataType === b.dataType &&
    a.timeout === b.timeout &&
    a.size === b.size &&
    a.dynamic === b.dynamic &&
    same(a.keyType, b.keyType) &&
    same(a.flags, b.flags)
  );
}

/** `<pool>-lb-N`: a uniform random choice among the pool's slots 0..N-1. */
function lbChain(pool: string, n: number): Chain {
  const entries = Array.from({ length: n }, (_, i): [Value, Verdict] => [i, goto(names.slot(pool, i))]);
  return { name: names.lb(pool, n), rules: [rule([{ kind: 'anonvmap', key: { kind: 'numgen', mod: n }, entries }])] };
}

function assemble(
  f: Family,
  fragments: Fragment[],
  opts: CompileOptions,
  npAddrs: string[] | 'all-local',
  cache: LowerCache,
  dirty: Set<string>,
  model: ClusterModel,
): Table {
  const refs = cache.refs[f];
  const last = cache.lastSets[f];
  const current = new Map<string, SetDef>();
  /** The set as last compiled when nothing that feeds it changed, else built anew. */
  const reuse = (decl: Omit<SetDef, 'elements'>, build: () => Element[]): SetDef => {
    const prev = last.get(decl.name);
    const s = prev && !dirty.has(decl.name) && sameDecl(prev, decl) ? prev : { ...decl, elements: build() };
    current.set(s.name, s);
    return s;
  };
  const refElements = (r: RefSet): Element[] => handOut(r);
  const A = addrType(f);
  const keyAPP: SetDef['keyType'] = [A, 'inet_proto', 'inet_service'];
  const keyPP: SetDef['keyType'] = ['inet_proto', 'inet_service'];
  const cidrs = opts.clusterCIDRs
    .map((c) => parseCidr(c))
    .filter((c): c is NonNullable<typeof c> => !!c && (c.family === 4) === (f === 'ip'));
  const pick = (get: (fr: Fragment) => Element[]): Element[][] => fragments.map(get);

  const sets: SetDef[] = [];
  sets.push(reuse({ name: names.clusterIps, keyType: [A] }, () => refElements(refs.clusterIps)));
  if (cidrs.length > 0) {
    sets.push({
      name: names.clusterCidrs,
      keyType: [A],
      flags: ['interval'],
      elements: mergePrefixes(cidrs.map((c) => ({ addr: c.addr, len: c.len }))).map((c) => ({ key: { prefix: c } })),
    });
  }
  if (npAddrs !== 'all-local') sets.push({ name: names.nodeportIps, keyType: [A], elements: npAddrs.map((key) => ({ key })) });
  const statics = staticSets(f, opts, model);
  sets.push(...statics.sets);
  sets.push(
    reuse({ name: names.externalMasq, keyType: keyAPP }, () => unique(pick((fr) => fr.externalMasq), jsonKey)),
    reuse({ name: names.externalLocal, keyType: keyAPP }, () => unique(pick((fr) => fr.externalLocal), jsonKey)),
    reuse({ name: names.nodeportsMasq, keyType: keyPP }, () => unique(pick((fr) => fr.nodeportsMasq), jsonKey)),
    reuse({ name: names.nodeportsLocal, keyType: keyPP }, () => unique(pick((fr) => fr.nodeportsLocal), jsonKey)),
    reuse({ name: names.firewallIps, keyType: keyAPP }, () => unique(pick((fr) => fr.firewallIps), jsonKey)),
    reuse({ name: names.firewallAllow, keyType: [A, 'inet_proto', 'inet_service', A], flags: ['interval'] }, () => unique(pick((fr) => fr.firewallAllow), jsonKey)),
    reuse({ name: names.hairpin, keyType: [A, A] }, () => refElements(refs.hairpin)),
  );

  const lbChains: Chain[] = [];
  const slotChains: Chain[] = [];
  const slotMaps: SetDef[] = [];
  const state = cache.state[f];
  // Per-pool chains by key, reused while in use (the diff then skips them by identity); the memo
  // keeps only this compile's, so chains of counts no longer in use are forgotten.
  const prevChains = cache.poolChains[f];
  const nextChains = new Map<string, Chain>();
  const poolChain = (key: string, make: () => Chain): Chain => {
    const c = prevChains.get(key) ?? make();
    nextChains.set(key, c);
    return c;
  };
  /** An incrementally maintained set: handed out as is (its array is copied on the next change). */
  const maintained = (decl: Omit<SetDef, 'elements'>): SetDef =>
    reuse(decl, () => {
      const es = state.sets.get(decl.name);
      return es ? handOut(es) : [];
    });
  for (const ns of endpointNamespaces) {
    const keyType = keyedByAddress(ns) ? keyAPP : keyPP;
    sets.push(maintained({ name: names.dispatch(ns), keyType, dataType: 'verdict' }));
    for (const { pool, mixed } of poolsOf(ns)) {
      const inUse = state.poolN.get(pool);
      if (!inUse || inUse.size === 0) continue;
      const counts = [...inUse.keys()].sort((a, b) => a - b);
      const maxN = counts[counts.length - 1] as number;
      // Slots 0..maxN-1 (as many as the largest endpoint count in the pool, no rounding up): a
      // count crossing any boundary adds or removes only the slots past the old largest count.
      for (let i = 0; i < maxN; i++) {
        slotMaps.push(maintained({ name: names.slotAddr(pool, i), keyType, dataType: A }));
        if (mixed) slotMaps.push(maintained({ name: names.poolPort(pool, i), keyType, dataType: 'inet_service' }));
        slotChains.push(poolChain(`ep ${pool} ${i}`, () => ({ name: names.slot(pool, i), rules: slotRules(f, ns, pool, mixed, i) })));
      }
      if (!mixed) slotMaps.push(maintained({ name: names.poolPort(pool), keyType, dataType: 'inet_service' }));
      // lb-N only for the endpoint counts N in use: the vmap entries add up to at most the sum of
      // the distinct counts, so to at most the pool's slotted endpoints.
      for (const n of counts) lbChains.push(poolChain(`lb ${pool} ${n}`, () => lbChain(pool, n)));
    }
  }
  sets.push(
    maintained({ name: names.noEndpointServices, keyType: keyAPP, dataType: 'verdict' }),
    maintained({ name: names.noEndpointNodeports, keyType: keyPP, dataType: 'verdict' }),
    ...slotMaps,
  );
  let affinity = cache.lastAffinity[f];
  if (!affinity || dirty.has(AFFINITY)) {
    affinity = { sets: fragments.flatMap((fr) => fr.affinitySets), chains: fragments.flatMap((fr) => fr.affinityChains) };
    cache.lastAffinity[f] = affinity;
  }
  sets.push(...affinity.sets);
  cache.lastSets[f] = current;
  cache.poolChains[f] = nextChains;
  const chains = [
    ...memoChains(cache, `static ${f} ${npAddrs === 'all-local'} ${JSON.stringify(statics.shape)}`, () => staticProgram(f, opts, statics.shape, npAddrs === 'all-local')),
    ...lbChains,
    ...slotChains,
    ...affinity.chains,
  ];
  return { family: f, name: opts.tableName, sets, chains };
}

/**
 * Slot I of a pool: DNAT to the address stored for the packet's key in slot I and its port. One
 * rule for every protocol: the key's `th dport` gives nft the transport context a NAT port needs
 * (three rules per slot, one per protocol, tripled the rules nft fetches on every update).
 */
function slotRules(f: Family, ns: EndpointNamespace, pool: string, mixed: boolean, i: number): Rule[] {
  return [
    rule([
      {
        kind: 'dnat',
        family: f,
        addr: { kind: 'maplookup', key: packetKey(f, ns), map: names.slotAddr(pool, i) },
        port: { kind: 'maplookup', key: packetKey(f, ns), map: mixed ? names.poolPort(pool, i) : names.poolPort(pool) },
      },
    ]),
  ];
}

/**
 * What the static program's rules depend on besides the options (and so the key its memo needs):
 * how traffic from this node's pods is recognised, and whether service CIDRs are known.
 */
interface StaticShape {
  /**
   * kube-proxy's LocalTrafficDetector: the source inside a set of CIDRs (ClusterCIDR, NodeCIDR),
   * or the input interface (BridgeInterface; InterfaceNamePrefix as nft's `"prefix*"` wildcard).
   * Undefined when not implemented (e.g. ClusterCIDR without --cluster-cidr): then, as in
   * kube-proxy, off-cluster cluster-IP traffic is not masqueraded and only the node's own traffic
   * is told apart from outside traffic under externalTrafficPolicy Local.
   */
  local?: { set: string } | { iifname: string };
  serviceCidrs: boolean;
}

/** The static program's own sets (local detection, service CIDRs) and its shape. */
function staticSets(f: Family, opts: CompileOptions, model: ClusterModel): { sets: SetDef[]; shape: StaticShape } {
  const A = addrType(f);
  const ofFamily = (cs: readonly string[]): { addr: string; len: number }[] =>
    cs.map((c) => parseCidr(c)).filter((c): c is NonNullable<typeof c> => !!c && (c.family === 4) === (f === 'ip')).map((c) => ({ addr: c.addr, len: c.len }));
  const prefixSet = (name: string, ps: { addr: string; len: number }[]): SetDef => ({
    name,
    keyType: [A],
    flags: ['interval'],
    elements: mergePrefixes(ps).map((c) => ({ key: { prefix: c } })),
  });
  const sets: SetDef[] = [];
  const shape: StaticShape = { serviceCidrs: false };
  switch (opts.detectLocalMode ?? 'ClusterCIDR') {
    case 'ClusterCIDR':
      if (ofFamily(opts.clusterCIDRs).length > 0) shape.local = { set: names.clusterCidrs }; // the set is assemble's
      break;
    case 'NodeCIDR': {
      const ps = ofFamily(model.node.podCIDRs ?? []);
      if (ps.length > 0) {
        sets.push(prefixSet(names.nodePodCidrs, ps));
        shape.local = { set: names.nodePodCidrs };
      }
      break;
    }
    case 'BridgeInterface':
      if (opts.podBridgeInterface) shape.local = { iifname: opts.podBridgeInterface };
      break;
    case 'InterfaceNamePrefix':
      if (opts.podInterfaceNamePrefix) shape.local = { iifname: `${opts.podInterfaceNamePrefix}*` };
      break;
  }
  const svc = ofFamily([...(opts.serviceCIDRs ?? []), ...(model.serviceCIDRs ?? [])]);
  if (svc.length > 0) {
    sets.push(prefixSet(names.serviceCidrs, svc));
    shape.serviceCidrs = true;
  }
  return { sets, shape };
}

/** The chains and rules that depend only on configuration. */
function staticProgram(f: Family, opts: CompileOptions, shape: StaticShape, nodePortsOnAllLocal: boolean): Chain[] {
  const masqMark = (1 << opts.masqueradeBit) >>> 0;
  const base = (name: string, type: 'nat' | 'filter', hook: NonNullable<Chain['base']>['hook'], prio: number, rules: Rule[]): Chain => ({
    name,
    base: { type, hook, prio, policy: 'accept' },
    rules,
  });
  const ctNew = match({ kind: 'ct', key: 'state' }, 'in', konst('new'));
  const keyAPP = packetKey(f, 'svc');
  const keyPP = packetKey(f, 'np');
  const iifname: Expr = { kind: 'meta', key: 'iifname' };
  /** The packet does not come from this node's pods (kube-proxy's IfNotLocalNFT); [] when undetectable. */
  const notFromPods: Stmt[] =
    shape.local === undefined ? [] : 'set' in shape.local ? [match(saddr(f), '!=', set(shape.local.set))] : [match(iifname, '!=', konst(shape.local.iifname))];
  const fromOutside: Stmt[] = [...notFromPods, match(fibType('saddr'), '!=', konst('local'))];
  const fromNode = match(fibType('saddr'), '==', konst('local'));
  const nodeportDst: Stmt[] = nodePortsOnAllLocal
    ? [match(fibType('daddr'), '==', konst('local')), match(daddr(f), '!=', konst({ prefix: loopback(f) }))]
    : [match(daddr(f), '==', set(names.nodeportIps))];
  const clusterMasq: Rule[] = opts.masqueradeAll
    ? [rule([match(daddr(f), '==', set(names.clusterIps)), jump(names.markForMasquerade)], 'masquerade all traffic to cluster IPs (masqueradeAll)')]
    : notFromPods.length > 0
      ? [rule([match(daddr(f), '==', set(names.clusterIps)), ...notFromPods, jump(names.markForMasquerade)], 'masquerade off-cluster traffic to cluster IPs')]
      : [];
  return [
    base(names.natPrerouting, 'nat', 'prerouting', -100, [rule([jump(names.services)])]),
    base(names.natOutput, 'nat', 'output', -100, [rule([jump(names.services)])]),
    base(names.natPostrouting, 'nat', 'postrouting', 100, [rule([jump(names.masquerading)])]),
    // Source ranges are checked before DNAT, on traffic arriving (prerouting) and on traffic the
    // node itself sends (output), as kube-proxy does.
    // Source ranges are checked on new connections only (kube-proxy jumps to firewall-check with
    // `ct state new`): changing loadBalancerSourceRanges does not cut established connections.
    base(names.filterPrerouting, 'filter', 'prerouting', -110, [rule([ctNew, jump(names.firewallCheck)])]),
    base(names.filterOutputPreDnat, 'filter', 'output', -110, [rule([ctNew, jump(names.firewallCheck)])]),
    base(names.filterInput, 'filter', 'input', -90, [rule([ctNew, jump(names.endpointsCheck)])]),
    // cluster-ips-check after DNAT, on forwarded and locally sent traffic (not input), as
    // kube-proxy's filter-forward and filter-output-post-dnat do: what is still addressed to a
    // cluster IP there was not DNATed, so its port is not a service port.
    base(names.filterForward, 'filter', 'forward', -90, [rule([ctNew, jump(names.endpointsCheck)]), rule([ctNew, jump(names.clusterIpsCheck)])]),
    base(names.filterOutput, 'filter', 'output', -90, [rule([ctNew, jump(names.endpointsCheck)]), rule([ctNew, jump(names.clusterIpsCheck)])]),
    {
      name: names.firewallCheck,
      rules: [
        rule(
          [match(keyAPP, '==', set(names.firewallIps)), match({ kind: 'concat', parts: [daddr(f), l4proto, dport, saddr(f)] }, '!=', set(names.firewallAllow)), verdict({ kind: 'drop' })],
          'loadBalancerSourceRanges: drop sources outside the allowed ranges',
        ),
      ],
    },
    {
      name: names.services,
      rules: [
        ...clusterMasq,
        rule([match(keyAPP, '==', set(names.externalMasq)), jump(names.markForMasquerade)], 'masquerade traffic to external IPs (externalTrafficPolicy Cluster)'),
        rule([...fromOutside, { kind: 'vmap', key: keyAPP, map: names.dispatch('svc-local') }], 'externalTrafficPolicy Local: outside traffic to local endpoints'),
        rule([fromNode, match(keyAPP, '==', set(names.externalLocal)), jump(names.markForMasquerade)], 'externalTrafficPolicy Local: masquerade traffic from the node'),
        rule([{ kind: 'vmap', key: keyAPP, map: names.dispatch('svc') }]),
        rule([...nodeportDst, jump(names.nodeports)], 'NodePorts on node addresses (last)'),
      ],
    },
    {
      name: names.nodeports,
      rules: [
        rule([match(keyPP, '==', set(names.nodeportsMasq)), jump(names.markForMasquerade)], 'masquerade NodePort traffic (externalTrafficPolicy Cluster)'),
        rule([...fromOutside, { kind: 'vmap', key: keyPP, map: names.dispatch('np-local') }], 'externalTrafficPolicy Local: outside traffic to local endpoints'),
        rule([fromNode, match(keyPP, '==', set(names.nodeportsLocal)), jump(names.markForMasquerade)], 'externalTrafficPolicy Local: masquerade traffic from the node'),
        rule([{ kind: 'vmap', key: keyPP, map: names.dispatch('np') }]),
      ],
    },
    {
      name: names.endpointsCheck,
      rules: [
        rule([{ kind: 'vmap', key: keyAPP, map: names.noEndpointServices }], 'services without endpoints are rejected'),
        rule([...nodeportDst, { kind: 'vmap', key: keyPP, map: names.noEndpointNodeports }], 'NodePorts without endpoints are rejected'),
      ],
    },
    {
      name: names.clusterIpsCheck,
      rules: [
        rule([match(daddr(f), '==', set(names.clusterIps)), gotoStmt(names.rejectChain)], 'cluster IP on a port that is not a service port'),
        ...(shape.serviceCidrs ? [rule([match(daddr(f), '==', set(names.serviceCidrs)), verdict({ kind: 'drop' })], 'unallocated address in the service CIDRs')] : []),
      ],
    },
    {
      name: names.rejectChain,
      rules: [rule([match(l4proto, '==', konst('tcp')), { kind: 'reject', with: 'tcp-reset' }]), rule([{ kind: 'reject', with: 'icmpx-port-unreachable' }])],
    },
    { name: names.markForMasquerade, rules: [rule([{ kind: 'setmark', value: { kind: 'or', left: mark, bits: masqMark } }])] },
    {
      name: names.masquerading,
      rules: [
        rule([match({ kind: 'concat', parts: [saddr(f), daddr(f)] }, '==', set(names.hairpin)), jump(names.markForMasquerade)], 'hairpin: a pod reaching itself through a service'),
        rule([match({ kind: 'and', left: mark, mask: masqMark }, '==', konst(0)), verdict({ kind: 'return' })]),
        rule([{ kind: 'setmark', value: { kind: 'xor', left: mark, bits: masqMark } }]),
        rule([{ kind: 'masquerade', fullyRandom: true }]),
      ],
    },
  ];
}

/** Interval sets reject overlapping elements: keep only prefixes not covered by another. */
function mergePrefixes(ps: { addr: string; len: number }[]): { addr: string; len: number }[] {
  const sorted = [...ps].sort((a, b) => a.len - b.len);
  const out: { addr: string; len: number }[] = [];
  for (const p of sorted) {
    if (!out.some((o) => cidrContains(`${o.addr}/${o.len}`, p.addr))) out.push(p);
  }
  return out;
}
