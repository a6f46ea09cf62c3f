// One service port, one family → its contribution to the ruleset: the set/map elements that
// carry it (and, for session affinity, its own chains and dynamic sets). Fragments are pure
// functions of (ServicePort, options, node addresses) and are memoised by the lowering, so an
// unchanged service contributes the very same element objects to the next ruleset: that is what
// makes the diff of a one-endpoint change cost O(change).

import { createHash } from 'node:crypto';
import type { Chain, Element, Family, Rule, SetDef, Value, Verdict } from '../ir/types.js';
import { cidrContains, parseCidr } from '../ir/ip.js';
import type { Endpoint, ServicePort } from './model/types.js';
import { hasUsableEndpoints } from './model/categorize.js';
import { addrType, names, poolOf, type EndpointNamespace } from './layout.js';
import { goto, gotoStmt, konst, l4proto, match, rule, saddr, set } from './ir-build.js';
import { safeComment } from './nft/limits.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './model/build.js';

/** What one dispatch key of one namespace contributes. */
export interface TargetFragment {
  /** Element of the namespace's dispatch verdict map (goto lb-N / affinity chain / drop). */
  dispatch?: Element;
  /** Element of a no-endpoint map (reject), when the key has no endpoints at all. */
  noEndpoint?: Element;
  /** Endpoint count balanced over through the slot maps (0 when not through slots). */
  n: number;
  /** Slot pool (names.poolOf): uniform target port or mixed. */
  pool: string;
  mixed: boolean;
  /** Per slot: the address element keyed by the dispatch key. */
  addrs: Element[];
  /** Mixed pools: per slot port elements; uniform pools: the one port element. */
  ports: Element[];
  /** `ip:port` of the endpoint in each slot, to keep slots stable across compiles. */
  order: string[];
}

export interface Fragment {
  /** `family id/protocol`: the identity of this service port across compiles. */
  id: string;
  /** Compile generation that last used this fragment (for removal detection). */
  gen: number;
  targets: Record<EndpointNamespace, TargetFragment[]>;
  clusterIp?: string;
  externalMasq: Element[];
  externalLocal: Element[];
  nodeportsMasq: Element[];
  nodeportsLocal: Element[];
  firewallIps: Element[];
  firewallAllow: Element[];
  /** Every endpoint address this port may DNAT to (for the hairpin set). */
  hairpinIps: string[];
  affinityChains: Chain[];
  affinitySets: SetDef[];
  /** Slotted targets by `ns|key`, for the next compile of the same service port. */
  slotOrder: Map<string, TargetFragment>;
}

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 10);

const epId = (ep: Endpoint): string => `${ep.ip}:${ep.port}`;

export const fragmentId = (sp: ServicePort, family: Family): string => `${family} ${sp.id}/${sp.protocol}`;

/**
 * Keeps endpoints in the slots they had: a departed endpoint's slot is taken by the endpoint in
 * the last slot (or a new one), so removing one endpoint rewrites one slot instead of shifting
 * every slot after it. The choice stays uniform: numgen picks among slots 0..N-1.
 */
export function stableSlots(endpoints: Endpoint[], previous: string[] | undefined): Endpoint[] {
  if (!previous || previous.length === 0) return endpoints;
  const byId = new Map(endpoints.map((ep) => [epId(ep), ep]));
  const slots: (Endpoint | undefined)[] = previous.map((id) => byId.get(id));
  for (const ep of slots) if (ep) byId.delete(epId(ep));
  const newcomers = [...byId.values()];
  // Fill holes with newcomers first, then with endpoints from the end.
  for (let i = 0; i < slots.length; i++) {
    if (slots[i]) continue;
    const n = newcomers.shift();
    if (n) {
      slots[i] = n;
      continue;
    }
    while (slots.length > i + 1 && !slots[slots.length - 1]) slots.pop();
    if (slots.length > i + 1) slots[i] = slots.pop();
  }
  const out = slots.filter((e): e is Endpoint => e !== undefined);
  return [...out, ...newcomers];
}

