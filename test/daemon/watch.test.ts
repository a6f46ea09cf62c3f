// The watch layer against the fake API server (in this process, on loopback): initial list,
// live events, relist after 410 Gone, reconnect after dropped connections and after downtime,
// the Node watched through its field selector only.

import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { kubeConfigFrom } from '../../runtime/kube/client.js';
import { ObjectStore } from '../../runtime/kube/store.js';
import { startWatches, type Watches } from '../../runtime/kube/watch.js';
import { serviceCIDRsFrom } from '../../runtime/kube/service-cidrs.js';
import { FakeApiServer, kubeconfigFor } from '../fake-apiserver/server.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE, node, service, slice } from './fixtures.js';

const log = pino({ level: 'silent' });
let server: FakeApiServer | undefined;
let watches: Watches | undefined;

afterEach(async () => {
  await watches?.stop();
  await server?.stop();
  watches = server = undefined;
});

async function setup(): Promise<{ server: FakeApiServer; store: ObjectStore; watches: Watches }> {
  server = new FakeApiServer();
  await server.start();
  const file = join(mkdtempSync(join(tmpdir(), 'nfp-watch-')), 'kubeconfig');
  writeFileSync(file, kubeconfigFor(server.url));
  const store = new ObjectStore();
  watches = startWatches(kubeConfigFrom({ kubeconfig: file }), store, { nodeName: NODE, log, initialBackoffMs: 50, maxBackoffMs: 200 });
  return { server, store, watches };
}

