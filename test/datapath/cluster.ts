// Tiny builders for Kubernetes objects in datapath tests, so each test states its cluster in a few lines.

export interface PortSpec {
  name?: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

export interface EndpointSpec {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  zone?: string;
  hints?: string[];
}

export interface ServiceSpec {
  name: string;
  namespace?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: ('IPv4' | 'IPv6')[];
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  ports: PortSpec[];
  externalIPs?: string[];
  loadBalancerIPs?: string[];
  loadBalancerSourceRanges?: string[];
  externalTrafficPolicy?: 'Cluster' | 'Local';
  internalTrafficPolicy?: 'Cluster' | 'Local';
  affinitySeconds?: number;
  healthCheckNodePort?: number;
  trafficDistribution?: string;
  /** One slice per entry; each slice has the service's port names with the given target port. */
  slices?: { family?: 'IPv4' | 'IPv6'; targetPort: number; endpoints: EndpointSpec[] }[];
}

export function objectsFor(services: ServiceSpec[], nodes: { name: string; ip: string; zone?: string }[] = []): unknown[] {
  const out: unknown[] = nodes.map((n) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: n.name, labels: n.zone ? { 'topology.kubernetes.io/zone': n.zone } : {} },
    status: { addresses: [{ type: 'InternalIP', address: n.ip }] },
  }));
  for (const s of services) {
    const namespace = s.namespace ?? 'default';
    const clusterIPs = s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : []);
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, namespace },
      spec: {
        type: s.type ?? (s.ports.some((p) => p.nodePort) ? 'NodePort' : 'ClusterIP'),
        clusterIP: clusterIPs[0],
        clusterIPs,
        ipFamilies: s.ipFamilies ?? clusterIPs.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4')),
        ports: s.ports.map((p) => ({ protocol: 'TCP', ...p })),
        ...(s.externalIPs ? { externalIPs: s.externalIPs } : {}),
        ...(s.loadBalancerSourceRanges ? { loadBalancerSourceRanges: s.loadBalancerSourceRanges } : {}),
        ...(s.externalTrafficPolicy ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
        ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
        ...(s.healthCheckNodePort ? { healthCheckNodePort: s.healthCheckNodePort } : {}),
        ...(s.trafficDistribution ? { trafficDistribution: s.trafficDistribution } : {}),
        ...(s.affinitySeconds
          ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: s.affinitySeconds } } }
          : {}),
      },
      status: s.loadBalancerIPs ? { loadBalancer: { ingress: s.loadBalancerIPs.map((ip) => ({ ip })) } } : {},
    });
    (s.slices ?? []).forEach((sl, i) => {
      out.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${s.name}-${i}`, namespace, labels: { 'kubernetes.io/service-name': s.name } },
        addressType: sl.family ?? 'IPv4',
        ports: s.ports.map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: sl.targetPort })),
        endpoints: sl.endpoints.map((e) => ({
          addresses: [e.ip],
          conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
          ...(e.node ? { nodeName: e.node } : {}),
          ...(e.zone ? { zone: e.zone } : {}),
          ...(e.hints ? { hints: { forZones: e.hints.map((name) => ({ name })) } } : {}),
        })),
      });
    });
  }
  return out;
}
