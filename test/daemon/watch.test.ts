// The watch layer against the fake API server (in this process, on loopback): initial list,
// live events, relist after 410 Gone, reconnect after dropped connections and after downtime,
// the Node watched through its field selector only.

import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { kubeConfigFrom } from '../../runtime/kube/client.js';
import { ObjectStore } from '../../runtime/kube/store.js';
import { startWatches, type Watches } from '../../runtime/kube/watch.js';
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

    await eventually(() => s.watcherCount === 3);
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
    await eventually(() => s.watcherCount === 3);
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
    await eventually(() => s.watcherCount === 3);
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
});
