// Synthetic clusters for the benchmark and the scale tests: Kubernetes objects (v1 Service,
// discovery.k8s.io/v1 EndpointSlice, v1 Node) exactly as `kubectl get -o json` would give them.

import { SERVICE_NAME_LABEL } from '../compiler/model/schema.js';

export interface GenerateOptions {
  services: number;
  endpointsPerService: number | ((i: number) => number);
  /** Every k-th service is a NodePort service (0 = none). */
  nodePortEvery?: number;
  /** Per service: NodePort or not (overrides nodePortEvery). NodePorts are handed out in order. */
  nodePort?: (i: number) => boolean;
  /** Per service: how many ports (http, https, metrics, ...); default 1. */
  ports?: (i: number) => number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  nodes?: string[];
}

export type K8sObject = Record<string, unknown>;

/** 10.96.0.0/12 service IPs and 10.128.0.0/9 pod IPs: room for 1M services and 8M endpoints. */
export function serviceIp(i: number): string {
  const n = 10 * 2 ** 24 + 96 * 2 ** 16 + i + 1;
  return v4(n);
}

export function podIp(i: number): string {
  return v4(10 * 2 ** 24 + 128 * 2 ** 16 + i + 1);
}

function v4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function serviceName(i: number): string {
  return `svc-${i}`;
}

export function generateCluster(o: GenerateOptions): K8sObject[] {
  const nodes = o.nodes ?? ['node-a', 'node-b', 'node-c'];
  const protocol = o.protocol ?? 'TCP';
  const out: K8sObject[] = nodes.map((name, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
    status: { addresses: [{ type: 'InternalIP', address: v4(192 * 2 ** 24 + 168 * 2 ** 16 + i + 1) }] },
  }));
  let pod = 0;
  let nodePorts = 0;
  const portNames = ['http', 'https', 'metrics', 'grpc'];
  for (let i = 0; i < o.services; i++) {
    const name = serviceName(i);
    const wantsNodePort = o.nodePort ? o.nodePort(i) : !!o.nodePortEvery && i % o.nodePortEvery === 0;
    const nodePort = wantsNodePort ? 30000 + (o.nodePort ? nodePorts++ : i / (o.nodePortEvery as number)) % 2768 : undefined;
    const portCount = Math.min(portNames.length, Math.max(1, o.ports?.(i) ?? 1));
    const ports = portNames.slice(0, portCount).map((pname, k) => ({
      name: pname,
      protocol,
      port: 80 + k,
      targetPort: 8080 + k,
      ...(nodePort && k === 0 ? { nodePort } : {}),
    }));
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'bench' },
      spec: {
        type: nodePort ? 'NodePort' : 'ClusterIP',
        clusterIP: serviceIp(i),
        clusterIPs: [serviceIp(i)],
        ipFamilies: ['IPv4'],
        ports,
      },
    });
    const n = typeof o.endpointsPerService === 'function' ? o.endpointsPerService(i) : o.endpointsPerService;
    const endpoints = Array.from({ length: n }, (_, k) => ({
      addresses: [podIp(pod++)],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: nodes[k % nodes.length],
    }));
    out.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-abcde`, namespace: 'bench', labels: { [SERVICE_NAME_LABEL]: name } },
      addressType: 'IPv4',
      ports: ports.map((p) => ({ name: p.name, protocol, port: p.targetPort })),
      endpoints,
    });
  }
  return out;
}