export function lowerServicePort(sp: ServicePort, family: Family, nodeAddrs: string[], previous?: Fragment): Fragment {
  const fr: Fragment = {
    id: fragmentId(sp, family),
    gen: 0,
    targets: { svc: [], np: [], 'svc-local': [], 'np-local': [] },
    externalMasq: [],
    externalLocal: [],
    nodeportsMasq: [],
    nodeportsLocal: [],
    firewallIps: [],
    firewallAllow: [],
    hairpinIps: [],
    affinityChains: [],
    affinitySets: [],
    slotOrder: new Map(),
  };
  const proto = sp.protocol;
  const external = sp.externalEndpoints ?? sp.clusterEndpoints;
  const etpLocal = sp.externalTrafficPolicy === 'Local';
  const affinityDone = new Map<string, string>();

  /** choice names the endpoint list for affinity state: internal (ITP Local), cluster, or local (ETP Local). */
  type Choice = 'internal' | 'cluster' | 'local';
  const addTarget = (ns: EndpointNamespace, key: Value, endpoints: Endpoint[], choice: Choice, what: string, whenEmpty: 'reject' | 'drop'): void => {
    const comment = safeComment(`${sp.id} ${what}`);
    const t: TargetFragment = { n: 0, pool: ns, mixed: false, addrs: [], ports: [], order: [] };
    if (endpoints.length === 0) {
      if (whenEmpty === 'drop') t.dispatch = { key, data: { kind: 'drop' }, comment };
      else t.noEndpoint = { key, data: goto(names.rejectChain), comment };
    } else if (sp.sessionAffinity) {
      t.dispatch = { key, data: goto(affinityChain(sp, family, endpoints, choice, fr, affinityDone)), comment };
    } else {
      const orderKey = `${ns}|${JSON.stringify(key)}`;
      const before = previous?.slotOrder.get(orderKey);
      const ordered = stableSlots(endpoints, before?.order);
      t.n = ordered.length;
      t.order = ordered.map(epId);
      t.mixed = ordered.some((ep) => ep.port !== (ordered[0] as Endpoint).port);
      t.pool = poolOf(ns, t.mixed);
      fr.slotOrder.set(orderKey, t);
      t.dispatch = { key, data: goto(names.lb(t.pool, t.n)), comment };
      // Unchanged slots keep their element objects: the diff then skips them by identity.
      const same = before !== undefined && before.pool === t.pool;
      t.addrs = ordered.map((ep, i) => {
        const old = same ? before.addrs[i] : undefined;
        return old && old.data === ep.ip ? old : { key, data: ep.ip };
      });
      const portsWanted = t.mixed ? ordered.map((ep) => ep.port) : [(ordered[0] as Endpoint).port];
      t.ports = portsWanted.map((port, i) => {
        const old = same ? before.ports[i] : undefined;
        return old && old.data === port ? old : { key, data: port };
      });
    }
    fr.targets[ns].push(t);
  };

  if (sp.clusterIP) {
    fr.clusterIp = sp.clusterIP;
    // ITP=Local without local endpoints drops (kube-proxy); no usable endpoint anywhere rejects.
    const whenEmpty = sp.internalTrafficPolicy === 'Local' && hasUsableEndpoints(sp.endpoints) ? 'drop' : 'reject';
    const choice = sp.internalTrafficPolicy === 'Local' ? 'internal' : 'cluster';
    addTarget('svc', { concat: [sp.clusterIP, proto, sp.port] }, sp.clusterEndpoints, choice, 'cluster IP', whenEmpty);
  }
  // External destinations reach every usable endpoint from inside the cluster; ETP=Local
  // restricts traffic from outside to local endpoints (dropped when there is none).
  const externals: [string, string][] = [
    ...sp.externalIPs.map((ip): [string, string] => [ip, 'external IP']),
    ...sp.loadBalancerIPs.map((ip): [string, string] => [ip, 'loadbalancer IP']),
  ];
  for (const [ip, what] of externals) {
    const key: Value = { concat: [ip, proto, sp.port] };
    addTarget('svc', key, external, 'cluster', what, 'reject');
    if (etpLocal) {
      fr.externalLocal.push({ key });
      // Without any endpoint the key is rejected through the cluster dispatch already: a miss in
      // the local map falls through to it (and one key must not be in a no-endpoint map twice).
      if (external.length > 0) addTarget('svc-local', key, sp.localEndpoints, 'local', `${what} (local endpoints)`, 'drop');
    } else {
      fr.externalMasq.push({ key });
    }
  }
  if (sp.loadBalancerSourceRanges.length > 0) {
    for (const ip of sp.loadBalancerIPs) {
      fr.firewallIps.push({ key: { concat: [ip, proto, sp.port] } });
      for (const cidr of sp.loadBalancerSourceRanges) {
        const c = parseCidr(cidr);
        if (c) fr.firewallAllow.push({ key: { concat: [ip, proto, sp.port, { prefix: { addr: c.addr, len: c.len } }] } });
      }
      // kube-proxy: when the node itself is inside the allowed ranges, traffic the node sends to
      // the LB IP sourced from the LB IP (when it is local) is allowed too.
      // (Not when a range already covers the LB IP: interval sets refuse overlapping intervals.)
      if (nodeAddrs.some((a) => sp.loadBalancerSourceRanges.some((r) => cidrContains(r, a))) && !sp.loadBalancerSourceRanges.some((r) => cidrContains(r, ip))) {
        fr.firewallAllow.push({ key: { concat: [ip, proto, sp.port, { prefix: { addr: ip, len: family === 'ip' ? 32 : 128 } }] } });
      }
    }
  }
  if (sp.nodePort !== undefined) {
    const key: Value = { concat: [proto, sp.nodePort] };
    addTarget('np', key, external, 'cluster', 'nodePort', 'reject');
    if (etpLocal) {
      fr.nodeportsLocal.push({ key });
      if (external.length > 0) addTarget('np-local', key, sp.localEndpoints, 'local', 'nodePort (local endpoints)', 'drop');
    } else {
      fr.nodeportsMasq.push({ key });
    }
  }
  const ips = new Set<string>();
  for (const list of [sp.clusterEndpoints, external, sp.localEndpoints]) for (const ep of list) ips.add(ep.ip);
  fr.hairpinIps = [...ips];
  return fr;
}

