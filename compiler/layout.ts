// Names of everything nftproxy puts in the kernel, in one place, so the lowering, the trace and
// the docs agree. The program is static: these names do not depend on services, except the
// per-pool `*-lb-N` / `*-ep-I` chains (one per endpoint count in use / per slot below the largest
// count in use, see lower.ts)
// and the per-service affinity chains.

import type { Family } from '../ir/types.js';

/**
 * Endpoint namespaces: each has a dispatch verdict map keyed by packet fields, `lb-N` chains
 * (random choice among N slots) and per-slot address/port maps.
 * - svc:        cluster traffic and ETP=Cluster external IPs/LB IPs, key daddr . proto . port
 * - np:         NodePorts, key proto . port
 * - svc-local:  external IPs/LB IPs with ETP=Local, traffic from outside the cluster
 * - np-local:   NodePorts with ETP=Local, traffic from outside the cluster
 */
export type EndpointNamespace = 'svc' | 'np' | 'svc-local' | 'np-local';
export const endpointNamespaces: EndpointNamespace[] = ['svc', 'np', 'svc-local', 'np-local'];

export const keyedByAddress = (ns: EndpointNamespace): boolean => ns === 'svc' || ns === 'svc-local';

export const poolOf = (ns: EndpointNamespace, mixed: boolean): string => (mixed ? `${ns}-x` : ns);
export const poolsOf = (ns: EndpointNamespace): { pool: string; mixed: boolean }[] => [
  { pool: ns, mixed: false },
  { pool: `${ns}-x`, mixed: true },
];

export const names = {
  // sets
  clusterIps: 'cluster-ips',
  clusterCidrs: 'cluster-cidrs',
  /** detectLocalMode NodeCIDR: the Node's spec.podCIDRs. */
  nodePodCidrs: 'node-pod-cidrs',
  /** ServiceCIDR objects and --service-cidr: unallocated addresses inside are dropped. */
  serviceCidrs: 'service-cidrs',
  nodeportIps: 'nodeport-ips',
  externalMasq: 'external-masq',
  externalLocal: 'external-local',
  nodeportsMasq: 'nodeports-masq',
  nodeportsLocal: 'nodeports-local',
  firewallIps: 'firewall-ips',
  firewallAllow: 'firewall-allow',
  hairpin: 'hairpin',
  // maps
  noEndpointServices: 'no-endpoint-services',
  noEndpointNodeports: 'no-endpoint-nodeports',
  dispatch: (ns: EndpointNamespace): string =>
    ({ svc: 'service-ips', np: 'service-nodeports', 'svc-local': 'service-ips-local', 'np-local': 'service-nodeports-local' })[ns],
  /**
   * A pool is where a namespace's slotted targets live: `<ns>` when all endpoints of a target
   * share one target port (one port element per service, the usual case), `<ns>-x` when they
   * do not (a port element per slot, e.g. during a rollout that renames a container port).
   */
  slotAddr: (pool: string, slot: number): string => `${pool}-addr-${slot}`,
  /** Uniform pools: one port per service key. Mixed pools: one per slot. */
  poolPort: (pool: string, slot?: number): string => (slot === undefined ? `${pool}-port` : `${pool}-port-${slot}`),
  // chains
  natPrerouting: 'nat-prerouting',
  natOutput: 'nat-output',
  natPostrouting: 'nat-postrouting',
  filterPrerouting: 'filter-prerouting',
  filterOutputPreDnat: 'filter-output-pre-dnat',
  firewallCheck: 'firewall-check',
  filterInput: 'filter-input',
  filterForward: 'filter-forward',
  filterOutput: 'filter-output',
  services: 'services',
  nodeports: 'nodeports',
  endpointsCheck: 'endpoints-check',
  /** kube-proxy's cluster-ips-check: undefined ports of cluster IPs, unallocated service IPs. */
  clusterIpsCheck: 'cluster-ips-check',
  rejectChain: 'reject-chain',
  markForMasquerade: 'mark-for-masquerade',
  masquerading: 'masquerading',
  lb: (pool: string, n: number): string => `${pool}-lb-${n}`,
  slot: (pool: string, slot: number): string => `${pool}-ep-${slot}`,
  affinity: (hash: string): string => `affinity-${hash}`,
  /** Per-endpoint chain and client set of an affinity service, named by a hash of the endpoint. */
  affinityEndpoint: (hash: string, epHash: string): string => `affinity-${hash}-ep-${epHash}`,
  affinityClients: (hash: string, epHash: string): string => `affinity-${hash}-clients-${epHash}`,
};

export const addrType = (f: Family): 'ipv4_addr' | 'ipv6_addr' => (f === 'ip' ? 'ipv4_addr' : 'ipv6_addr');
export const loopback = (f: Family): { addr: string; len: number } =>
  f === 'ip' ? { addr: '127.0.0.0', len: 8 } : { addr: '::1', len: 128 };
