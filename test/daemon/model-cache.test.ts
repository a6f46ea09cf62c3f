// The incremental model equals the compiler's model of the whole store, after every kind of
// change: services and slices added, changed, deleted, slices moving between services, invalid
// objects, node changes. And a change rebuilds only the service it belongs to.

import { describe, expect, it } from 'vitest';
import { buildModel } from '../../compiler/model/build.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { ModelCache } from '../../runtime/daemon/model-cache.js';
import { ObjectStore, type KubeObjectLike } from '../../runtime/kube/store.js';
import { generateCluster } from '../../bench/generate.js';
import { NODE, node, service, slice } from './fixtures.js';

const opts: CompileOptions = { ...defaultCompileOptions, nodeName: NODE };
const kindOf = (o: Record<string, unknown>) => o['kind'] as 'Service' | 'EndpointSlice' | 'Node';

function check(store: ObjectStore, cache: ModelCache): void {
  const full = buildModel(store.snapshot(), opts);
  const inc = cache.build();
  expect(inc.servicePorts).toEqual(full.servicePorts);
  expect(inc.node).toEqual(full.node);
  expect(new Set(inc.problems.map((p) => JSON.stringify(p)))).toEqual(new Set(full.problems.map((p) => JSON.stringify(p))));
}

describe('ModelCache', () => {
  it('matches buildModel of the whole store through a sequence of changes', () => {
    const store = new ObjectStore();
    for (const o of generateCluster({ services: 40, endpointsPerService: (i) => i % 4, nodePortEvery: 3, nodes: [NODE, 'node-b'] })) {
      store.upsert(kindOf(o), o as KubeObjectLike);
    }
    store.upsert('Node', node(NODE, ['192.168.0.1']));
    const cache = new ModelCache(store, opts);
    check(store, cache);
    expect(cache.lastRebuilt).toBeGreaterThanOrEqual(40);

    store.upsert('Service', service({ name: 'new', ip: '10.96.200.1', protocol: 'UDP' }));
    check(store, cache);
    expect(cache.lastRebuilt).toBe(1);

    store.upsert('EndpointSlice', slice('default', 'new', [{ ip: '10.244.9.1' }, { ip: '10.244.9.2', node: 'node-b' }], { protocol: 'UDP' }));
    check(store, cache);
    expect(cache.lastRebuilt).toBe(1);

    // The slice moves to another service: both services change.
    const moved = slice('default', 'svc-x', [{ ip: '10.244.9.3' }], { name: 'new-abc', protocol: 'UDP' });
    store.upsert('EndpointSlice', { ...moved, metadata: { ...moved.metadata, resourceVersion: '2' } });
    check(store, cache);
    expect(cache.lastRebuilt).toBe(2);

    store.upsert('Service', { kind: 'Service', metadata: { namespace: 'default', name: 'broken' }, spec: { ports: [{ port: 99999 }] } } as KubeObjectLike);
    const m = cache.build();
    expect(m.problems.some((p) => p.name === 'broken')).toBe(true);
    check(store, cache);

    store.remove('Service', store.get('Service', 'bench', 'svc-2') as KubeObjectLike);
    check(store, cache);
    const victim = store.list('EndpointSlice').find((s) => !['new', 'svc-x'].includes(String((s.metadata as { labels?: Record<string, string> }).labels?.['kubernetes.io/service-name'])));
    expect(victim).toBeDefined();
    store.remove('EndpointSlice', victim as KubeObjectLike);
    check(store, cache);
    expect(cache.lastRebuilt).toBe(1);
    check(store, cache);

    store.upsert('Node', { ...node(NODE, ['192.168.0.7'], 'zone-b'), metadata: { name: NODE, resourceVersion: '9', labels: { 'topology.kubernetes.io/zone': 'zone-b' } } } as KubeObjectLike);
    check(store, cache);
    expect(cache.lastRebuilt).toBeGreaterThan(30);
    store.upsert('Node', node('node-b', ['192.168.0.8']));
    check(store, cache);
    expect(cache.lastRebuilt).toBe(0);
    // A status heartbeat of our own node (same zone, same addresses) rebuilds nothing.
    store.upsert('Node', {
      ...node(NODE, ['192.168.0.7'], 'zone-b'),
      metadata: { name: NODE, resourceVersion: '10', labels: { 'topology.kubernetes.io/zone': 'zone-b' } },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.0.7' }], conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2026-12-02T05:00:00Z' }] },
    } as KubeObjectLike);
    check(store, cache);
    expect(cache.lastRebuilt).toBe(0);
  });
});
