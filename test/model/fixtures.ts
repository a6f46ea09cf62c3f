// Small builders for Kubernetes objects in tests: only the fields the model reads.
import { defaultCompileOptions, type CompileOptions, type Endpoint } from '../../compiler/model/types.js';

export interface PortSpec {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  nodePort?: number;
}

export function service(
  ns: string,
  name: string,
  spec: Record<string, unknown> & { ports?: PortSpec[] },
  status?: Record<string, unknown>,
): Record<string, unknown> {
  const o: Record<string, unknown> = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec };
  if (status !== undefined) o['status'] = status;
  return o;
}

export interface EndpointSpec {
  ip: string;
  node?: string;
  zone?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  hints?: string[];
}

export function slice(
  ns: string,
  name: string,
  serviceName: string,
  addressType: 'IPv4' | 'IPv6' | 'FQDN',
  ports: { name?: string; port: number; protocol?: string }[],
  endpoints: EndpointSpec[],
): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType,
    // The endpoint controller always writes a name ("" for an unnamed port).
    ports: ports.map((p) => ({ name: '', ...p })),
    endpoints: endpoints.map((e) => {
      const conditions: Record<string, boolean> = {};
      if (e.ready !== undefined) conditions['ready'] = e.ready;
      if (e.serving !== undefined) conditions['serving'] = e.serving;
      if (e.terminating !== undefined) conditions['terminating'] = e.terminating;
      const o: Record<string, unknown> = { addresses: [e.ip], conditions };
      if (e.node !== undefined) o['nodeName'] = e.node;
      if (e.zone !== undefined) o['zone'] = e.zone;
      if (e.hints !== undefined) o['hints'] = { forZones: e.hints.map((z) => ({ name: z })) };
      return o;
    }),
  };
}

export function node(name: string, zone: string | undefined, addresses: { type: string; address: string }[]): Record<string, unknown> {
  const labels: Record<string, string> = { 'kubernetes.io/hostname': name };
  if (zone !== undefined) labels['topology.kubernetes.io/zone'] = zone;
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, status: { addresses } };
}

export function opts(extra: Partial<CompileOptions> = {}): CompileOptions {
  return { ...defaultCompileOptions, ...extra };
}

/** An Endpoint for categorize tests: ready and local unless stated. */
export function ep(ip: string, extra: Partial<Endpoint> = {}): Endpoint {
  return { ip, port: 8080, ready: true, serving: true, terminating: false, isLocal: false, ...extra };
}
