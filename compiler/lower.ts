// Lowering: service model → IR. The layout is "static program, dynamic maps" (see README,
// "Design"): a fixed set of chains and rules, with every service and endpoint stored as set/map
// elements. The only chains that depend on the data are
//   - `<ns>-lb-N`: one per endpoint count N in use (random choice among N slots, numgen mod N is
//     an immediate, so each N needs its own rule), always present for N = 1..MIN_SLOTS;
//   - `<ns>-ep-I`: one per slot index, up to the largest endpoint count rounded up to a power of two;
//   - affinity chains for services with sessionAffinity ClientIP (a measured exception).
// None of them grows with the number of services.

import { createHash } from 'node:crypto';
import type { ClusterModel, CompileOptions, Endpoint, IpFamily, Protocol, ServicePort } from './model/types.js';
import type { Chain, Element, Expr, Family, Rule, Ruleset, SetDef, Stmt, Table, Value, Verdict } from '../ir/types.js';
import {
  addrType,
  endpointNamespaces,
  keyedByAddress,
  loopback,
  MIN_SLOTS,
  names,
  slotCount,
  type EndpointNamespace,
} from './layout.js';
import { cidrContains, parseCidr } from '../ir/ip.js';

const protocols: Protocol[] = ['tcp', 'udp', 'sctp'];

// ---------------------------------------------------------------------------------------------
// Expression helpers

const daddr = (f: Family): Expr => ({ kind: 'payload', protocol: f, field: 'daddr' });
const saddr = (f: Family): Expr => ({ kind: 'payload', protocol: f, field: 'saddr' });
const l4proto: Expr = { kind: 'meta', key: 'l4proto' };
const dport: Expr = { kind: 'payload', protocol: 'th', field: 'dport' };
const mark: Expr = { kind: 'meta', key: 'mark' };
const set = (name: string): Expr => ({ kind: 'setref', name });
const konst = (value: Value): Expr => ({ kind: 'const', value });
const match = (left: Expr, op: '==' | '!=' | 'in', right: Expr): Stmt => ({ kind: 'match', left, op, right });
const verdict = (v: Verdict): Stmt => ({ kind: 'verdict', verdict: v });
const jump = (target: string): Stmt => verdict({ kind: 'jump', target });
const goto = (target: string): Verdict => ({ kind: 'goto', target });
const fibType = (lookup: 'saddr' | 'daddr'): Expr => ({ kind: 'fib', lookup, result: 'type' });
const rule = (stmts: Stmt[], comment?: string): Rule => (comment ? { stmts, comment } : { stmts });

/** The lookup key of a namespace, from the packet. */
const packetKey = (f: Family, ns: EndpointNamespace): Expr =>
  keyedByAddress(ns) ? { kind: 'concat', parts: [daddr(f), l4proto, dport] } : { kind: 'concat', parts: [l4proto, dport] };

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 10);

/** Kernel comments are limited to 128 bytes; keep the informative start. */
export function boundedComment(s: string): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= 128) return s;
  let cut = b.subarray(0, 125).toString('utf8');
  while (Buffer.byteLength(cut, 'utf8') > 125) cut = cut.slice(0, -1);
  return cut.replace(/\uFFFD$/, '') + '...';
}

// ---------------------------------------------------------------------------------------------
// Collecting what each namespace needs

/** One dispatch entry: a key in a namespace, and the endpoints it balances over. */
interface Target {
  key: Value;
  sp: ServicePort;
  endpoints: Endpoint[];
  /** 'cluster' or 'local' endpoint choice; used for affinity chain identity. */
  choice: 'cluster' | 'local';
  comment: string;
  /** What to do when `endpoints` is empty: reject (no-endpoint maps) or drop. */
  whenEmpty: 'reject' | 'drop';
}

interface FamilyPlan {
  family: Family;
  targets: Record<EndpointNamespace, Target[]>;
  clusterIps: Set<string>;
  externalMasq: Value[];
  externalLocal: Value[];
  nodeportsMasq: Value[];
  nodeportsLocal: Value[];
  firewallIps: Value[];
  firewallAllow: Value[];
  endpointIps: Set<string>;
}

const familyOf = (v: IpFamily): Family => (v === 4 ? 'ip' : 'ip6');

