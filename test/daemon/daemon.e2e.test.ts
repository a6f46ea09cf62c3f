// `nftproxy run` end to end, in private network namespaces: a fake API server and the daemon
// run inside the node namespace of a harness topology (pods with echo servers, a client), the
// daemon programs that namespace's kernel, and real TCP traffic checks the result.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, createTopology, destroyNamespace, exec, tcpRequest, type Topology } from '../harness/index.js';
import type { RemoteFakeApi } from '../fake-apiserver/remote.js';
import { DaemonProc, httpGet, startFakeApi, until, type LogLine } from './procs.js';
import { NODE, node, service, slice } from './fixtures.js';

const TABLE = 'nfpd';
const HEALTHZ = '127.0.0.1:10256';
const METRICS = '127.0.0.1:10249';

let topo: Topology;
let api: RemoteFakeApi;
let kubeconfig: string;
let daemon: DaemonProc;
const extraNamespaces: string[] = [];

const daemonArgs = (): string[] => [
  '--kubeconfig', kubeconfig,
  '--hostname-override', NODE,
  '--table', TABLE,
  '--cluster-cidr', '10.244.0.0/16',
  '--healthz-bind-address', HEALTHZ,
  '--metrics-bind-address', METRICS,
  '--min-sync-period', '100ms',
  '--sync-period', '30s',
  '--applier', 'cli',
];

async function listTable(): Promise<string> {
  const r = await exec(topo.node.ns, ['nft', 'list', 'table', 'ip', TABLE], { check: false });
  return r.code === 0 ? r.stdout : '';
}

const client = (): string => topo.client('client').ns;

/** Waits for a sync (after log index `from`) that happened after `since`. */
function syncAfter(d: DaemonProc, since: number, from: number): Promise<LogLine> {
  return d.waitFor((l) => l.msg === 'sync' && l.time >= since, 30_000, from);
}

beforeAll(async () => {
  topo = await createTopology({
    pods: [
      { name: 'a', serve: { tcp: [8080] } },
      { name: 'b', serve: { tcp: [8080] } },
    ],
  });
  ({ api, kubeconfig } = await startFakeApi(topo.node.ns));
  await api.apply(node(NODE, [topo.node.ipv4]));
  await api.apply(service({ name: 'web', ip: '10.96.0.10' }));
  await api.apply(slice('default', 'web', [{ ip: '10.244.0.10' }, { ip: '10.244.0.11' }]));
  daemon = DaemonProc.start(topo.node.ns, daemonArgs());
}, 120_000);

afterAll(async () => {
  await daemon?.stop('SIGKILL').catch(() => undefined);
  api?.close();
  for (const ns of extraNamespaces) await destroyNamespace(ns);
  await topo?.destroy();
});

