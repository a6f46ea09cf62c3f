// Kubernetes objects for daemon tests, shaped as the API server serves them.

import type { KubeObject } from '../fake-apiserver/server.js';

export const NODE = 'node-a';

export function node(name = NODE, addresses: string[] = ['192.168.0.1'], zone = 'zone-a'): KubeObject {
  return {
    kind: 'Node',
    apiVersion: 'v1',
    metadata: { name, labels: { 'topology.kubernetes.io/zone': zone, 'kubernetes.io/hostname': name } },
    status: { addresses: addresses.map((address) => ({ type: 'InternalIP', address })) },
  };
}

export interface SvcSpec {
  ns?: string;
  name: string;
  ip: string;
  port?: number;
  protocol?: 'TCP' | 'UDP';
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  nodePort?: number;
  healthCheckNodePort?: number;
  externalTrafficPolicy?: 'Cluster' | 'Local';
}

export function service(s: SvcSpec): KubeObject {
  const port: Record<string, unknown> = { name: 'p', port: s.port ?? 80, protocol: s.protocol ?? 'TCP', targetPort: 8080 };
  if (s.nodePort !== undefined) port['nodePort'] = s.nodePort;
  const spec: Record<string, unknown> = {
    type: s.type ?? 'ClusterIP',
    clusterIP: s.ip,
    clusterIPs: [s.ip],
    ipFamilies: ['IPv4'],
    ports: [port],
    sessionAffinity: 'None',
    internalTrafficPolicy: 'Cluster',
  };
  if (s.type === 'NodePort' || s.type === 'LoadBalancer') spec['externalTrafficPolicy'] = s.externalTrafficPolicy ?? 'Cluster';
  if (s.healthCheckNodePort !== undefined) spec['healthCheckNodePort'] = s.healthCheckNodePort;
  return { kind: 'Service', apiVersion: 'v1', metadata: { namespace: s.ns ?? 'default', name: s.name }, spec };
}

export interface EpSpec {
  ip: string;
  node?: string;
  ready?: boolean;
}

export function slice(ns: string, svc: string, endpoints: EpSpec[], opts: { name?: string; port?: number; protocol?: 'TCP' | 'UDP' } = {}): KubeObject {
  return {
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    metadata: { namespace: ns, name: opts.name ?? `${svc}-abc`, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: [{ name: 'p', port: opts.port ?? 8080, protocol: opts.protocol ?? 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false },
      nodeName: e.node ?? NODE,
    })),
  };
}
