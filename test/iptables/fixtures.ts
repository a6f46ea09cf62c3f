// Hand-built service models for the baseline tests (compiler/model's builder is not required).

import { defaultCompileOptions, type CompileOptions, type Endpoint, type ServicePort } from '../../compiler/model/types.js';

export function ep(ip: string, port: number, extra: Partial<Endpoint> = {}): Endpoint {
  return { ip, port, ready: true, serving: true, terminating: false, isLocal: false, ...extra };
}

export function svcPort(o: Partial<ServicePort> & Pick<ServicePort, 'name' | 'clusterIP'>): ServicePort {
  const base: ServicePort = {
    id: '',
    namespace: 'ns1',
    name: o.name,
    portName: 'p80',
    protocol: 'tcp',
    family: 4,
    clusterIP: o.clusterIP,
    port: 80,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    endpoints: [],
    clusterEndpoints: [],
    localEndpoints: [],
  };
  const sp = { ...base, ...o };
  sp.id = `${sp.namespace}/${sp.name}:${sp.portName}`;
  if (o.clusterEndpoints === undefined) sp.clusterEndpoints = sp.endpoints.filter((e) => e.ready);
  if (o.localEndpoints === undefined) sp.localEndpoints = sp.endpoints.filter((e) => e.ready && e.isLocal);
  return sp;
}

export const testOptions: CompileOptions = {
  ...defaultCompileOptions,
  clusterCIDRs: ['10.0.0.0/8', 'fd00:10::/64'],
  nodeName: 'test-node',
  nodeIPs: ['192.168.0.2'],
};

/** A small cluster covering every feature the iptables baseline writes. */
export function sampleCluster(): ServicePort[] {
  return [
    svcPort({ name: 'svc1', clusterIP: '172.30.0.41', endpoints: [ep('10.180.0.1', 80), ep('10.180.0.2', 80), ep('10.180.0.3', 80)] }),
    svcPort({ name: 'svc2', clusterIP: '172.30.0.42', endpoints: [] }),
    svcPort({
      name: 'svc3',
      clusterIP: '172.30.0.43',
      protocol: 'udp',
      portName: 'dns',
      port: 53,
      nodePort: 30053,
      endpoints: [ep('10.180.1.1', 5353)],
    }),
    svcPort({
      name: 'svc4',
      clusterIP: '172.30.0.44',
      nodePort: 30004,
      healthCheckNodePort: 30000,
      externalTrafficPolicy: 'Local',
      externalIPs: ['192.168.99.11'],
      loadBalancerIPs: ['1.2.3.4'],
      loadBalancerSourceRanges: ['203.0.113.0/25'],
      sessionAffinity: { timeoutSeconds: 10800 },
      endpoints: [ep('10.180.0.4', 8080, { isLocal: true, nodeName: 'test-node' }), ep('10.180.2.1', 8080)],
    }),
    svcPort({
      name: 'svc5',
      clusterIP: '172.30.0.45',
      internalTrafficPolicy: 'Local',
      endpoints: [ep('10.180.2.2', 80)],
    }),
  ];
}
