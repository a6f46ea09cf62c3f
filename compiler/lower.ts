// Lowering: service model → IR. The layout is "static program, dynamic maps" (README, "Design"):
// a fixed set of chains and rules (`staticProgram`), with every service and endpoint stored as
// set/map elements contributed by per-service-port fragments (fragment.ts). The only chains that
// depend on the data are
//   - `<ns>-lb-N` (numgen's modulus is an immediate, so one chain per endpoint count N) and
//     `<ns>-ep-I` (one per slot), both for 1..S where S is the largest endpoint count rounded up
//     to a power of two (at least MIN_SLOTS): they change only when S does;
//   - affinity chains for services with sessionAffinity ClientIP (a measured exception).
// None of them grows with the number of services.
//
// Pass a LowerCache to reuse the fragments of unchanged service ports between compiles (the
// daemon and the benchmark do): the ruleset then shares element objects with the previous one,
// which the diff exploits.

import type { Chain, Element, Family, Rule, Ruleset, SetDef, Stmt, Table, Value, Verdict } from '../ir/types.js';
import { cidrContains, parseCidr } from '../ir/ip.js';
import type { ClusterModel, CompileOptions, ServicePort } from './model/types.js';
import { addrType, endpointNamespaces, keyedByAddress, loopback, names, slotCount, type EndpointNamespace } from './layout.js';
import { lowerServicePort, type Fragment } from './fragment.js';
import { daddr, dport, fibType, goto, goto2, jump, konst, l4proto, mark, match, packetKey, rule, saddr, set, verdict } from './ir-build.js';

export { boundedComment } from './fragment.js';

const protocols = ['tcp', 'udp', 'sctp'] as const;

/**
 * Elements shared by several service ports (a cluster IP of a multi-port service, an endpoint
 * address behind several ports), reference-counted across compiles so that deduplicating them
 * costs O(change) instead of hashing every address on every compile. Map order = element order.
 */
type RefSet = Map<string, { count: number; el: Element }>;

/** Memo of fragments by ServicePort object; valid for one options object and node address list. */
export interface LowerCache {
  opts?: CompileOptions;
  nodeKey?: string;
  fragments: WeakMap<ServicePort, Fragment>;
  /** The last fragment of each service port by identity (`family id`), for stable slots. */
  previous: Map<string, Fragment>;
  refs: Record<Family, { clusterIps: RefSet; hairpin: RefSet }>;
  /** Chains that depend only on configuration / slot counts: reused so the diff skips them. */
  chains: Map<string, Chain[]>;
}

export function createLowerCache(): LowerCache {
  return { fragments: new WeakMap(), previous: new Map(), refs: emptyRefs(), chains: new Map() };
}

const emptyRefs = (): LowerCache['refs'] => ({
  ip: { clusterIps: new Map(), hairpin: new Map() },
  ip6: { clusterIps: new Map(), hairpin: new Map() },
});

function ref(set: RefSet, key: string, make: () => Element): void {
  const r = set.get(key);
  if (r) r.count++;
  else set.set(key, { count: 1, el: make() });
}

function unref(set: RefSet, key: string): void {
  const r = set.get(key);
  if (!r) return;
  if (--r.count === 0) set.delete(key);
}