function plan(model: ClusterModel, family: Family, opts: CompileOptions): FamilyPlan {
  const p: FamilyPlan = {
    family,
    targets: { svc: [], np: [], 'svc-local': [], 'np-local': [] },
    clusterIps: new Set(),
    externalMasq: [],
    externalLocal: [],
    nodeportsMasq: [],
    nodeportsLocal: [],
    firewallIps: [],
    firewallAllow: [],
    endpointIps: new Set(),
  };
  const nodeAddrs = nodeAddresses(model, family, opts);
  for (const sp of model.servicePorts) {
    if (familyOf(sp.family) !== family) continue;
    const proto = sp.protocol;
    for (const ep of sp.clusterEndpoints) p.endpointIps.add(ep.ip);
    for (const ep of sp.localEndpoints) p.endpointIps.add(ep.ip);
    for (const ep of sp.externalEndpoints ?? []) p.endpointIps.add(ep.ip);
    const itpLocal = sp.internalTrafficPolicy === 'Local';
    const etpLocal = sp.externalTrafficPolicy === 'Local';
    if (sp.clusterIP) {
      p.clusterIps.add(sp.clusterIP);
      p.targets.svc.push({
        key: { concat: [sp.clusterIP, proto, sp.port] },
        sp,
        endpoints: sp.clusterEndpoints,
        choice: 'cluster',
        comment: `${sp.id} cluster IP`,
        // ITP=Local without local endpoints drops (kube-proxy), no endpoints at all rejects.
        whenEmpty: itpLocal && sp.endpoints.length > 0 ? 'drop' : 'reject',
      });
    }
    // External destinations reach every usable endpoint from inside the cluster; ETP=Local
    // restricts traffic from outside to local endpoints.
    const externalEndpoints = sp.externalEndpoints ?? sp.clusterEndpoints;
    const externals: [string, string][] = [
      ...sp.externalIPs.map((ip): [string, string] => [ip, 'external IP']),
      ...sp.loadBalancerIPs.map((ip): [string, string] => [ip, 'loadbalancer IP']),
    ];
    for (const [ip, what] of externals) {
      const key: Value = { concat: [ip, proto, sp.port] };
      p.targets.svc.push({ key, sp, endpoints: externalEndpoints, choice: 'cluster', comment: `${sp.id} ${what}`, whenEmpty: 'reject' });
      if (etpLocal) {
        p.externalLocal.push(key);
        p.targets['svc-local'].push({
          key,
          sp,
          endpoints: sp.localEndpoints,
          choice: 'local',
          comment: `${sp.id} ${what} (local endpoints)`,
          whenEmpty: externalEndpoints.length > 0 ? 'drop' : 'reject',
        });
      } else {
        p.externalMasq.push(key);
      }
    }
    for (const ip of sp.loadBalancerIPs) {
      if (sp.loadBalancerSourceRanges.length === 0) continue;
      p.firewallIps.push({ concat: [ip, proto, sp.port] });
      for (const cidr of sp.loadBalancerSourceRanges) {
        const c = parseCidr(cidr);
        if (!c) continue;
        p.firewallAllow.push({ concat: [ip, proto, sp.port, { prefix: { addr: c.addr, len: c.len } }] });
      }
      // kube-proxy: when the node itself is inside the allowed ranges, traffic the node sends
      // to the LB IP (sourced from the LB IP when it is local) is allowed too.
      if (nodeAddrs.some((a) => sp.loadBalancerSourceRanges.some((r) => cidrContains(r, a)))) {
        p.firewallAllow.push({ concat: [ip, proto, sp.port, { prefix: { addr: ip, len: family === 'ip' ? 32 : 128 } }] });
      }
    }
    if (sp.nodePort !== undefined) {
      const key: Value = { concat: [proto, sp.nodePort] };
      p.targets.np.push({ key, sp, endpoints: externalEndpoints, choice: 'cluster', comment: `${sp.id} nodePort`, whenEmpty: 'reject' });
      if (etpLocal) {
        p.nodeportsLocal.push(key);
        p.targets['np-local'].push({
          key,
          sp,
          endpoints: sp.localEndpoints,
          choice: 'local',
          comment: `${sp.id} nodePort (local endpoints)`,
          whenEmpty: externalEndpoints.length > 0 ? 'drop' : 'reject',
        });
      } else {
        p.nodeportsMasq.push(key);
      }
    }
  }
  return p;
}

