// The reproducers of issue 11: cluster states with two claims to one map/set key, and changes
// (before → after) whose diff lost keys. Shared by the model, CLI and kernel tests.

import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { objectsFor, type ServiceSpec } from '../datapath/cluster.js';

export const NODE = { name: 'node-a', ip: '192.168.0.1' };

export const reproOptions: CompileOptions = {
  ...defaultCompileOptions,
  nodeName: 'node-a',
  clusterCIDRs: ['10.244.0.0/16'],
};

/** ServiceSpec plus the creationTimestamp the conflict rules look at. */
export type Spec = ServiceSpec & { created?: string };

/** Objects for the specs (and the node object), with creationTimestamps filled in. */
export function objectsOf(specs: Spec[], withNode = true): unknown[] {
  const objs = objectsFor(specs, withNode ? [NODE] : []) as Record<string, unknown>[];
  for (const o of objs) {
    if (o['kind'] !== 'Service') continue;
    const md = o['metadata'] as { name: string; namespace: string; creationTimestamp?: string };
    const spec = specs.find((s) => s.name === md.name && (s.namespace ?? 'default') === md.namespace);
    if (spec?.created !== undefined) md.creationTimestamp = spec.created;
  }
  return objs;
}

const eps = (base: string, n: number, node = 'node-b') => Array.from({ length: n }, (_, i) => ({ ip: `${base}.${i + 1}`, node }));

export const kubeDns: Spec = {
  name: 'kube-dns',
  namespace: 'kube-system',
  created: '2024-01-01T00:00:00Z',
  clusterIP: '10.96.0.10',
  ports: [
    { name: 'dns', protocol: 'UDP', port: 53 },
    { name: 'dns-tcp', protocol: 'TCP', port: 53 },
  ],
  slices: [{ targetPort: 5353, endpoints: eps('10.244.1', 2) }],
};

/** Created later, by a user who may set externalIPs: claims kube-dns's cluster IP on 53/TCP. */
export const hijack: Spec = {
  name: 'hijack',
  namespace: 'tenant',
  created: '2025-06-01T00:00:00Z',
  clusterIP: '10.96.5.5',
  externalIPs: ['10.96.0.10'],
  ports: [{ name: 'dns', protocol: 'TCP', port: 53 }],
  slices: [{ targetPort: 8053, endpoints: eps('10.244.2', 1) }],
};

const web = (name: string, created: string, o: Partial<Spec>): Spec => ({
  name,
  created,
  clusterIP: o.clusterIP ?? `10.96.7.${name.length + created.length}`,
  ports: [{ name: 'http', port: 80 }],
  slices: [{ targetPort: 8080, endpoints: eps(`10.244.${name.charCodeAt(0) % 200}`, 2) }],
  ...o,
});

export interface Reproducer {
  name: string;
  specs: Spec[];
  /** Substrings of the expected conflict keys (empty: none, e.g. the range fixes). */
  conflictKeys: string[];
}

/** States the kernel refused before issue 11 (compile). */
export const stateReproducers: Reproducer[] = [
  { name: "externalIP = kube-dns's cluster IP", specs: [kubeDns, hijack], conflictKeys: ['10.96.0.10 tcp 53'] },
  {
    name: 'two Services share an externalIP and port',
    specs: [
      web('old', '2024-01-01T00:00:00Z', { clusterIP: '10.96.7.1', externalIPs: ['203.0.113.10'] }),
      web('new', '2025-01-01T00:00:00Z', { clusterIP: '10.96.7.2', externalIPs: ['203.0.113.10'] }),
    ],
    conflictKeys: ['203.0.113.10 tcp 80'],
  },
  {
    name: 'two LoadBalancers share an LB IP and port',
    specs: [
      web('lb-b', '2024-01-01T00:00:00Z', { type: 'LoadBalancer', clusterIP: '10.96.7.3', loadBalancerIPs: ['198.51.100.5'], ports: [{ name: 'http', port: 80, nodePort: 30001 }] }),
      web('lb-a', '2025-01-01T00:00:00Z', { type: 'LoadBalancer', clusterIP: '10.96.7.4', loadBalancerIPs: ['198.51.100.5'], ports: [{ name: 'http', port: 80, nodePort: 30002 }] }),
    ],
    conflictKeys: ['198.51.100.5 tcp 80'],
  },
  {
    name: 'LB with loadBalancerSourceRanges 0.0.0.0/0 on a node inside the range',
    specs: [web('open', '2024-01-01T00:00:00Z', { type: 'LoadBalancer', clusterIP: '10.96.7.5', loadBalancerIPs: ['198.51.100.6'], loadBalancerSourceRanges: ['0.0.0.0/0'], ports: [{ name: 'http', port: 80, nodePort: 30003 }] })],
    conflictKeys: [],
  },
  {
    name: 'overlapping source ranges in one Service (node inside)',
    specs: [web('nested', '2024-01-01T00:00:00Z', { type: 'LoadBalancer', clusterIP: '10.96.7.6', loadBalancerIPs: ['198.51.100.7'], loadBalancerSourceRanges: ['10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/16', '192.168.0.0/24'], ports: [{ name: 'http', port: 80, nodePort: 30004 }] })],
    conflictKeys: [],
  },
  {
    name: 'own cluster IP listed as externalIP, ITP Local',
    specs: [web('self-ext', '2024-01-01T00:00:00Z', { clusterIP: '10.96.7.7', externalIPs: ['10.96.7.7'], internalTrafficPolicy: 'Local' })],
    conflictKeys: ['10.96.7.7 tcp 80'],
  },
  {
    name: 'own cluster IP as LB ingress IP, ITP Local',
    specs: [web('self-lb', '2024-01-01T00:00:00Z', { type: 'LoadBalancer', clusterIP: '10.96.7.8', loadBalancerIPs: ['10.96.7.8'], internalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30005 }] })],
    conflictKeys: ['10.96.7.8 tcp 80'],
  },
  {
    name: 'two Services with the same nodePort',
    specs: [
      web('np-old', '2024-01-01T00:00:00Z', { type: 'NodePort', clusterIP: '10.96.7.9', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }),
      web('np-new', '2025-01-01T00:00:00Z', { type: 'NodePort', clusterIP: '10.96.7.10', ports: [{ name: 'http', port: 81, nodePort: 30080 }] }),
    ],
    conflictKeys: ['nodePort tcp 30080'],
  },
  {
    name: 'two Services with the same cluster IP and port',
    specs: [
      web('cip-old', '2024-01-01T00:00:00Z', { clusterIP: '10.96.7.11' }),
      web('cip-new', '2025-01-01T00:00:00Z', { clusterIP: '10.96.7.11', ports: [{ name: 'http', port: 80 }, { name: 'alt', port: 8080 }] }),
    ],
    conflictKeys: ['10.96.7.11 tcp 80'],
  },
  {
    name: 'same IP in externalIPs and LB ingress (one claim, no conflict)',
    specs: [web('both', '2024-01-01T00:00:00Z', { type: 'LoadBalancer', clusterIP: '10.96.7.12', externalIPs: ['198.51.100.9'], loadBalancerIPs: ['198.51.100.9'], ports: [{ name: 'http', port: 80, nodePort: 30006 }] })],
    conflictKeys: [],
  },
];