function addRefs(refs: LowerCache['refs'][Family], fr: Fragment, sign: 1 | -1): void {
  if (fr.clusterIp !== undefined) {
    const ip = fr.clusterIp;
    if (sign > 0) ref(refs.clusterIps, ip, () => ({ key: ip }));
    else unref(refs.clusterIps, ip);
  }
  for (const ip of fr.hairpinIps) {
    if (sign > 0) ref(refs.hairpin, ip, () => ({ key: { concat: [ip, ip] } }));
    else unref(refs.hairpin, ip);
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
  if (cache.opts !== opts || cache.nodeKey !== nodeKey) {
    cache.opts = opts;
    cache.nodeKey = nodeKey;
    cache.fragments = new WeakMap();
    cache.previous = new Map();
    cache.refs = emptyRefs();
    cache.chains = new Map();
  }
  const current = new Map<string, Fragment>();
  const families: Family[] = ['ip', 'ip6'];
  const ruleset: Ruleset = {
    tables: families.map((f) => {
      const nodeAddrs = nodeAddresses(model, f, opts);
      const fragments: Fragment[] = [];
      for (const sp of model.servicePorts) {
        if ((sp.family === 4 ? 'ip' : 'ip6') !== f) continue;
        const id = `${f} ${sp.id}/${sp.protocol}`;
        let fr = cache.fragments.get(sp);
        if (!fr) {
          fr = lowerServicePort(sp, f, nodeAddrs, cache.previous.get(id));
          cache.fragments.set(sp, fr);
        }
        const prev = cache.previous.get(id);
        if (prev !== fr) {
          if (prev) addRefs(cache.refs[f], prev, -1);
          addRefs(cache.refs[f], fr, 1);
        }
        current.set(id, fr);
        fragments.push(fr);
      }
      for (const [id, prev] of cache.previous) {
        if (id.startsWith(`${f} `) && !current.has(id)) addRefs(cache.refs[f], prev, -1);
      }
      return assemble(f, fragments, opts, nodePortAddresses(f, opts, nodeAddrs), cache);
    }),
  };
  cache.previous = current;
  return ruleset;
}

function nodeAddresses(model: ClusterModel, family: Family, opts: CompileOptions): string[] {
  const all = opts.nodeIPs.length > 0 ? opts.nodeIPs : model.node.addresses;
  return all.filter((a) => (family === 'ip' ? !a.includes(':') : a.includes(':')));
}

/**
 * NodePort addresses. With --nodeport-addresses: the node addresses (--node-ip, else the Node
 * object's) inside those CIDRs; else --node-ip; else every local address (`fib daddr type local`).
 * Never loopback.
 */
function nodePortAddresses(family: Family, opts: CompileOptions, nodeAddrs: string[]): string[] | 'all-local' {
  const ofFamily = (a: string): boolean => (family === 'ip' ? !a.includes(':') : a.includes(':'));
  const lo = loopback(family);
  const notLoopback = (a: string): boolean => !cidrContains(`${lo.addr}/${lo.len}`, a);
  if (opts.nodePortAddresses.length > 0) {
    const cidrs = opts.nodePortAddresses.filter(ofFamily);
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

function assemble(f: Family, fragments: Fragment[], opts: CompileOptions, npAddrs: string[] | 'all-local', cache: LowerCache): Table {
  const refs = cache.refs[f];
  const refElements = (r: RefSet): Element[] => {
    const out: Element[] = new Array<Element>(r.size);
    let i = 0;
    for (const v of r.values()) out[i++] = v.el;
    return out;
  };
  const A = addrType(f);
  const keyAPP: SetDef['keyType'] = [A, 'inet_proto', 'inet_service'];
  const keyPP: SetDef['keyType'] = ['inet_proto', 'inet_service'];
  const cidrs = opts.clusterCIDRs
    .map((c) => parseCidr(c))
    .filter((c): c is NonNullable<typeof c> => !!c && (c.family === 4) === (f === 'ip'));
  const pick = (get: (fr: Fragment) => Element[]): Element[][] => fragments.map(get);

  const sets: SetDef[] = [];
  sets.push({ name: names.clusterIps, keyType: [A], elements: refElements(refs.clusterIps) });
  if (cidrs.length > 0) {
    sets.push({
      name: names.clusterCidrs,
      keyType: [A],
      flags: ['interval'],
      elements: mergePrefixes(cidrs.map((c) => ({ addr: c.addr, len: c.len }))).map((c) => ({ key: { prefix: c } })),
    });
  }
  if (npAddrs !== 'all-local') sets.push({ name: names.nodeportIps, keyType: [A], elements: npAddrs.map((key) => ({ key })) });
  sets.push(
    { name: names.externalMasq, keyType: keyAPP, elements: unique(pick((fr) => fr.externalMasq), jsonKey) },
    { name: names.externalLocal, keyType: keyAPP, elements: unique(pick((fr) => fr.externalLocal), jsonKey) },
    { name: names.nodeportsMasq, keyType: keyPP, elements: unique(pick((fr) => fr.nodeportsMasq), jsonKey) },
    { name: names.nodeportsLocal, keyType: keyPP, elements: unique(pick((fr) => fr.nodeportsLocal), jsonKey) },
    { name: names.firewallIps, keyType: keyAPP, elements: unique(pick((fr) => fr.firewallIps), jsonKey) },
    { name: names.firewallAllow, keyType: [A, 'inet_proto', 'inet_service', A], flags: ['interval'], elements: unique(pick((fr) => fr.firewallAllow), jsonKey) },
    { name: names.hairpin, keyType: [A, A], elements: refElements(refs.hairpin) },
  );

  const noEpServices: Element[] = [];
  const noEpNodeports: Element[] = [];
  const lbChains: Chain[] = [];
  const slotChains: Chain[] = [];
  const slotMaps: SetDef[] = [];
  for (const ns of endpointNamespaces) {
    const keyType = keyedByAddress(ns) ? keyAPP : keyPP;
    const dispatch: Element[] = [];
    const slotAddr: Element[][] = [];
    const slotPort: Element[][] = [];
    let maxN = 0;
    for (const fr of fragments) {
      for (const t of fr.targets[ns]) {
        if (t.dispatch) dispatch.push(t.dispatch);
        if (t.noEndpoint) (keyedByAddress(ns) ? noEpServices : noEpNodeports).push(t.noEndpoint);
        if (t.n === 0) continue;
        if (t.n > maxN) maxN = t.n;
        t.slots.forEach(([a, p], i) => {
          (slotAddr[i] ??= []).push(a);
          (slotPort[i] ??= []).push(p);
        });
      }
    }
    sets.push({ name: names.dispatch(ns), keyType, dataType: 'verdict', elements: dispatch });
    if (maxN === 0) continue;
    // lb-N for every N up to the slot count: an endpoint count change never needs a new chain.
    const slots = slotCount(maxN);
    for (let i = 0; i < slots; i++) {
      slotMaps.push({ name: names.slotAddr(ns, i), keyType, dataType: A, elements: slotAddr[i] ?? [] });
      slotMaps.push({ name: names.slotPort(ns, i), keyType, dataType: 'inet_service', elements: slotPort[i] ?? [] });
    }
    slotChains.push(...memoChains(cache, `slots ${f} ${ns} ${slots}`, () => Array.from({ length: slots }, (_, i) => ({ name: names.slot(ns, i), rules: slotRules(f, ns, i) }))));
    lbChains.push(
      ...memoChains(cache, `lb ${f} ${ns} ${slots}`, () =>
        Array.from({ length: slots }, (_, k) => {
          const n = k + 1;
          const entries = Array.from({ length: n }, (_, i): [Value, Verdict] => [i, goto(names.slot(ns, i))]);
          return { name: names.lb(ns, n), rules: [rule([{ kind: 'anonvmap', key: { kind: 'numgen', mod: n }, entries }])] };
        }),
      ),
    );
  }
  sets.push(
    { name: names.noEndpointServices, keyType: keyAPP, dataType: 'verdict', elements: noEpServices },
    { name: names.noEndpointNodeports, keyType: keyPP, dataType: 'verdict', elements: noEpNodeports },
    ...slotMaps,
    ...fragments.flatMap((fr) => fr.affinitySets),
  );
  const chains = [
    ...memoChains(cache, `static ${f} ${cidrs.length > 0} ${npAddrs === 'all-local'}`, () => staticProgram(f, opts, cidrs.length > 0, npAddrs === 'all-local')),
    ...lbChains,
    ...slotChains,
    ...fragments.flatMap((fr) => fr.affinityChains),
  ];
  return { family: f, name: opts.tableName, sets, chains };
}

/** Slot I of a namespace: DNAT to the address and port stored for the packet's key in slot I. */
function slotRules(f: Family, ns: EndpointNamespace, i: number): Rule[] {
  // One rule per protocol: a NAT port needs an L4 protocol match in the same rule.
  return protocols.map((proto) =>
    rule([
      match(l4proto, '==', konst(proto)),
      {
        kind: 'dnat',
        family: f,
        addr: { kind: 'maplookup', key: packetKey(f, ns), map: names.slotAddr(ns, i) },
        port: { kind: 'maplookup', key: packetKey(f, ns), map: names.slotPort(ns, i) },
      },
    ]),
  );
}

/** The chains and rules that depend only on configuration. */
function staticProgram(f: Family, opts: CompileOptions, haveCidrs: boolean, nodePortsOnAllLocal: boolean): Chain[] {
  const masqMark = (1 << opts.masqueradeBit) >>> 0;
  const base = (name: string, type: 'nat' | 'filter', hook: NonNullable<Chain['base']>['hook'], prio: number, rules: Rule[]): Chain => ({
    name,
    base: { type, hook, prio, policy: 'accept' },
    rules,
  });
  const ctNew = match({ kind: 'ct', key: 'state' }, 'in', konst('new'));
  const keyAPP = packetKey(f, 'svc');
  const keyPP = packetKey(f, 'np');
  const fromOutside: Stmt[] = [...(haveCidrs ? [match(saddr(f), '!=', set(names.clusterCidrs))] : []), match(fibType('saddr'), '!=', konst('local'))];
  const fromNode = match(fibType('saddr'), '==', konst('local'));
  const nodeportDst: Stmt[] = nodePortsOnAllLocal
    ? [match(fibType('daddr'), '==', konst('local')), match(daddr(f), '!=', konst({ prefix: loopback(f) }))]
    : [match(daddr(f), '==', set(names.nodeportIps))];
  const clusterMasq: Rule[] = opts.masqueradeAll
    ? [rule([match(daddr(f), '==', set(names.clusterIps)), jump(names.markForMasquerade)], 'masquerade all traffic to cluster IPs (masqueradeAll)')]
    : haveCidrs
      ? [
          rule(
            [match(daddr(f), '==', set(names.clusterIps)), match(saddr(f), '!=', set(names.clusterCidrs)), jump(names.markForMasquerade)],
            'masquerade off-cluster traffic to cluster IPs',
          ),
        ]
      : [];
  return [
    base(names.natPrerouting, 'nat', 'prerouting', -100, [rule([jump(names.services)])]),
    base(names.natOutput, 'nat', 'output', -100, [rule([jump(names.services)])]),
    base(names.natPostrouting, 'nat', 'postrouting', 100, [rule([jump(names.masquerading)])]),
    // Source ranges are checked before DNAT, on traffic arriving (prerouting) and on traffic the
    // node itself sends (output), as kube-proxy does.
    base(names.filterPrerouting, 'filter', 'prerouting', -110, [rule([jump(names.firewallCheck)])]),
    base(names.filterOutputPreDnat, 'filter', 'output', -110, [rule([jump(names.firewallCheck)])]),
    base(names.filterInput, 'filter', 'input', -90, [rule([ctNew, jump(names.endpointsCheck)])]),
    base(names.filterForward, 'filter', 'forward', -90, [rule([ctNew, jump(names.endpointsCheck)])]),
    base(names.filterOutput, 'filter', 'output', -90, [rule([ctNew, jump(names.endpointsCheck)])]),
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
        rule([match(daddr(f), '==', set(names.clusterIps)), goto2(names.rejectChain)], 'cluster IP on a port that is not a service port'),
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
