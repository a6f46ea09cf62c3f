// The informer transform (runtime/kube/compact.ts): what the API server sends and the proxy never
// reads is dropped, what the model reads is kept — checked by building the model (and the
// ruleset) from compacted objects and from the originals — and, through the watch layer against
// the fake API server, the store and client-node's informer cache share the compact objects.

import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileObjects } from '../../compiler/index.js';
import { loadObjects } from '../../compiler/model/load.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { rulesetToText } from '../../compiler/nft/text.js';
import { kubeConfigFrom } from '../../runtime/kube/client.js';
import { compactObject } from '../../runtime/kube/compact.js';
import { ObjectStore, type WatchedKind } from '../../runtime/kube/store.js';
import { startWatches, type Watches } from '../../runtime/kube/watch.js';
import { FakeApiServer, kubeconfigFor, type KubeObject } from '../fake-apiserver/server.js';
import { NODE } from './fixtures.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const EXAMPLE = fileURLToPath(new URL('../../examples/cluster.yaml', import.meta.url));

/** Every feature the model reads a field for, beyond the example: LB status, affinity, ETP Local, hints, podCIDRs. */
const FEATURES = parse(`
- apiVersion: v1
  kind: Service
  metadata: {name: lb, namespace: default, creationTimestamp: "2025-01-01T00:00:00Z", labels: {app: lb}}
  spec:
    type: LoadBalancer
    selector: {app: lb}
    clusterIP: 10.96.1.1
    clusterIPs: [10.96.1.1]
    ipFamilies: [IPv4]
    externalIPs: [203.0.113.9]
    externalTrafficPolicy: Local
    healthCheckNodePort: 31000
    loadBalancerSourceRanges: [198.51.100.0/24]
    sessionAffinity: ClientIP
    sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
    ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30500}]
  status:
    loadBalancer: {ingress: [{ip: 203.0.113.1}, {ip: 203.0.113.2, ipMode: Proxy}]}
    conditions: [{type: LoadBalancerReady, status: "True"}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: lb-x1, namespace: default, labels: {kubernetes.io/service-name: lb, endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io}}
  addressType: IPv4
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints:
  - {addresses: [10.244.0.7], conditions: {ready: true, serving: true, terminating: false}, nodeName: node-a, zone: a, hints: {forZones: [{name: a}]}, hostname: pod-7, targetRef: {kind: Pod, name: lb-7, namespace: default, uid: 7e1}}
  - {addresses: [10.244.1.8], conditions: {ready: false, serving: true, terminating: true}, nodeName: node-b, zone: b, hints: {forZones: [{name: b}]}, targetRef: {kind: Pod, name: lb-8, namespace: default, uid: 7e2}, deprecatedTopology: {x: y}}
- apiVersion: v1
  kind: Node
  metadata: {name: node-c, labels: {topology.kubernetes.io/zone: c}}
  spec: {podCIDR: 10.244.0.0/24, podCIDRs: [10.244.0.0/24], providerID: "kind://x", taints: [{key: k, effect: NoSchedule}]}
  status:
    addresses: [{type: InternalIP, address: 192.168.0.1}, {type: Hostname, address: node-a}]
    images: [{names: ["registry.k8s.io/pause:3.9"], sizeBytes: 1}]
    conditions: [{type: Ready, status: "True"}]
    nodeInfo: {kubeletVersion: v1.31.0}
`) as Obj[];

/** What an API server adds to each object (server-side apply bookkeeping, kubectl's annotation). */
function dressUp(o: Obj): Obj {
  const c = structuredClone(o);
  c.metadata = {
    ...c.metadata,
    uid: `uid-${c.metadata.name}`,
    resourceVersion: '12345',
    generation: 3,
    ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'x', uid: 'u' }],
    annotations: { ...c.metadata.annotations, 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(o), 'example.com/note': 'x' },
    managedFields: [{ manager: 'kubectl', operation: 'Apply', apiVersion: 'v1', time: '2025-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:ports': {} } } }],
  };
  return c;
}

const opts: CompileOptions = { ...defaultCompileOptions, nodeName: 'node-a', clusterCIDRs: ['10.244.0.0/16'] };

function objects(): Obj[] {
  return [...(loadObjects(readFileSync(EXAMPLE, 'utf8')).objects as Obj[]), ...FEATURES].map(dressUp);
}