export interface ChangeReproducer {
  name: string;
  before: Spec[];
  after: Spec[];
}

const both = web('both', '2024-01-01T00:00:00Z', { type: 'LoadBalancer', clusterIP: '10.96.7.12', externalIPs: ['198.51.100.9'], loadBalancerIPs: ['198.51.100.9'], ports: [{ name: 'http', port: 80, nodePort: 30006 }] });
const extA = web('ext-a', '2024-01-01T00:00:00Z', { clusterIP: '10.96.7.21', externalIPs: ['203.0.113.21'] });
const extB = web('ext-b', '2025-01-01T00:00:00Z', { clusterIP: '10.96.7.22', externalIPs: ['203.0.113.22'] });

/** Changes whose diff lost keys or was refused before issue 11 (diff; applied on the old state). */
export const changeReproducers: ChangeReproducer[] = [
  { name: 'remove the externalIP that is also the LB IP', before: [both], after: [{ ...both, externalIPs: [] }] },
  { name: 'remove both the externalIP and the LB IP', before: [both], after: [{ ...both, externalIPs: [], loadBalancerIPs: [] }] },
  { name: 'add an externalIP equal to the LB IP', before: [{ ...both, externalIPs: [] }], after: [both] },
  { name: 'the conflict appears (hijack created)', before: [kubeDns], after: [kubeDns, hijack] },
  { name: 'the winner goes away: the loser takes the key over', before: [kubeDns, hijack], after: [hijack] },
  { name: 'the loser goes away', before: [kubeDns, hijack], after: [kubeDns] },
  {
    name: 'two Services swap their externalIPs in one change',
    before: [extA, extB],
    after: [
      { ...extA, externalIPs: ['203.0.113.22'] },
      { ...extB, externalIPs: ['203.0.113.21'] },
    ],
  },
  {
    name: 'ownership moves: the older Service takes a key the newer one had',
    before: [{ ...extA, externalIPs: [] }, { ...extB, externalIPs: ['203.0.113.21'] }],
    after: [extA, { ...extB, externalIPs: ['203.0.113.21'] }],
  },
  {
    name: 'nodePort collision appears and the older Service goes away',
    before: [web('np-old', '2024-01-01T00:00:00Z', { type: 'NodePort', clusterIP: '10.96.7.9', ports: [{ name: 'http', port: 80, nodePort: 30080 }] })],
    after: [web('np-new', '2025-01-01T00:00:00Z', { type: 'NodePort', clusterIP: '10.96.7.10', ports: [{ name: 'http', port: 81, nodePort: 30080 }] })],
  },
  {
    name: 'source ranges become nested',
    before: [web('open', '2024-01-01T00:00:00Z', { type: 'LoadBalancer', clusterIP: '10.96.7.5', loadBalancerIPs: ['198.51.100.6'], loadBalancerSourceRanges: ['10.1.0.0/16'], ports: [{ name: 'http', port: 80, nodePort: 30003 }] })],
    after: [web('open', '2024-01-01T00:00:00Z', { type: 'LoadBalancer', clusterIP: '10.96.7.5', loadBalancerIPs: ['198.51.100.6'], loadBalancerSourceRanges: ['10.1.0.0/16', '10.0.0.0/8', '0.0.0.0/0'], ports: [{ name: 'http', port: 80, nodePort: 30003 }] })],
  },
];
