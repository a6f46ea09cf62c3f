// The service model: what the lowering consumes. One record per (service port, IP family),
// endpoints already resolved (target port per endpoint) and categorised for this node.
// Produced by compiler/model/build.ts from validated Kubernetes objects; pure data.

export type IpFamily = 4 | 6;
export type Protocol = 'tcp' | 'udp' | 'sctp';
export type TrafficPolicy = 'Cluster' | 'Local';

/** A problem with one input object: reported, and the object (or the offending part) skipped. */
export interface Problem {
  kind: string; // Service, EndpointSlice, Node, or the input file
  namespace?: string;
  name?: string;
  field?: string; // JSON path inside the object, e.g. spec.ports[1].port
  message: string; // what was expected
}

export interface Endpoint {
  /** Normalised textual address (IPv6 in canonical compressed form). */
  ip: string;
  /** Target port, resolved from the EndpointSlice port of the same name. */
  port: number;
  nodeName?: string;
  zone?: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** EndpointSlice hints.forZones names; undefined when the endpoint has no hints. */
  hintZones?: string[];
  /** EndpointSlice hints.forNodes names (trafficDistribution PreferSameNode); undefined without. */
  hintNodes?: string[];
  /** nodeName equals the node we compile for. */
  isLocal: boolean;
}

export interface ServicePort {
  /** kube-proxy's service port name: `ns/name:portName`, or `ns/name` when the port is unnamed. */
  id: string;
  namespace: string;
  name: string;
  /**
   * The Service's metadata.creationTimestamp (RFC 3339), when known: between two user-set claims
   * to one key the older Service wins (compiler/model/conflicts.ts).
   */
  creationTimestamp?: string;
  portName: string;
  protocol: Protocol;
  family: IpFamily;
  /**
   * The clusterIP of this family; undefined when the service has none of this family, or (in a
   * resolved model) when another service port owns this cluster IP's `addr . proto . port` key.
   */
  clusterIP?: string;
  port: number;
  nodePort?: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  /** CIDRs, normalised (`10.0.0.0/8`), of this family only. */
  loadBalancerSourceRanges: string[];
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  /** ClientIP affinity; undefined for sessionAffinity None. */
  sessionAffinity?: { timeoutSeconds: number };
  healthCheckNodePort?: number;
  /** Every endpoint of this family from every slice of the service, deduplicated by address. */
  endpoints: Endpoint[];
  /** Endpoints for traffic from inside the cluster (after ITP, topology, terminating fallback). */
  clusterEndpoints: Endpoint[];
  /**
   * Endpoints for traffic to external destinations (NodePort, externalIPs, LB IPs) from inside
   * the cluster and under ETP Cluster: every usable endpoint, topology-filtered, ignoring ITP.
   * Optional for hand-built models; defaults to clusterEndpoints.
   */
  externalEndpoints?: Endpoint[];
  /** Endpoints for external traffic under externalTrafficPolicy Local (local ones only). */
  localEndpoints: Endpoint[];
}

/** Node-level facts the compiler needs (from flags or the Node object). */
export interface NodeInfo {
  name?: string;
  zone?: string;
  /** Node addresses (InternalIP/ExternalIP), both families. */
  addresses: string[];
  /**
   * The node's primary IP of each family (kube-proxy's node IPs: the first InternalIP of the
   * family, else the first ExternalIP), from the Node object only. `--nodeport-addresses primary`.
   */
  primaryIPs?: string[];
  /** The Node's spec.podCIDRs (normalised), for detectLocalMode NodeCIDR. */
  podCIDRs?: string[];
}

/**
 * Two claims to one map/set key (compiler/model/conflicts.ts): the winner keeps the key, the
 * loser keeps everything else. Reported by the CLI as a warning and by the daemon in its log
 * and the nftproxy_conflicting_keys gauge.
 */
export interface KeyConflict {
  /** Human readable key, e.g. "10.96.0.10 tcp 53" or "nodePort tcp 30080". */
  key: string;
  /** Service port id (`ns/name:port`, as ServicePort.id) that keeps the key. */
  winner: string;
  /** Service port id that loses it. */
  loser: string;
  /** Why the winner wins, e.g. "an allocated cluster IP wins over an externalIP". */
  reason: string;
}

export interface ClusterModel {
  /** Resolved: every map/set key is claimed by exactly one service port. */
  servicePorts: ServicePort[];
  node: NodeInfo;
  problems: Problem[];
  /** Claims dropped from servicePorts because another service port owns the key. */
  conflicts: KeyConflict[];
  /**
   * The service CIDRs of the cluster, from `networking.k8s.io/v1` ServiceCIDR objects
   * (`spec.cidrs`), normalised, both families. The lowering uses them together with
   * CompileOptions.serviceCIDRs. Optional for hand-built models.
   */
  serviceCIDRs?: string[];
}

/** kube-proxy's detectLocalMode: how traffic from this node's pods is recognised. */
export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';

export interface CompileOptions {
  /** Table name in both families. */
  tableName: string;
  /** Pod CIDRs (both families mixed); sources outside them are masqueraded on cluster IPs. */
  clusterCIDRs: string[];
  nodeName?: string;
  nodeZone?: string;
  /**
   * The node's addresses (the daemon gives its interface addresses; the CLI --node-ip), matched
   * against the nodePortAddresses CIDRs. A family without CIDRs accepts NodePorts on every local
   * address (`fib daddr type local`), as kube-proxy's matchAll.
   */
  nodeIPs: string[];
  /**
   * kube-proxy --nodeport-addresses: CIDRs matched against the node's addresses, and/or the token
   * `primary` (the node's primary IP of each family, from the Node object). A family with no CIDR
   * given accepts NodePorts on every address of that family. Empty = no restriction.
   */
  nodePortAddresses: string[];
  /**
   * kube-proxy's service CIDRs (`--service-cidr`, for clusters without the ServiceCIDR API).
   * Traffic to an address inside them that is not an allocated cluster IP is dropped.
   */
  serviceCIDRs?: string[];
  /** How local (pod) traffic is detected; default ClusterCIDR (clusterCIDRs). */
  detectLocalMode?: DetectLocalMode;
  /** detectLocalMode BridgeInterface: the pods' bridge (`iifname` equals it). */
  podBridgeInterface?: string;
  /** detectLocalMode InterfaceNamePrefix: the prefix of the pods' interfaces (`iifname "prefix*"`). */
  podInterfaceNamePrefix?: string;
  masqueradeAll: boolean;
  /** Bit number (0..31) of the packet mark we own for masquerade. */
  masqueradeBit: number;
}

export const defaultCompileOptions: CompileOptions = {
  tableName: 'nftproxy',
  clusterCIDRs: [],
  nodeIPs: [],
  nodePortAddresses: [],
  masqueradeAll: false,
  masqueradeBit: 14,
  serviceCIDRs: [],
  detectLocalMode: 'ClusterCIDR',
};
