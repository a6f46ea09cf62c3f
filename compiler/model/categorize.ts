// Endpoint selection for one service port on one node, as kube-proxy does it
// (pkg/proxy/topology.go, CategorizeEndpoints and topologyModeFromHints, 1.33+):
//  - "usable" means ready; when no endpoint in the candidate group is ready, the serving and
//    terminating ones are used instead, so that a rolling update or a scale-down does not drop
//    traffic while the old pods still serve.
//  - topology: the EndpointSlice controller sets hints for `trafficDistribution`. The proxy reads
//    only the hints, never the field: when every ready endpoint has node hints (PreferSameNode)
//    and one is hinted for this node, it uses the endpoints hinted for this node; otherwise, when
//    every ready endpoint has zone hints (PreferSameZone / PreferClose / topology-aware hints) and
//    one is hinted for this node's zone, the endpoints hinted for this zone; otherwise every ready
//    endpoint. Topology never empties the set while ready endpoints exist.
//  - local: the usable endpoints on this node, with the terminating fallback among local ones.

import type { Endpoint, NodeInfo, TrafficPolicy } from './types.js';

export interface EndpointCategories {
  /** kube-proxy's clusterEndpoints: every usable endpoint, topology-filtered, ignoring ITP. */
  cluster: Endpoint[];
  /** Usable endpoints on this node (ready, or serving+terminating when no local one is ready). */
  local: Endpoint[];
  /** What traffic from inside the cluster uses: `local` under ITP Local, else `cluster`. */
  internal: Endpoint[];
}

/** kube-proxy's hasAnyEndpoints: a ready, or a serving and terminating, endpoint anywhere. */
export const hasUsableEndpoints = (eps: Endpoint[]): boolean => eps.some((e) => e.ready || (e.serving && e.terminating));

const usableWithFallback = (eps: Endpoint[]): Endpoint[] => {
  const ready = eps.filter((e) => e.ready);
  return ready.length > 0 ? ready : eps.filter((e) => e.serving && e.terminating);
};

export type TopologyMode = '' | 'PreferSameNode' | 'PreferSameZone';

/** kube-proxy's topologyModeFromHints: which hints apply to this node, if any. */
export function topologyMode(endpoints: Endpoint[], node: Pick<NodeInfo, 'zone' | 'name'>): TopologyMode {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length === 0) return '';
  const { name, zone } = node;
  if (ready.every((e) => (e.hintNodes?.length ?? 0) > 0) && name !== undefined && name !== '' && ready.some((e) => e.hintNodes?.includes(name) === true)) {
    return 'PreferSameNode';
  }
  if (ready.every((e) => (e.hintZones?.length ?? 0) > 0) && zone !== undefined && zone !== '' && ready.some((e) => e.hintZones?.includes(zone) === true)) {
    return 'PreferSameZone';
  }
  return '';
}

/** Whether zone hints apply to this node: all ready endpoints hinted and one for our zone. */
export function useZoneHints(endpoints: Endpoint[], zone: string | undefined): boolean {
  return topologyMode(endpoints, zone === undefined ? {} : { zone }) === 'PreferSameZone';
}

function availableForTopology(e: Endpoint, mode: TopologyMode, node: Pick<NodeInfo, 'zone' | 'name'>): boolean {
  if (mode === 'PreferSameNode') return node.name !== undefined && e.hintNodes?.includes(node.name) === true;
  if (mode === 'PreferSameZone') return node.zone !== undefined && e.hintZones?.includes(node.zone) === true;
  return true;
}

export function categorizeEndpoints(
  endpoints: Endpoint[],
  internalTrafficPolicy: TrafficPolicy,
  node: Pick<NodeInfo, 'zone' | 'name'>,
): EndpointCategories {
  const mode = topologyMode(endpoints, node);
  let cluster = endpoints.filter((e) => e.ready && availableForTopology(e, mode, node));
  // Topology never empties the set while ready endpoints exist (topologyMode guarantees one),
  // so an empty set here means nothing is ready anywhere: fall back to terminating endpoints.
  if (cluster.length === 0) cluster = endpoints.filter((e) => e.serving && e.terminating);
  const local = usableWithFallback(endpoints.filter((e) => e.isLocal));
  return { cluster, local, internal: internalTrafficPolicy === 'Local' ? local : cluster };
}