function nodeAddresses(model: ClusterModel, family: Family, opts: CompileOptions): string[] {
  const all = opts.nodeIPs.length > 0 ? opts.nodeIPs : model.node.addresses;
  return all.filter((a) => (family === 'ip' ? !a.includes(':') : a.includes(':')));
}

/** NodePort addresses: --node-ip (or none = every local address), filtered by --nodeport-addresses, never loopback. */
function nodePortAddresses(family: Family, opts: CompileOptions): string[] | 'all-local' {
  const ips = opts.nodeIPs.filter((a) => (family === 'ip' ? !a.includes(':') : a.includes(':')));
  const cidrs = opts.nodePortAddresses.filter((c) => (family === 'ip' ? !c.includes(':') : c.includes(':')));
  const lo = loopback(family);
  const notLoopback = (a: string): boolean => !cidrContains(`${lo.addr}/${lo.len}`, a);
  if (opts.nodeIPs.length === 0 && opts.nodePortAddresses.length === 0) return 'all-local';
  if (opts.nodeIPs.length === 0) return cidrs.length === 0 ? [] : 'all-local';
  return ips.filter(notLoopback).filter((a) => cidrs.length === 0 || cidrs.some((c) => cidrContains(c, a)));
}

// ---------------------------------------------------------------------------------------------
// Building one family's table

export function compile(model: ClusterModel, opts: CompileOptions): Ruleset {
  const families: Family[] = ['ip', 'ip6'];
  return { tables: families.map((f) => lowerFamily(plan(model, f, opts), opts)) };
}

