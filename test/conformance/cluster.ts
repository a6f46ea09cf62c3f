// The cluster and the packet-flow cases of the conformance suite (issue 12), in the style of
// kube-proxy's packet-flow tests (pkg/proxy/nftables/proxier_test.go, runPacketFlowTests): a
// cluster, then a table of packets (from whom, to which address, port and protocol) with the
// expected result: the endpoints that may receive it, REJECT, DROP, or "" (no rule touches it),
// and whether it is masqueraded. Every case runs through `trace` (conformance.test.ts); the ones
// marked `kernel` also run with real traffic in network namespaces (kernel.test.ts).
//
// Addresses are the harness's (test/harness/topology.ts allocates them deterministically): the
// same table describes the trace and the kernel runs.

import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';

/** Where a packet comes from: a leaf of the harness topology, or the node itself. */
export type Leaf = 'client' | 'a' | 'b' | 'r' | 'p' | 'x' | 'o' | 'node';

/**
 * The harness topology: `client` first (vc0), then the pods in this order (vp1…). a, b are this
 * node's endpoints, r one "on node-b", p a client pod, x a pod whose address lies inside the
 * service CIDR but is not a cluster IP, o a pod of another node's pod CIDR.
 */
export const LEAVES: Record<Exclude<Leaf, 'node'>, { v4: string; v6: string; iif: string }> = {
  client: { v4: '192.168.0.100', v6: 'fd00:192:168::100', iif: 'vc0' },
  a: { v4: '10.244.0.10', v6: 'fd00:10:244::10', iif: 'vp1' },
  b: { v4: '10.244.0.11', v6: 'fd00:10:244::11', iif: 'vp2' },
  r: { v4: '10.244.0.12', v6: 'fd00:10:244::12', iif: 'vp3' },
  p: { v4: '10.244.0.13', v6: 'fd00:10:244::13', iif: 'vp4' },
  x: { v4: '10.96.200.5', v6: 'fd00:10:244::14', iif: 'vp5' },
  o: { v4: '10.244.1.20', v6: 'fd00:10:244::15', iif: 'vp6' },
};
export const POD_ORDER = ['a', 'b', 'r', 'p', 'x', 'o'] as const;
export const NODE_V4 = '192.168.0.1';
export const NODE_V6 = 'fd00:192:168::1';
/** The node's ExternalIP: a node address, but not its primary one. */
export const NODE_EXTERNAL_V4 = '198.51.100.1';
/** The node's address towards the pods (the harness's pod gateway). */
export const POD_GATEWAY_V4 = '10.244.0.1';
export const LB_CIDR = '192.168.99.0/24';

export interface FlowCase {
  name: string;
  from: Leaf;
  dst: string;
  port: number;
  proto?: 'tcp' | 'udp';
  /**
   * kube-proxy's notation: "a:8080, b:8080" (pod names, any of them may be chosen, each with the
   * same probability), "REJECT", "DROP", or "" (no rule changes the packet).
   */
  output: string;
  masq?: boolean;
  /** Also run with real traffic. */
  kernel?: boolean;
  /** For output "": who answers in the kernel run, a pod name or "refused" (the node's own stack). */
  untouched?: string;
}

export interface Scenario {
  name: string;
  options: CompileOptions;
  objects: unknown[];
  cases: FlowCase[];
}

// ---------------------------------------------------------------------------------------------
// Kubernetes objects, written as `kubectl get -o yaml` shows them.

interface Ep {
  pod: keyof typeof LEAVES;
  node: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  forNodes?: string[];
  forZones?: string[];
}

const endpoint = (e: Ep, family: 'IPv4' | 'IPv6'): Record<string, unknown> => ({
  addresses: [family === 'IPv4' ? LEAVES[e.pod].v4 : LEAVES[e.pod].v6],
  conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
  nodeName: e.node,
  ...(e.forNodes || e.forZones
    ? {
        hints: {
          ...(e.forNodes ? { forNodes: e.forNodes.map((name) => ({ name })) } : {}),
          ...(e.forZones ? { forZones: e.forZones.map((name) => ({ name })) } : {}),
        },
      }
    : {}),
});