describe('compactObject', () => {
  it('drops managedFields, annotations, ownerReferences, selector, targetRef, Node images/conditions; keeps Node taints', () => {
    const compacted = objects().map((o) => compactObject(o.kind as WatchedKind, o));
    const text = JSON.stringify(compacted);
    for (const gone of ['managedFields', 'last-applied-configuration', 'annotations', 'ownerReferences', '"generation"', 'targetRef', '"hostname":"pod-7"', 'deprecatedTopology', '"selector"', 'images', 'nodeInfo', 'conditions":[{"type":"Ready', 'LoadBalancerReady', 'providerID']) {
      expect(text, gone).not.toContain(gone);
    }
    const lb = compacted.find((o) => o.metadata.name === 'lb') as Obj;
    expect(lb.metadata).toEqual({ name: 'lb', namespace: 'default', creationTimestamp: '2025-01-01T00:00:00Z', labels: { app: 'lb' }, uid: 'uid-lb', resourceVersion: '12345' });
    expect(lb.status).toEqual({ loadBalancer: { ingress: [{ ip: '203.0.113.1' }, { ip: '203.0.113.2', ipMode: 'Proxy' }] } });
    const es = compacted.find((o) => o.metadata.name === 'lb-x1') as Obj;
    expect(es.endpoints[1]).toEqual({ addresses: ['10.244.1.8'], conditions: { ready: false, serving: true, terminating: true }, nodeName: 'node-b', zone: 'b', hints: { forZones: [{ name: 'b' }] } });
    const node = compacted.find((o) => o.kind === 'Node' && o.metadata.name === 'node-c') as Obj;
    // taints stay: /healthz turns unhealthy on the cluster autoscaler's ToBeDeletedByClusterAutoscaler taint.
    expect(node.spec).toEqual({ podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'], taints: [{ key: 'k', effect: 'NoSchedule' }] });
    expect(node.status).toEqual({ addresses: [{ type: 'InternalIP', address: '192.168.0.1' }, { type: 'Hostname', address: 'node-a' }] });
    expect(node.metadata.labels).toEqual({ 'topology.kubernetes.io/zone': 'c' });
  });

  it('keeps everything the model reads: same model and same ruleset as from the full objects', () => {
    const full = compileObjects(objects(), opts);
    const compact = compileObjects(objects().map((o) => compactObject(o.kind as WatchedKind, o)), opts);
    expect(full.model.servicePorts.length).toBeGreaterThan(10);
    expect(full.model.node.podCIDRs?.length).toBeGreaterThan(0);
    expect(full.model.node.zone).toBe('a');
    expect(full.model.servicePorts.some((sp) => sp.sessionAffinity && sp.loadBalancerIPs.length > 0 && sp.creationTimestamp)).toBe(true);
    expect(compact.model).toEqual(full.model);
    expect(rulesetToText(compact.ruleset)).toBe(rulesetToText(full.ruleset));
  });

  it('compacts in place and returns the same object (the informer caches that reference)', () => {
    const o = dressUp(FEATURES[0] as Obj);
    expect(compactObject('Service', o)).toBe(o);
    expect(o.metadata.managedFields).toBeUndefined();
  });
});

describe('the watch layer stores compact objects', () => {
  let server: FakeApiServer | undefined;
  let watches: Watches | undefined;
  afterEach(async () => {
    await watches?.stop();
    await server?.stop();
    watches = server = undefined;
  });

  it('from the initial list and from watch events', async () => {
    server = new FakeApiServer();
    await server.start();
    const [svc, es, node] = FEATURES.map(dressUp) as [Obj, Obj, Obj];
    server.apply(svc as KubeObject);
    server.apply({ ...node, metadata: { ...node.metadata, name: NODE } } as KubeObject);
    const file = join(mkdtempSync(join(tmpdir(), 'nfp-compact-')), 'kubeconfig');
    writeFileSync(file, kubeconfigFor(server.url));
    const store = new ObjectStore();
    watches = startWatches(kubeConfigFrom({ kubeconfig: file }), store, { nodeName: NODE, log: pino({ level: 'silent' }), initialBackoffMs: 50, maxBackoffMs: 200 });
    await watches.synced;
    server.apply(es as KubeObject); // after the list: arrives as a watch event
    const deadline = Date.now() + 5000;
    while (!store.get('EndpointSlice', 'default', 'lb-x1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const listed = store.get('Service', 'default', 'lb') as Obj;
    const watched = store.get('EndpointSlice', 'default', 'lb-x1') as Obj;
    const nodeObj = store.get('Node', '', NODE) as Obj;
    expect(listed.metadata.managedFields).toBeUndefined();
    expect(listed.metadata.annotations).toBeUndefined();
    expect(listed.spec.selector).toBeUndefined();
    expect(listed.status.loadBalancer.ingress).toHaveLength(2);
    expect(watched.metadata.managedFields).toBeUndefined();
    expect(watched.endpoints[0].targetRef).toBeUndefined();
    expect(watched.endpoints[0].hints).toEqual({ forZones: [{ name: 'a' }] });
    expect(nodeObj.status.images).toBeUndefined();
    expect(nodeObj.spec.podCIDRs).toEqual(['10.244.0.0/24']);
    // Nothing left to strip: the stored objects are already compact.
    for (const [kind, o] of [['Service', listed], ['EndpointSlice', watched], ['Node', nodeObj]] as const) {
      expect(compactObject(kind, structuredClone(o))).toEqual(o);
    }
  });
});