function lowerFamily(p: FamilyPlan, opts: CompileOptions): Table {
  const f = p.family;
  const A = addrType(f);
  const sets: SetDef[] = [];
  const chains: Chain[] = [];
  const bit = 1 << opts.masqueradeBit >>> 0;
  const masqMark = bit >>> 0;
  const cidrs = opts.clusterCIDRs
    .map((c) => parseCidr(c))
    .filter((c): c is NonNullable<typeof c> => !!c && (c.family === 4) === (f === 'ip'));
  const npAddrs = nodePortAddresses(f, opts);

  // --- sets and maps of the static program
  const addSet = (s: Omit<SetDef, 'elements'> & { elements?: Element[] }): void => {
    sets.push({ ...s, elements: s.elements ?? [] });
  };
  const keyAPP: SetDef['keyType'] = [A, 'inet_proto', 'inet_service'];
  const keyPP: SetDef['keyType'] = ['inet_proto', 'inet_service'];
  const elems = (vs: Value[]): Element[] => dedupe(vs).map((key) => ({ key }));

  addSet({ name: names.clusterIps, keyType: [A], elements: elems([...p.clusterIps]) });
  if (cidrs.length > 0) {
    addSet({
      name: names.clusterCidrs,
      keyType: [A],
      flags: ['interval'],
      elements: mergePrefixes(cidrs.map((c) => ({ addr: c.addr, len: c.len }))).map((c) => ({ key: { prefix: c } })),
    });
  }
  if (npAddrs !== 'all-local') addSet({ name: names.nodeportIps, keyType: [A], elements: elems(npAddrs) });
  addSet({ name: names.externalMasq, keyType: keyAPP, elements: elems(p.externalMasq) });
  addSet({ name: names.externalLocal, keyType: keyAPP, elements: elems(p.externalLocal) });
  addSet({ name: names.nodeportsMasq, keyType: keyPP, elements: elems(p.nodeportsMasq) });
  addSet({ name: names.nodeportsLocal, keyType: keyPP, elements: elems(p.nodeportsLocal) });
  addSet({ name: names.firewallIps, keyType: keyAPP, elements: elems(p.firewallIps) });
  addSet({ name: names.firewallAllow, keyType: [A, 'inet_proto', 'inet_service', A], flags: ['interval'], elements: elems(p.firewallAllow) });
  addSet({ name: names.hairpin, keyType: [A, A], elements: [...p.endpointIps].sort().map((ip) => ({ key: { concat: [ip, ip] } })) });

  const noEpServices: Element[] = [];
  const noEpNodeports: Element[] = [];
  const lbChains: Chain[] = [];
  const slotChains: Chain[] = [];
  const affinityChains: Chain[] = [];
  const slotMaps: SetDef[] = [];
  const affinitySets: SetDef[] = [];
  const affinityDone = new Map<string, string>();

  for (const ns of endpointNamespaces) {
    const targets = p.targets[ns];
    const key = keyedByAddress(ns) ? keyAPP : keyPP;
    const dispatch: Element[] = [];
    const used = new Set<number>();
    let maxN = 0;
    const slotElems: { addr: Element[]; port: Element[] }[] = [];
    for (const t of targets) {
      const n = t.endpoints.length;
      const comment = boundedComment(t.comment);
      if (n === 0) {
        if (t.whenEmpty === 'drop') dispatch.push({ key: t.key, data: { kind: 'drop' }, comment });
        else if (ns === 'svc' || ns === 'svc-local') noEpServices.push({ key: t.key, data: goto(names.rejectChain), comment });
        else noEpNodeports.push({ key: t.key, data: goto(names.rejectChain), comment });
        continue;
      }
      if (t.sp.sessionAffinity) {
        const chain = affinityChain(t, f, affinityChains, affinitySets, affinityDone);
        dispatch.push({ key: t.key, data: goto(chain), comment });
        continue;
      }
      used.add(n);
      maxN = Math.max(maxN, n);
      dispatch.push({ key: t.key, data: goto(names.lb(ns, n)), comment });
      t.endpoints.forEach((ep, i) => {
        const se = (slotElems[i] ??= { addr: [], port: [] });
        se.addr.push({ key: t.key, data: ep.ip });
        se.port.push({ key: t.key, data: ep.port });
      });
    }
    sets.push({ name: names.dispatch(ns), keyType: key, dataType: 'verdict', elements: dispatch });
    const inUse = targets.some((t) => t.endpoints.length > 0 && !t.sp.sessionAffinity);
    if (!inUse) continue;
    for (let n = 1; n <= MIN_SLOTS; n++) used.add(n);
    const slots = slotCount(maxN);
    for (let i = 0; i < slots; i++) {
      slotMaps.push({ name: names.slotAddr(ns, i), keyType: key, dataType: A, elements: slotElems[i]?.addr ?? [] });
      slotMaps.push({ name: names.slotPort(ns, i), keyType: key, dataType: 'inet_service', elements: slotElems[i]?.port ?? [] });
      slotChains.push({
        name: names.slot(ns, i),
        rules: protocols.map((proto) =>
          rule([
            match(l4proto, '==', konst(proto)),
            {
              kind: 'dnat',
              family: f,
              addr: { kind: 'maplookup', key: packetKey(f, ns), map: names.slotAddr(ns, i) },
              port: { kind: 'maplookup', key: packetKey(f, ns), map: names.slotPort(ns, i) },
            },
          ]),
        ),
      });
    }
    for (const n of [...used].sort((a, b) => a - b)) {
      lbChains.push({
        name: names.lb(ns, n),
        rules: [
          rule([
            {
              kind: 'anonvmap',
              key: { kind: 'numgen', mod: n },
              entries: Array.from({ length: n }, (_, i): [Value, Verdict] => [i, goto(names.slot(ns, i))]),
            },
          ]),
        ],
      });
    }
  }
  sets.push({ name: names.noEndpointServices, keyType: keyAPP, dataType: 'verdict', elements: noEpServices });
  sets.push({ name: names.noEndpointNodeports, keyType: keyPP, dataType: 'verdict', elements: noEpNodeports });
  sets.push(...slotMaps, ...affinitySets);

  // --- chains of the static program
  const base = (name: string, type: 'nat' | 'filter', hook: NonNullable<Chain['base']>['hook'], prio: number, rules: Rule[]): Chain => ({
    name,
    base: { type, hook, prio, policy: 'accept' },
    rules,
  });
  const ctNew = match({ kind: 'ct', key: 'state' }, 'in', konst('new'));
  const keyAPPExpr = packetKey(f, 'svc');
  const keyPPExpr = packetKey(f, 'np');
  const fromOutside: Stmt[] = [
    ...(cidrs.length > 0 ? [match(saddr(f), '!=', set(names.clusterCidrs))] : []),
    match(fibType('saddr'), '!=', konst('local')),
  ];
  const fromNode = match(fibType('saddr'), '==', konst('local'));
  const nodeportDst: Stmt[] =
    npAddrs === 'all-local'
      ? [match(fibType('daddr'), '==', konst('local')), match(daddr(f), '!=', konst({ prefix: loopback(f) }))]
      : [match(daddr(f), '==', set(names.nodeportIps))];

  const clusterMasq: Rule[] = opts.masqueradeAll
    ? [rule([match(daddr(f), '==', set(names.clusterIps)), jump(names.markForMasquerade)], 'masquerade all traffic to cluster IPs (masqueradeAll)')]
    : cidrs.length > 0
      ? [
          rule(
            [match(daddr(f), '==', set(names.clusterIps)), match(saddr(f), '!=', set(names.clusterCidrs)), jump(names.markForMasquerade)],
            'masquerade off-cluster traffic to cluster IPs',
          ),
        ]
      : [];

  chains.push(
    base(names.natPrerouting, 'nat', 'prerouting', -100, [rule([jump(names.services)])]),
    base(names.natOutput, 'nat', 'output', -100, [rule([jump(names.services)])]),
    base(names.natPostrouting, 'nat', 'postrouting', 100, [rule([jump(names.masquerading)])]),
    // Source ranges are checked before DNAT, on traffic arriving (prerouting) and on traffic the
    // node itself sends (output), as kube-proxy does.
    base(names.filterPrerouting, 'filter', 'prerouting', -110, [jump(names.firewallCheck)].map((s) => rule([s]))),
    base(names.filterOutputPreDnat, 'filter', 'output', -110, [jump(names.firewallCheck)].map((s) => rule([s]))),
    {
      name: names.firewallCheck,
      rules: [
        rule(
          [match(keyAPPExpr, '==', set(names.firewallIps)), match({ kind: 'concat', parts: [daddr(f), l4proto, dport, saddr(f)] }, '!=', set(names.firewallAllow)), verdict({ kind: 'drop' })],
          'loadBalancerSourceRanges: drop sources outside the allowed ranges',
        ),
      ],
    },
    base(names.filterInput, 'filter', 'input', -90, [rule([ctNew, jump(names.endpointsCheck)])]),
    base(names.filterForward, 'filter', 'forward', -90, [rule([ctNew, jump(names.endpointsCheck)])]),
    base(names.filterOutput, 'filter', 'output', -90, [rule([ctNew, jump(names.endpointsCheck)])]),
    {
      name: names.services,
      rules: [
        ...clusterMasq,
        rule([match(keyAPPExpr, '==', set(names.externalMasq)), jump(names.markForMasquerade)], 'masquerade traffic to external IPs (externalTrafficPolicy Cluster)'),
        rule([...fromOutside, { kind: 'vmap', key: keyAPPExpr, map: names.dispatch('svc-local') }], 'externalTrafficPolicy Local: outside traffic to local endpoints'),
        rule([fromNode, match(keyAPPExpr, '==', set(names.externalLocal)), jump(names.markForMasquerade)], 'externalTrafficPolicy Local: masquerade traffic from the node'),
        rule([{ kind: 'vmap', key: keyAPPExpr, map: names.dispatch('svc') }]),
        rule([...nodeportDst, jump(names.nodeports)], 'NodePorts on node addresses (last)'),
      ],
    },
    {
      name: names.nodeports,
      rules: [
        rule([match(keyPPExpr, '==', set(names.nodeportsMasq)), jump(names.markForMasquerade)], 'masquerade NodePort traffic (externalTrafficPolicy Cluster)'),
        rule([...fromOutside, { kind: 'vmap', key: keyPPExpr, map: names.dispatch('np-local') }], 'externalTrafficPolicy Local: outside traffic to local endpoints'),
        rule([fromNode, match(keyPPExpr, '==', set(names.nodeportsLocal)), jump(names.markForMasquerade)], 'externalTrafficPolicy Local: masquerade traffic from the node'),
        rule([{ kind: 'vmap', key: keyPPExpr, map: names.dispatch('np') }]),
      ],
    },
    {
      name: names.endpointsCheck,
      rules: [
        rule([{ kind: 'vmap', key: keyAPPExpr, map: names.noEndpointServices }], 'services without endpoints are rejected'),
        rule([...nodeportDst, { kind: 'vmap', key: keyPPExpr, map: names.noEndpointNodeports }], 'NodePorts without endpoints are rejected'),
        rule([match(daddr(f), '==', set(names.clusterIps)), goto2(names.rejectChain)], 'cluster IP on a port that is not a service port'),
      ],
    },
    {
      name: names.rejectChain,
      rules: [
        rule([match(l4proto, '==', konst('tcp')), { kind: 'reject', with: 'tcp-reset' }]),
        rule([{ kind: 'reject', with: 'icmpx-port-unreachable' }]),
      ],
    },
    {
      name: names.markForMasquerade,
      rules: [rule([{ kind: 'setmark', value: { kind: 'or', left: mark, bits: masqMark } }])],
    },
    {
      name: names.masquerading,
      rules: [
        rule([match({ kind: 'concat', parts: [saddr(f), daddr(f)] }, '==', set(names.hairpin)), jump(names.markForMasquerade)], 'hairpin: a pod reaching itself through a service'),
        rule([match({ kind: 'and', left: mark, mask: masqMark }, '==', konst(0)), verdict({ kind: 'return' })]),
        rule([{ kind: 'setmark', value: { kind: 'xor', left: mark, bits: masqMark } }]),
        rule([{ kind: 'masquerade', fullyRandom: true }]),
      ],
    },
    ...lbChains,
    ...slotChains,
    ...affinityChains,
  );
  return { family: f, name: opts.tableName, sets, chains };
}