function slice(service: string, name: string, family: 'IPv4' | 'IPv6', ports: Record<string, unknown>[], eps: Ep[]): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: family,
    ports,
    endpoints: eps.map((e) => endpoint(e, family)),
  };
}

interface Svc {
  name: string;
  clusterIPs: string[];
  port?: number;
  nodePort?: number;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  lbIP?: string;
  sourceRanges?: string[];
  etp?: 'Local';
  itp?: 'Local';
  affinity?: boolean;
  trafficDistribution?: string;
  eps: Ep[];
}

function service(s: Svc): unknown[] {
  const port = { name: 'http', protocol: 'TCP', port: s.port ?? 80, targetPort: 8080, ...(s.nodePort ? { nodePort: s.nodePort } : {}) };
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: 'default' },
    spec: {
      type: s.type ?? (s.nodePort ? 'NodePort' : 'ClusterIP'),
      clusterIP: s.clusterIPs[0],
      clusterIPs: s.clusterIPs,
      ports: [port],
      ...(s.sourceRanges ? { loadBalancerSourceRanges: s.sourceRanges } : {}),
      ...(s.etp ? { externalTrafficPolicy: s.etp } : {}),
      ...(s.itp ? { internalTrafficPolicy: s.itp } : {}),
      ...(s.affinity ? { sessionAffinity: 'ClientIP' } : {}),
      ...(s.trafficDistribution ? { trafficDistribution: s.trafficDistribution } : {}),
    },
    status: s.lbIP ? { loadBalancer: { ingress: [{ ip: s.lbIP, ipMode: 'VIP' }] } } : {},
  };
  const slicePorts = [{ name: 'http', protocol: 'TCP', port: 8080 }];
  return [
    svc,
    ...s.clusterIPs.map((ip) => {
      const family = ip.includes(':') ? 'IPv6' : 'IPv4';
      return slice(s.name, `${s.name}-${family.toLowerCase()}`, family, slicePorts, s.eps);
    }),
  ];
}

export const node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'zone-a' } },
  spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24', 'fd00:10:244::/64'] },
  status: {
    addresses: [
      { type: 'InternalIP', address: NODE_V4 },
      { type: 'InternalIP', address: NODE_V6 },
      { type: 'ExternalIP', address: NODE_EXTERNAL_V4 },
      { type: 'Hostname', address: 'node-a' },
    ],
  },
};

export const serviceCIDR = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'ServiceCIDR',
  metadata: { name: 'kubernetes' },
  spec: { cidrs: ['10.96.0.0/16', 'fd00:10:96::/112'] },
};

const local = (pod: Ep['pod'], extra: Partial<Ep> = {}): Ep => ({ pod, node: 'node-a', ...extra });
const remote = (pod: Ep['pod'], extra: Partial<Ep> = {}): Ep => ({ pod, node: 'node-b', ...extra });