/**
 * Session affinity (ClientIP) needs the chosen endpoint remembered per client: one dynamic set of
 * client addresses per endpoint (timeout = timeoutSeconds) and one chain per endpoint, like
 * kube-proxy, but only for the services that ask for affinity. Names carry a hash of the
 * endpoint, so endpoints that stay keep their clients and endpoints that leave are forgotten.
 * The per-endpoint sets and chains belong to the service port, not to the endpoint list, so the
 * cluster path and the externalTrafficPolicy Local path share a client's memory (as kube-proxy's
 * endpoint chains do); only the choosing chain is per list.
 */
function affinityChain(
  sp: ServicePort,
  f: Family,
  endpoints: Endpoint[],
  choice: string,
  fr: Fragment,
  done: Map<string, string>,
): string {
  const id = `${sp.id}/${sp.protocol}/${choice}`;
  const existing = done.get(id);
  if (existing) return existing;
  const h = shortHash(id);
  const hp = shortHash(`${sp.id}/${sp.protocol}`);
  const chainName = names.affinity(h);
  done.set(id, chainName);
  const timeout = sp.sessionAffinity?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  const rules: Rule[] = [];
  const entries: [Value, Verdict][] = [];
  endpoints.forEach((ep, i) => {
    const eh = shortHash(`${ep.ip}/${ep.port}`).slice(0, 8);
    const setName = names.affinityClients(hp, eh);
    const epChain = names.affinityEndpoint(hp, eh);
    rules.push(rule([match(saddr(f), '==', set(setName)), gotoStmt(epChain)], safeComment(`${sp.id} affinity -> ${ep.ip}:${ep.port}`)));
    entries.push([i, goto(epChain)]);
    if (done.has(epChain)) return; // already made for another endpoint list of this service port
    done.set(epChain, epChain);
    fr.affinitySets.push({ name: setName, keyType: [addrType(f)], flags: ['timeout'], timeout, elements: [], dynamic: true });
    fr.affinityChains.push({
      name: epChain,
      rules: [
        rule(
          [
            match(l4proto, '==', konst(sp.protocol)),
            { kind: 'setupdate', set: setName, elem: saddr(f) },
            { kind: 'dnat', family: f, addr: konst(ep.ip), port: konst(ep.port) },
          ],
          safeComment(`${sp.id} -> ${ep.ip}:${ep.port}`),
        ),
      ],
    });
  });
  rules.push(rule([{ kind: 'anonvmap', key: { kind: 'numgen', mod: endpoints.length }, entries }]));
  fr.affinityChains.unshift({ name: chainName, rules });
  return chainName;
}