const goto2 = (target: string): Stmt => verdict({ kind: 'goto', target });

/**
 * Session affinity (ClientIP) needs the chosen endpoint remembered per client: one dynamic set of
 * client addresses per endpoint (timeout = timeoutSeconds) and one chain per endpoint, like
 * kube-proxy, but only for the services that ask for affinity. Endpoint sets are named by a hash
 * of the endpoint, so endpoints that stay keep their clients and endpoints that leave are forgotten.
 */
function affinityChain(
  t: Target,
  f: Family,
  chains: Chain[],
  sets: SetDef[],
  done: Map<string, string>,
): string {
  const id = `${t.sp.id}/${t.sp.protocol}/${t.choice}`;
  const existing = done.get(id);
  if (existing) return existing;
  const h = shortHash(id);
  const chainName = names.affinity(h);
  done.set(id, chainName);
  const timeout = t.sp.sessionAffinity?.timeoutSeconds ?? 10800;
  const rules: Rule[] = [];
  const epChains: Chain[] = [];
  const entries: [Value, Verdict][] = [];
  t.endpoints.forEach((ep, i) => {
    const eh = shortHash(`${ep.ip}/${ep.port}`).slice(0, 8);
    const setName = names.affinityClients(h, eh);
    const epChain = names.affinityEndpoint(h, eh);
    sets.push({ name: setName, keyType: [addrType(f)], flags: ['timeout'], timeout, elements: [], dynamic: true });
    rules.push(rule([match(saddr(f), '==', set(setName)), goto2(epChain)], boundedComment(`${t.sp.id} affinity -> ${ep.ip}:${ep.port}`)));
    epChains.push({
      name: epChain,
      rules: [
        rule(
          [
            match(l4proto, '==', konst(t.sp.protocol)),
            { kind: 'setupdate', set: setName, elem: saddr(f) },
            { kind: 'dnat', family: f, addr: konst(ep.ip), port: konst(ep.port) },
          ],
          boundedComment(`${t.sp.id} -> ${ep.ip}:${ep.port}`),
        ),
      ],
    });
    entries.push([i, goto(epChain)]);
  });
  rules.push(rule([{ kind: 'anonvmap', key: { kind: 'numgen', mod: t.endpoints.length }, entries }]));
  chains.push({ name: chainName, rules }, ...epChains);
  return chainName;
}

function dedupe(vs: Value[]): Value[] {
  const seen = new Set<string>();
  const out: Value[] = [];
  for (const v of vs) {
    const k = JSON.stringify(v);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(v);
    }
  }
  return out;
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