/** The Services every scenario has. */
export const services: unknown[] = [
  ...service({ name: 'web', clusterIPs: ['10.96.1.1', 'fd00:10:96::101'], nodePort: 30001, eps: [local('a'), local('b'), remote('r')] }),
  ...service({ name: 'empty', clusterIPs: ['10.96.1.2'], eps: [] }),
  ...service({ name: 'itp-none', clusterIPs: ['10.96.1.3'], itp: 'Local', eps: [remote('r')] }),
  // Its only endpoint is neither ready nor serving: no usable endpoint anywhere, so REJECT.
  ...service({ name: 'itp-unusable', clusterIPs: ['10.96.1.4'], itp: 'Local', eps: [local('a', { ready: false, serving: false })] }),
  // The controller's hints for PreferSameNode (it also sets zone hints): node hints win.
  ...service({
    name: 'same-node',
    clusterIPs: ['10.96.1.5'],
    trafficDistribution: 'PreferSameNode',
    eps: [local('a', { forNodes: ['node-a'], forZones: ['zone-a'] }), remote('r', { forNodes: ['node-b'], forZones: ['zone-a'] })],
  }),
  // One endpoint without a node hint: node hints are ignored (zone hints too: r has none).
  ...service({ name: 'same-node-partial', clusterIPs: ['10.96.1.6'], eps: [local('a', { forNodes: ['node-a'] }), remote('r')] }),
  ...service({
    name: 'etp-local',
    type: 'LoadBalancer',
    clusterIPs: ['10.96.1.9'],
    nodePort: 30002,
    lbIP: '192.168.99.1',
    etp: 'Local',
    eps: [local('a'), remote('r')],
  }),
  ...service({ name: 'lbsr', type: 'LoadBalancer', clusterIPs: ['10.96.1.10'], nodePort: 30003, lbIP: '192.168.99.2', sourceRanges: ['10.244.0.0/16'], eps: [local('a')] }),
  ...service({
    name: 'affinity',
    type: 'LoadBalancer',
    clusterIPs: ['10.96.1.11'],
    nodePort: 30004,
    lbIP: '192.168.99.3',
    etp: 'Local',
    affinity: true,
    eps: [local('a'), remote('r')],
  }),
  // A rollout that renamed the container port: the old slice has a:8080, the new one a:8081.
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'rollout', namespace: 'default' },
    spec: { clusterIP: '10.96.1.7', clusterIPs: ['10.96.1.7'], ports: [{ name: 'http', port: 80, targetPort: 'web' }] },
  },
  slice('rollout', 'rollout-old', 'IPv4', [{ name: 'http', protocol: 'TCP', port: 8080 }], [local('a')]),
  slice('rollout', 'rollout-new', 'IPv4', [{ name: 'http', protocol: 'TCP', port: 8081 }], [local('a')]),
  // A hand-written slice whose port has no name: kube-proxy ignores the port ("nil name").
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'nameless', namespace: 'default' },
    spec: { clusterIP: '10.96.1.8', clusterIPs: ['10.96.1.8'], ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  },
  slice('nameless', 'nameless-a', 'IPv4', [{ protocol: 'TCP', port: 8080 }], [local('a')]),
];

/** The problem the nameless slice port is reported with (the only one the cluster has). */
export const namelessProblem = {
  kind: 'EndpointSlice',
  namespace: 'default',
  name: 'nameless-a',
  field: 'ports[0].name',
};

export const base: CompileOptions = {
  ...defaultCompileOptions,
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/64'],
  nodeName: 'node-a',
  // What the daemon reads from the node's interfaces.
  nodeIPs: [NODE_V4, NODE_EXTERNAL_V4, NODE_V6],
};

const ALL = 'a:8080, b:8080, r:8080';

