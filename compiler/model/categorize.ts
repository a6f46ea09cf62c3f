// Endpoint selection for one service port on one node, as kube-proxy does it
// (pkg/proxy/topology.go, CategorizeEndpoints):
//  - "usable" means ready; when no endpoint in the candidate group is ready, the serving and
//    terminating ones are used instead, so that a rolling update or a scale-down does not drop
//    traffic while the old pods still serve.
//  - topology (hints / trafficDistribution): the EndpointSlice controller sets zone hints; the
//    proxy honours them only when every ready endpoint carries hints and at least one is hinted
//    for this node's zone, otherwise it uses every ready endpoint (never an empty set by topology).
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

const usableWithFallback = (eps: Endpoint[]): Endpoint[] => {
  const ready = eps.filter((e) => e.ready);
  return ready.length > 0 ? ready : eps.filter((e) => e.serving && e.terminating);
};

/** Whether zone hints apply to this node: all ready endpoints hinted and one for our zone. */
export function useZoneHints(endpoints: Endpoint[], zone: string | undefined): boolean {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length === 0 || zone === undefined || zone === '') return false;
  if (!ready.every((e) => e.hintZones !== undefined && e.hintZones.length > 0)) return false;
  return ready.some((e) => e.hintZones?.includes(zone) === true);
}

export function categorizeEndpoints(
  endpoints: Endpoint[],
  internalTrafficPolicy: TrafficPolicy,
  node: Pick<NodeInfo, 'zone'>,
): EndpointCategories {
  const zone = node.zone;
  const byZone = useZoneHints(endpoints, zone);
  let cluster = endpoints.filter((e) => e.ready && (!byZone || (zone !== undefined && e.hintZones?.includes(zone) === true)));
  // Topology never empties the set while ready endpoints exist (useZoneHints guarantees one),
  // so an empty set here means nothing is ready anywhere: fall back to terminating endpoints.
  if (cluster.length === 0) cluster = endpoints.filter((e) => e.serving && e.terminating);
  const local = usableWithFallback(endpoints.filter((e) => e.isLocal));
  return { cluster, local, internal: internalTrafficPolicy === 'Local' ? local : cluster };
}
