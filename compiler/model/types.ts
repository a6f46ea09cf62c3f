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
  /** nodeName equals the node we compile for. */
  isLocal: boolean;
}

export interface ServicePort {
  /** kube-proxy's service port name: `ns/name:portName`, or `ns/name` when the port is unnamed. */
  id: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  family: IpFamily;
  /** The clusterIP of this family; undefined when the service has none of this family. */
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
}

export interface ClusterModel {
  servicePorts: ServicePort[];
  node: NodeInfo;
  problems: Problem[];
}

export interface CompileOptions {
  /** Table name in both families. */
  tableName: string;
  /** Pod CIDRs (both families mixed); sources outside them are masqueraded on cluster IPs. */
  clusterCIDRs: string[];
  nodeName?: string;
  nodeZone?: string;
  /** Addresses that accept NodePorts; empty = every local address. */
  nodeIPs: string[];
  /** kube-proxy --nodeport-addresses CIDRs; empty = no restriction beyond nodeIPs. */
  nodePortAddresses: string[];
  masqueradeAll: boolean;
  /** Bit number (0..31) of the packet mark we own for masquerade. */
  masqueradeBit: number;
  /** Service CIDRs (--service-cidr and ServiceCIDR objects): unallocated addresses inside are dropped. */
  serviceCIDRs: string[];
  /** kube-proxy's --detect-local-mode: how traffic from local pods is told from the rest. */
  detectLocalMode: DetectLocalMode;
  /** --pod-bridge-interface (detectLocalMode BridgeInterface). */
  podBridgeInterface?: string;
  /** --pod-interface-name-prefix (detectLocalMode InterfaceNamePrefix). */
  podInterfaceNamePrefix?: string;
}

export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';

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