export const scenarios: Scenario[] = [
  {
    name: 'kube-proxy nftables defaults: ServiceCIDR objects, --nodeport-addresses primary, ClusterCIDR',
    options: { ...base, nodePortAddresses: ['primary'] },
    objects: [node, serviceCIDR, ...services],
    cases: [
      { name: 'cluster IP from outside the cluster: masqueraded', from: 'client', dst: '10.96.1.1', port: 80, output: ALL, masq: true, kernel: true },
      { name: 'cluster IP from a pod: not masqueraded', from: 'p', dst: '10.96.1.1', port: 80, output: ALL, kernel: true },
      { name: 'cluster IP over UDP has no such port', from: 'p', dst: '10.96.1.1', port: 80, proto: 'udp', output: 'REJECT', kernel: true },
      { name: 'cluster IP from the node: masqueraded', from: 'node', dst: '10.96.1.1', port: 80, output: ALL, masq: true },
      { name: 'IPv6 cluster IP', from: 'p', dst: 'fd00:10:96::101', port: 80, output: ALL, kernel: true },
      { name: 'undefined port of a cluster IP: REJECT', from: 'p', dst: '10.96.1.1', port: 81, output: 'REJECT', kernel: true },
      { name: 'undefined port of a cluster IP from the node: REJECT', from: 'node', dst: '10.96.1.1', port: 81, output: 'REJECT' },
      { name: 'unallocated address in the service CIDR: DROP', from: 'p', dst: '10.96.200.5', port: 80, output: 'DROP', kernel: true },
      { name: 'unallocated address in the service CIDR, from outside: DROP', from: 'client', dst: '10.96.200.5', port: 80, output: 'DROP', kernel: true },
      { name: 'unallocated address in the service CIDR, from the node: DROP', from: 'node', dst: '10.96.200.5', port: 80, output: 'DROP' },
      { name: 'unallocated IPv6 address in the service CIDR: DROP', from: 'p', dst: 'fd00:10:96::999', port: 80, output: 'DROP' },
      { name: 'address outside the service CIDRs: untouched', from: 'p', dst: '10.97.0.1', port: 80, output: '' },
      { name: 'service without endpoints: REJECT', from: 'p', dst: '10.96.1.2', port: 80, output: 'REJECT', kernel: true },
      { name: 'ITP Local, endpoints only on other nodes: DROP', from: 'p', dst: '10.96.1.3', port: 80, output: 'DROP', kernel: true },
      { name: 'ITP Local, no usable endpoint anywhere: REJECT', from: 'p', dst: '10.96.1.4', port: 80, output: 'REJECT', kernel: true },
      { name: 'PreferSameNode: only the endpoint hinted for this node', from: 'p', dst: '10.96.1.5', port: 80, output: 'a:8080', kernel: true },
      { name: 'PreferSameNode: node hints ignored unless every endpoint has one', from: 'p', dst: '10.96.1.6', port: 80, output: 'a:8080, r:8080' },
      { name: 'the same address with two target ports is two endpoints', from: 'p', dst: '10.96.1.7', port: 80, output: 'a:8080, a:8081', kernel: true },
      { name: 'a slice port without a name matches no service port', from: 'p', dst: '10.96.1.8', port: 80, output: 'REJECT' },
      { name: 'NodePort on the primary IP', from: 'client', dst: NODE_V4, port: 30001, output: ALL, masq: true, kernel: true },
      { name: 'NodePort on the primary IPv6', from: 'client', dst: NODE_V6, port: 30001, output: ALL, masq: true, kernel: true },
      { name: 'no NodePort on a node address that is not primary', from: 'client', dst: NODE_EXTERNAL_V4, port: 30001, output: '', untouched: 'refused', kernel: true },
      { name: 'ETP Local LB IP from outside: local endpoints, source kept', from: 'client', dst: '192.168.99.1', port: 80, output: 'a:8080', kernel: true },
      { name: 'ETP Local LB IP from a pod: short-circuit to every endpoint', from: 'p', dst: '192.168.99.1', port: 80, output: 'a:8080, r:8080', kernel: true },
      { name: 'ETP Local LB IP from the node: every endpoint, masqueraded', from: 'node', dst: '192.168.99.1', port: 80, output: 'a:8080, r:8080', masq: true },
      { name: 'ETP Local NodePort from outside: local endpoints', from: 'client', dst: NODE_V4, port: 30002, output: 'a:8080' },
      { name: 'loadBalancerSourceRanges: a source outside is dropped', from: 'client', dst: '192.168.99.2', port: 80, output: 'DROP', kernel: true },
      { name: 'loadBalancerSourceRanges: a source inside passes', from: 'p', dst: '192.168.99.2', port: 80, output: 'a:8080', masq: true },
    ],
  },
  {
    name: 'no service CIDRs known, IPv4-only --nodeport-addresses',
    options: { ...base, nodePortAddresses: ['192.168.0.0/24'] },
    objects: [node, ...services],
    cases: [
      { name: 'an address inside what would be the service CIDR is routed on', from: 'p', dst: '10.96.200.5', port: 80, output: '', untouched: 'x', kernel: true },
      { name: 'undefined port of a cluster IP: still REJECT', from: 'p', dst: '10.96.1.1', port: 81, output: 'REJECT' },
      { name: 'NodePort on an address inside the CIDR', from: 'client', dst: NODE_V4, port: 30001, output: ALL, masq: true },
      { name: 'no NodePort outside the CIDR', from: 'client', dst: NODE_EXTERNAL_V4, port: 30001, output: '' },
      { name: 'IPv6 has no CIDR: NodePorts on every IPv6 address', from: 'client', dst: NODE_V6, port: 30001, output: ALL, masq: true, kernel: true },
    ],
  },
  {
    name: '--service-cidr instead of ServiceCIDR objects',
    options: { ...base, serviceCIDRs: ['10.96.0.0/16'] },
    objects: [node, ...services],
    cases: [
      { name: 'unallocated address in the service CIDR: DROP', from: 'p', dst: '10.96.200.5', port: 80, output: 'DROP' },
      { name: 'no IPv6 service CIDR given: IPv6 unallocated addresses untouched', from: 'p', dst: 'fd00:10:96::999', port: 80, output: '' },
      { name: 'NodePorts on every node address (no --nodeport-addresses)', from: 'client', dst: NODE_EXTERNAL_V4, port: 30001, output: ALL, masq: true },
    ],
  },
  {
    name: 'detectLocalMode NodeCIDR (the Node\'s spec.podCIDRs)',
    options: { ...base, clusterCIDRs: [], detectLocalMode: 'NodeCIDR' },
    objects: [node, ...services],
    cases: [
      { name: 'a pod of this node: not masqueraded', from: 'p', dst: '10.96.1.1', port: 80, output: ALL, kernel: true },
      { name: 'a pod of another node: masqueraded', from: 'o', dst: '10.96.1.1', port: 80, output: ALL, masq: true, kernel: true },
      { name: 'outside: masqueraded', from: 'client', dst: '10.96.1.1', port: 80, output: ALL, masq: true },
      { name: 'ETP Local LB IP from a pod of another node: local endpoints only', from: 'o', dst: '192.168.99.1', port: 80, output: 'a:8080' },
    ],
  },
  {
    name: 'detectLocalMode BridgeInterface (vp4, the interface of pod p)',
    options: { ...base, clusterCIDRs: [], detectLocalMode: 'BridgeInterface', podBridgeInterface: 'vp4' },
    objects: [node, ...services],
    cases: [
      { name: 'from the bridge: not masqueraded', from: 'p', dst: '10.96.1.1', port: 80, output: ALL, kernel: true },
      { name: 'from another interface: masqueraded', from: 'o', dst: '10.96.1.1', port: 80, output: ALL, masq: true, kernel: true },
      { name: 'ETP Local LB IP from the bridge: short-circuit', from: 'p', dst: '192.168.99.1', port: 80, output: 'a:8080, r:8080' },
      { name: 'ETP Local LB IP from another interface: local endpoints only', from: 'o', dst: '192.168.99.1', port: 80, output: 'a:8080', kernel: true },
    ],
  },
  {
    name: 'detectLocalMode InterfaceNamePrefix (vp*)',
    options: { ...base, clusterCIDRs: [], detectLocalMode: 'InterfaceNamePrefix', podInterfaceNamePrefix: 'vp' },
    objects: [node, ...services],
    cases: [
      { name: 'from a pod interface: not masqueraded', from: 'p', dst: '10.96.1.1', port: 80, output: ALL, kernel: true },
      { name: 'from another pod interface: not masqueraded', from: 'o', dst: '10.96.1.1', port: 80, output: ALL, kernel: true },
      { name: 'from a client interface: masqueraded', from: 'client', dst: '10.96.1.1', port: 80, output: ALL, masq: true, kernel: true },
      { name: 'from the node (no input interface): masqueraded', from: 'node', dst: '10.96.1.1', port: 80, output: ALL, masq: true },
    ],
  },
  {
    name: 'no local detection (ClusterCIDR without --cluster-cidr), then masqueradeAll',
    options: { ...base, clusterCIDRs: [] },
    objects: [node, ...services],
    cases: [
      { name: 'outside traffic to a cluster IP is not masqueraded', from: 'client', dst: '10.96.1.1', port: 80, output: ALL },
      { name: 'ETP Local LB IP from a pod: local endpoints only (no short-circuit)', from: 'p', dst: '192.168.99.1', port: 80, output: 'a:8080' },
    ],
  },
  {
    name: 'masqueradeAll',
    options: { ...base, masqueradeAll: true },
    objects: [node, ...services],
    cases: [{ name: 'a pod is masqueraded too', from: 'p', dst: '10.96.1.1', port: 80, output: ALL, masq: true }],
  },
];