async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('watches', () => {
  it('lists, then follows ADDED/MODIFIED/DELETED; the Node through its field selector only', async () => {
    const s = new FakeApiServer();
    server = s;
    await s.start();
    s.apply(service({ name: 'a', ip: '10.96.0.1' }));
    s.apply(node(NODE));
    s.apply(node('other-node'));
    const file = join(mkdtempSync(join(tmpdir(), 'nfp-watch-')), 'kubeconfig');
    writeFileSync(file, kubeconfigFor(s.url));
    const store = new ObjectStore();
    watches = startWatches(kubeConfigFrom({ kubeconfig: file }), store, { nodeName: NODE, log });
    await watches.synced;
    expect(store.count('Service')).toBe(1);
    expect(store.count('Node')).toBe(1);
    expect(store.get('Node', '', NODE)).toBeDefined();

    await eventually(() => s.watcherCount === 4);
    s.apply(slice('default', 'a', [{ ip: '10.244.0.5' }]));
    s.apply(service({ name: 'a', ip: '10.96.0.1', port: 81 }));
    s.apply(node('other-node', ['192.168.0.9']));
    s.delete('Service', 'default', 'a');
    await eventually(() => store.count('Service') === 0 && store.count('EndpointSlice') === 1);
    expect(store.count('Node')).toBe(1);
    const watchReqs = s.requests.filter((r) => r.watch && r.path === '/api/v1/nodes');
    expect(watchReqs.length).toBeGreaterThan(0);
  });

  it('marks the store dirty with the arrival time of every change', async () => {
    const { server: s, store, watches: w } = await setup();
    await w.synced;
    store.takePending();
    await eventually(() => s.watcherCount === 4);
    const before = Date.now();
    s.apply(service({ name: 'b', ip: '10.96.0.2' }));
    await eventually(() => store.oldestPending() !== undefined);
    expect(store.oldestPending()).toBeGreaterThanOrEqual(before);
    const gen = store.generation;
    s.bookmark(); // a bookmark is not a change
    await new Promise((r) => setTimeout(r, 100));
    expect(store.generation).toBe(gen);
  });

  it('reconnects after dropped connections and resumes from its resourceVersion (no relist)', async () => {
    const { server: s, store, watches: w } = await setup();
    await w.synced;
    await eventually(() => s.watcherCount === 4);
    const lists = s.requests.filter((r) => !r.watch).length;
    s.dropConnections();
    s.apply(service({ name: 'c', ip: '10.96.0.3' }));
    await eventually(() => store.count('Service') === 1);
    expect(s.requests.filter((r) => !r.watch).length).toBe(lists);
  });

  it('relists after 410 Gone and catches up with changes (deletions included) made while away', async () => {
    const { server: s, store, watches: w } = await setup();
    s.apply(service({ name: 'd', ip: '10.96.0.4' }));
    s.apply(service({ name: 'e', ip: '10.96.0.5' }));
    await w.synced;
    await eventually(() => store.count('Service') === 2);
    await s.stop();
    s.delete('Service', 'default', 'd');
    s.apply(service({ name: 'f', ip: '10.96.0.6' }));
    s.compact();
    await s.start();
    await eventually(() => store.count('Service') === 2 && store.get('Service', 'default', 'f') !== undefined, 10_000);
    expect(store.get('Service', 'default', 'd')).toBeUndefined();
    expect(s.requests.some((r) => r.watch && r.status === 410)).toBe(true);
  });

  it('keeps retrying while the API server is unreachable and syncs once it is up', async () => {
    const s = new FakeApiServer();
    server = s;
    await s.start();
    const port = s.port;
    await s.stop();
    const file = join(mkdtempSync(join(tmpdir(), 'nfp-watch-')), 'kubeconfig');
    writeFileSync(file, kubeconfigFor(`http://127.0.0.1:${port}`));
    const store = new ObjectStore();
    watches = startWatches(kubeConfigFrom({ kubeconfig: file }), store, { nodeName: NODE, log, initialBackoffMs: 50, maxBackoffMs: 200 });
    await new Promise((r) => setTimeout(r, 300));
    expect(watches.isSynced()).toBe(false);
    s.apply(service({ name: 'g', ip: '10.96.0.7' }));
    await s.start(port);
    await watches.synced;
    expect(store.count('Service')).toBe(1);
  });

  it("lists and watches Services and EndpointSlices with kube-proxy's label selector: other proxies' and headless objects never arrive", async () => {
    const { server: s, store, watches: w } = await setup();
    const other = { ...service({ name: 'other', ip: '10.96.0.8' }) };
    other.metadata = { ...other.metadata, labels: { 'service.kubernetes.io/service-proxy-name': 'someone-else' } };
    s.apply(other);
    const headless = slice('default', 'hl', [{ ip: '10.244.0.9' }]);
    headless.metadata = { ...headless.metadata, labels: { ...(headless.metadata['labels'] as object), 'service.kubernetes.io/headless': '' } };
    s.apply(headless);
    s.apply(service({ name: 'mine', ip: '10.96.0.9' }));
    await w.synced;
    expect(store.list('Service').map((o) => o.metadata?.name)).toEqual(['mine']);
    expect(store.count('EndpointSlice')).toBe(0);
    const lists = s.requests.filter((r) => !r.watch && (r.path === '/api/v1/services' || r.path === '/apis/discovery.k8s.io/v1/endpointslices'));
    expect(lists.length).toBe(2);
    // A Service that gets the label leaves (the server turns the MODIFIED into a DELETED), and comes back without it.
    await eventually(() => s.watcherCount === 4);
    const mine = service({ name: 'mine', ip: '10.96.0.9' });
    s.apply({ ...mine, metadata: { ...mine.metadata, labels: { 'service.kubernetes.io/service-proxy-name': 'x' } } });
    await eventually(() => store.count('Service') === 0);
    s.apply(mine);
    await eventually(() => store.count('Service') === 1);
  });

  it('watches ServiceCIDRs; an API server without that API (404) counts as synced, logged once, not retried', async () => {
    const s = new FakeApiServer();
    server = s;
    s.serveServiceCIDRs = false;
    await s.start();
    const file = join(mkdtempSync(join(tmpdir(), 'nfp-watch-')), 'kubeconfig');
    writeFileSync(file, kubeconfigFor(s.url));
    const store = new ObjectStore();
    const lines: string[] = [];
    const rec = { info: (_o: object, m: string) => lines.push(m), warn: (_o: object, m: string) => lines.push(`WARN ${m}`) };
    watches = startWatches(kubeConfigFrom({ kubeconfig: file }), store, { nodeName: NODE, log: rec, initialBackoffMs: 20, maxBackoffMs: 50 });
    await watches.synced;
    await new Promise((r) => setTimeout(r, 300));
    expect(lines.filter((l) => l.includes('API not served'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('WARN'))).toEqual([]);
    expect(s.requests.filter((r) => r.path === '/apis/networking.k8s.io/v1/servicecidrs')).toHaveLength(1);

    await watches.stop();
    await s.stop();
    s.serveServiceCIDRs = true;
    s.apply({ kind: 'ServiceCIDR', apiVersion: 'networking.k8s.io/v1', metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/16', 'fd00:10:96::/112'] } });
    await s.start(s.port);
    const store2 = new ObjectStore();
    watches = startWatches(kubeConfigFrom({ kubeconfig: file }), store2, { nodeName: NODE, log });
    await watches.synced;
    expect(store2.count('ServiceCIDR')).toBe(1);
    await eventually(() => s.watcherCount === 4);
    s.apply({ kind: 'ServiceCIDR', apiVersion: 'networking.k8s.io/v1', metadata: { name: 'extra' }, spec: { cidrs: ['10.97.0.0/16'] } });
    await eventually(() => store2.count('ServiceCIDR') === 2);
    expect(serviceCIDRsFrom(store2.list('ServiceCIDR'), ['10.98.0.0/16'])).toEqual(['10.96.0.0/16', '10.97.0.0/16', '10.98.0.0/16', 'fd00:10:96::/112']);
  });
});