describe('nftproxy run against a fake API server, in a private namespace', () => {
  it('programs the cluster from the API: the service carries traffic to both endpoints', async () => {
    const first = await daemon.waitFor((l) => l.msg === 'sync', 90_000);
    expect(first.kind).toBe('full');
    expect(first.servicePorts).toBe(1);
    expect(first.endpoints).toBe(2);
    expect(await listTable()).toContain('10.96.0.10');
    const pods = new Set<string>();
    for (let i = 0; i < 30 && pods.size < 2; i++) {
      const r = await tcpRequest(client(), '10.96.0.10', 80, { timeoutMs: 2000 });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      if (r.ok && r.reply) pods.add(r.reply.pod);
    }
    expect([...pods].sort()).toEqual(['a', 'b']);
  }, 120_000);

  it('a new Service and EndpointSlice are in the kernel within a second and carry traffic', async () => {
    const from = daemon.logs.length;
    const t0 = Date.now();
    await api.apply(service({ name: 'api', ip: '10.96.0.11' }));
    await api.apply(slice('default', 'api', [{ ip: '10.244.0.11' }]));
    let line = await syncAfter(daemon, t0, from);
    // The two objects may land in two syncs; wait for the one that has both.
    while ((line.endpoints as number) < 3) line = await syncAfter(daemon, line.time, daemon.logs.indexOf(line) + 1);
    expect(line.kind).toBe('partial');
    expect(line.time - t0).toBeLessThan(1000);
    const r = await tcpRequest(client(), '10.96.0.11', 80, { timeoutMs: 2000 });
    expect(r.ok && r.reply?.pod, JSON.stringify(r)).toBe('b');
  }, 60_000);

  it('an EndpointSlice deleted: the service rejects; the Service deleted: it leaves the kernel', async () => {
    await api.delete('EndpointSlice', 'default', 'api-abc');
    const refused = await until(() => tcpRequest(client(), '10.96.0.11', 80, { timeoutMs: 1000 }), (r) => !r.ok, 10_000);
    expect(refused.value.ok || refused.value.error).toBe('refused');
    await api.delete('Service', 'default', 'api');
    await until(listTable, (t) => t.includes('10.96.0.10') && !t.includes('10.96.0.11'), 10_000);
    const r = await tcpRequest(client(), '10.96.0.11', 80, { timeoutMs: 500 });
    expect(r.ok).toBe(false);
  }, 60_000);

  it('/healthz, /livez and /metrics answer like kube-proxy', async () => {
    const h = await httpGet(topo.node.ns, `http://${HEALTHZ}/healthz`);
    expect(h.status).toBe(200);
    const body = JSON.parse(h.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['lastUpdated', 'currentTime']));
    expect(Date.parse(String(body['lastUpdated']))).toBeGreaterThan(Date.now() - 60_000);
    const l = await httpGet(topo.node.ns, `http://${HEALTHZ}/livez`);
    expect(l.status).toBe(200);
    const m = await httpGet(topo.node.ns, `http://${METRICS}/metrics`);
    expect(m.status).toBe(200);
    for (const name of [
      'kubeproxy_sync_proxy_rules_duration_seconds_bucket',
      'kubeproxy_sync_full_proxy_rules_duration_seconds_count',
      'kubeproxy_sync_partial_proxy_rules_duration_seconds_count',
      'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
      'kubeproxy_network_programming_duration_seconds_bucket',
      'kubeproxy_sync_proxy_rules_nftables_sync_failures_total 0',
      'nftproxy_objects_programmed{kind="Service"} 1',
      'nftproxy_applier_info{applier="cli"} 1',
    ]) expect(m.body).toContain(name);
    const partial = /kubeproxy_sync_partial_proxy_rules_duration_seconds_count (\d+)/.exec(m.body);
    expect(Number(partial?.[1])).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('the health-check node port reflects local endpoints', async () => {
    await api.apply(service({ name: 'lb', ip: '10.96.0.12', type: 'LoadBalancer', nodePort: 30012, healthCheckNodePort: 32012, externalTrafficPolicy: 'Local' }));
    await api.apply(slice('default', 'lb', [{ ip: '10.244.0.10', node: NODE }]));
    // Bound to the NodePort addresses (default primary: the Node's address), as kube-proxy's.
    const url = `http://${topo.node.ipv4}:32012/`;
    const ok = await until(() => httpGet(topo.node.ns, url), (r) => r.status === 200, 10_000);
    expect(JSON.parse(ok.value.body)).toEqual({ service: { namespace: 'default', name: 'lb' }, localEndpoints: 1, serviceProxyHealthy: true });
    expect((await httpGet(topo.node.ns, 'http://127.0.0.1:32012/')).status).toBe(0);
    // A local endpoint that is terminating, even if still serving, does not count: the node drains.
    const draining = slice('default', 'lb', [{ ip: '10.244.0.10', node: NODE }]);
    (draining['endpoints'] as { conditions: object }[])[0]!.conditions = { ready: false, serving: true, terminating: true };
    await api.apply(draining);
    const drained = await until(() => httpGet(topo.node.ns, url), (r) => r.status === 503, 10_000);
    expect(JSON.parse(drained.value.body)).toMatchObject({ localEndpoints: 0, serviceProxyHealthy: true });
    await api.apply(slice('default', 'lb', [{ ip: '10.244.0.10', node: 'node-b' }]));
    const none = await until(() => httpGet(topo.node.ns, url), (r) => r.status === 503, 10_000);
    expect(JSON.parse(none.value.body)).toMatchObject({ localEndpoints: 0 });
    await api.delete('Service', 'default', 'lb');
    await until(() => httpGet(topo.node.ns, url), (r) => r.status === 0, 10_000);
  }, 60_000);

  it("Services of another proxy are never programmed (kube-proxy's label selector, server-side); a tainted node fails /healthz", async () => {
    const other = service({ name: 'other-proxy', ip: '10.96.0.14' });
    other.metadata = { ...other.metadata, labels: { 'service.kubernetes.io/service-proxy-name': 'someone-else' } };
    await api.apply(other);
    await api.apply(slice('default', 'other-proxy', [{ ip: '10.244.0.10' }]));
    await api.apply(service({ name: 'after-other', ip: '10.96.0.15' }));
    await until(listTable, (t) => t.includes('10.96.0.15'), 20_000, 100);
    expect(await listTable()).not.toContain('10.96.0.14');

    const tainted = node(NODE, [topo.node.ipv4]);
    tainted['spec'] = { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1700000000', effect: 'NoSchedule' }] };
    await api.apply(tainted);
    const bad = await until(() => httpGet(topo.node.ns, `http://${HEALTHZ}/healthz`), (r) => r.status === 503, 10_000, 100);
    expect(JSON.parse(bad.value.body)).toMatchObject({ nodeEligible: false });
    expect((await httpGet(topo.node.ns, `http://${HEALTHZ}/livez`)).status).toBe(200);
    await api.apply(node(NODE, [topo.node.ipv4]));
    await until(() => httpGet(topo.node.ns, `http://${HEALTHZ}/healthz`), (r) => r.status === 200, 10_000, 100);
  }, 60_000);

  it('API server down: the rules stay; after it returns (history compacted: 410 → relist) it converges', async () => {
    await api.stop();
    await daemon.waitFor((l) => l.msg === 'watch failed; retrying', 10_000, daemon.logs.length);
    const during = await tcpRequest(client(), '10.96.0.10', 80, { timeoutMs: 2000 });
    expect(during.ok, JSON.stringify(during)).toBe(true);
    // Changes made while the daemon cannot see them, and the event history gone.
    await api.apply(service({ name: 'late', ip: '10.96.0.13' }));
    await api.apply(slice('default', 'late', [{ ip: '10.244.0.10' }]));
    await api.delete('EndpointSlice', 'default', 'web-abc');
    await api.compact();
    await api.start();
    await until(listTable, (t) => t.includes('10.96.0.13'), 40_000, 200);
    const late = await until(() => tcpRequest(client(), '10.96.0.13', 80, { timeoutMs: 1000 }), (r) => r.ok, 10_000);
    expect(late.value.ok && late.value.reply?.pod).toBe('a');
    const web = await until(() => tcpRequest(client(), '10.96.0.10', 80, { timeoutMs: 1000 }), (r) => !r.ok, 10_000);
    expect(web.value.ok || web.value.error).toBe('refused');
    await api.apply(slice('default', 'web', [{ ip: '10.244.0.10' }, { ip: '10.244.0.11' }]));
  }, 90_000);

  it('connections made continuously during a daemon restart all succeed; the new daemon takes over with a full sync', async () => {
    await until(() => tcpRequest(client(), '10.96.0.10', 80, { timeoutMs: 1000 }), (r) => r.ok, 10_000);
    let stop = false;
    const results: boolean[] = [];
    const traffic = (async () => {
      while (!stop) {
        const r = await tcpRequest(client(), '10.96.0.10', 80, { timeoutMs: 2000 });
        results.push(r.ok);
      }
    })();
    const code = await daemon.stop('SIGTERM');
    expect(code).toBe(0);
    expect(daemon.logs.some((l) => l.msg === 'stopped; rules left in place')).toBe(true);
    expect(await listTable()).toContain('10.96.0.10');
    daemon = DaemonProc.start(topo.node.ns, daemonArgs());
    const first = await daemon.waitFor((l) => l.msg === 'sync', 90_000);
    expect(first.kind).toBe('full');
    const n = results.length;
    await until(async () => results.length, (len) => len >= n + 3, 20_000);
    stop = true;
    await traffic;
    expect(results.length).toBeGreaterThan(3);
    expect(results.every(Boolean)).toBe(true);
  }, 180_000);

  it('/healthz turns 503 when the daemon cannot program anything within 2 × syncPeriod', async () => {
    const ns = await createNamespace('unsynced');
    extraNamespaces.push(ns);
    const d = DaemonProc.start(ns, [
      '--master', 'http://127.0.0.1:1', '--hostname-override', NODE, '--table', 'nfpx',
      '--healthz-bind-address', HEALTHZ, '--metrics-bind-address', '', '--sync-period', '1s', '--min-sync-period', '100ms', '--applier', 'cli',
    ]);
    try {
      await d.waitFor((l) => l.msg === 'starting', 90_000);
      const bad = await until(() => httpGet(ns, `http://${HEALTHZ}/healthz`), (r) => r.status === 503, 10_000, 200);
      const body = JSON.parse(bad.value.body) as Record<string, unknown>;
      expect(body['lastUpdated']).toBe(new Date(0).toISOString());
      expect((await httpGet(ns, `http://${HEALTHZ}/livez`)).status).toBe(503);
      const t = await exec(ns, ['nft', 'list', 'tables']);
      expect(t.stdout).not.toContain('nfpx');
    } finally {
      await d.stop('SIGKILL');
    }
  }, 120_000);

  it('--cleanup removes our tables in both families and nothing else', async () => {
    await exec(topo.node.ns, ['nft', 'add', 'table', 'ip', 'bystander']);
    const c = DaemonProc.start(topo.node.ns, ['--cleanup', '--table', TABLE, '--master', 'http://127.0.0.1:1', '--applier', 'cli']);
    expect(await c.exited).toBe(0);
    const t = (await exec(topo.node.ns, ['nft', 'list', 'tables'])).stdout;
    expect(t).not.toContain(TABLE);
    expect(t).toContain('table ip bystander');
  }, 90_000);
});
