// Issue 11's acceptance, replayed against `nftproxy run` in private namespaces with real traffic:
//   1. a Service in another namespace lists kube-dns's cluster IP as an externalIP (53/TCP): the
//      model gives the key to kube-dns, nothing is refused, kube-dns still reaches its own
//      endpoints, the other Service's own cluster IP works, the conflict is logged once, and a
//      Service created 2 s later is programmed within one sync (≤ 1 s);
//   2. a Service the kernel itself refuses (made to, by the test-only RefusingApplier: every
//      transaction programming 10.96.250.x clashes with itself, `File exists`): its port is
//      quarantined (log, metric, /healthz), everything else is programmed, a later Service within
//      one sync, and when the Service is fixed it is programmed and leaves the quarantine.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, tcpRequest, type Topology } from '../harness/index.js';
import type { RemoteFakeApi } from '../fake-apiserver/remote.js';
import type { KubeObject } from '../fake-apiserver/server.js';
import { DaemonProc, httpGet, startFakeApi, until, type LogLine } from './procs.js';
import { NODE, node, service, slice, type SvcSpec } from './fixtures.js';

const TABLE = 'nfpc';
const HEALTHZ = '127.0.0.1:10256';
const METRICS = '127.0.0.1:10249';

let topo: Topology;
let api: RemoteFakeApi;
let daemon: DaemonProc;

const client = (): string => topo.client('client').ns;

function svc(s: SvcSpec & { externalIPs?: string[] }): KubeObject {
  const o = service(s);
  if (s.externalIPs) (o['spec'] as Record<string, unknown>)['externalIPs'] = s.externalIPs;
  return o;
}

/** The pods that answered `n` connections to ip:port (fails on any failed connection). */
async function podsBehind(ip: string, port: number, n = 12): Promise<string[]> {
  const pods = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await tcpRequest(client(), ip, port, { timeoutMs: 2000 });
    expect(r.ok, `${ip}:${port} ${JSON.stringify(r)}`).toBe(true);
    if (r.ok && r.reply) pods.add(r.reply.pod);
  }
  return [...pods].sort();
}

/** The first sync after `from` with these servicePorts and endpoints counts, and the ms since `t0`. */
async function syncWith(ports: number, endpoints: number, t0: number, from: number): Promise<{ line: LogLine; ms: number }> {
  const line = await daemon.waitFor((l) => l.msg === 'sync' && l.servicePorts === ports && l.endpoints === endpoints && l.time >= t0, 30_000, from);
  return { line, ms: line.time - t0 };
}

const metric = async (name: string): Promise<number> => {
  const m = await httpGet(topo.node.ns, `http://${METRICS}/metrics`);
  const hit = new RegExp(`^${name} (\\S+)$`, 'm').exec(m.body);
  return Number(hit?.[1]);
};

beforeAll(async () => {
  topo = await createTopology({
    ipv6: false,
    pods: [
      { name: 'dns1', serve: { tcp: [53] } },
      { name: 'dns2', serve: { tcp: [53] } },
      { name: 'other', serve: { tcp: [53, 8080] } },
      { name: 'late', serve: { tcp: [8080] } },
    ],
  });
  let kubeconfig: string;
  ({ api, kubeconfig } = await startFakeApi(topo.node.ns));
  await api.apply(node(NODE, [topo.node.ipv4]));
  await api.apply(svc({ ns: 'kube-system', name: 'kube-dns', ip: '10.96.0.10', port: 53 }));
  await api.apply(slice('kube-system', 'kube-dns', [{ ip: '10.244.0.10' }, { ip: '10.244.0.11' }], { port: 53 }));
  daemon = DaemonProc.start(
    topo.node.ns,
    ['--kubeconfig', kubeconfig, '--hostname-override', NODE, '--table', TABLE, '--cluster-cidr', '10.244.0.0/16',
      '--healthz-bind-address', HEALTHZ, '--metrics-bind-address', METRICS, '--min-sync-period', '100ms', '--sync-period', '1h', '--applier', 'cli'],
    { NFTPROXY_TEST_REFUSE_PREFIX: '10.96.250.' },
  );
  await daemon.waitFor((l) => l.msg === 'sync', 90_000);
}, 180_000);

afterAll(async () => {
  await daemon?.stop('SIGKILL').catch(() => undefined);
  api?.close();
  await topo?.destroy();
});

describe('issue 11: one object cannot stop a node from programming the rest', () => {
  it('acceptance: externalIPs [kube-dns cluster IP] — resolved in the model, logged once; the node keeps programming', async () => {
    expect(await podsBehind('10.96.0.10', 53)).toEqual(['dns1', 'dns2']);
    let from = daemon.logs.length;
    let t0 = Date.now();
    await api.apply(svc({ ns: 'other', name: 'grab', ip: '10.96.0.20', port: 53, externalIPs: ['10.96.0.10'] }));
    await api.apply(slice('other', 'grab', [{ ip: '10.244.0.12' }], { port: 53 }));
    await syncWith(2, 3, t0, from);

    await new Promise((r) => setTimeout(r, 2000));
    from = daemon.logs.length;
    t0 = Date.now();
    await api.apply(svc({ name: 'late', ip: '10.96.0.30' }));
    await api.apply(slice('default', 'late', [{ ip: '10.244.0.13' }]));
    const { line, ms } = await syncWith(3, 4, t0, from);
    console.log(`[containment] Service created 2 s after the conflicting one: programmed ${ms} ms after its creation (sync ${Math.round(line.durationMs as number)} ms)`);
    expect(line.kind).toBe('partial');
    expect(ms).toBeLessThanOrEqual(1000);
    expect(await podsBehind('10.96.0.30', 80, 3)).toEqual(['late']);

    // kube-dns on 53/TCP reaches only its own endpoints; the other Service's cluster IP works.
    expect(await podsBehind('10.96.0.10', 53, 20)).toEqual(['dns1', 'dns2']);
    expect(await podsBehind('10.96.0.20', 53, 3)).toEqual(['other']);

    // More syncs happen; the conflict is still logged exactly once, and no sync failed.
    await api.apply(slice('default', 'late', [{ ip: '10.244.0.13' }, { ip: '10.244.0.12' }]));
    await daemon.waitFor((l) => l.msg === 'sync' && l.endpoints === 5, 10_000, from);
    const conflictLines = daemon.logs.filter((l) => l.msg.startsWith('key conflict:'));
    expect(conflictLines).toHaveLength(1);
    expect(conflictLines[0]).toMatchObject({ key: '10.96.0.10 tcp 53', winner: 'kube-system/kube-dns:p', loser: 'other/grab:p' });
    expect(daemon.logs.filter((l) => l.msg === 'sync failed')).toEqual([]);
    expect(daemon.syncs().every((l) => l.quarantined === 0)).toBe(true);
    expect(await metric('nftproxy_conflicting_keys')).toBe(1);
    expect(await metric('kubeproxy_sync_proxy_rules_nftables_sync_failures_total')).toBe(0);

    // The loser goes away: one "resolved" line, the gauge drops to 0.
    await api.delete('Service', 'other', 'grab');
    await daemon.waitFor((l) => l.msg === 'key conflict resolved', 10_000, from);
    expect(await metric('nftproxy_conflicting_keys')).toBe(0);
    expect(daemon.logs.filter((l) => l.msg === 'key conflict resolved')).toHaveLength(1);
    await api.delete('EndpointSlice', 'other', 'grab-abc');
  }, 120_000);

  it('quarantine: a Service the kernel refuses costs only its own port; reported; programmed once fixed', async () => {
    let from = daemon.logs.length;
    const bad = (externalIPs: string[]): KubeObject => svc({ ns: 'other', name: 'refused', ip: '10.96.0.40', port: 53, externalIPs });
    await api.apply(bad(['10.96.250.1']));
    await api.apply(slice('other', 'refused', [{ ip: '10.244.0.12' }], { port: 53 }));
    const q = await daemon.waitFor((l) => l.msg.startsWith('service port quarantined'), 30_000, from);
    expect(q).toMatchObject({ servicePort: 'ip other/refused:p/tcp' });
    expect(String(q.reason)).toMatch(/File exists/);
    const h = await httpGet(topo.node.ns, `http://${HEALTHZ}/healthz`);
    expect(h.status).toBe(200);
    expect((JSON.parse(h.body) as { quarantinedServicePorts: unknown[] }).quarantinedServicePorts).toEqual([
      expect.objectContaining({ servicePort: 'ip other/refused:p/tcp', reason: expect.stringMatching(/File exists/) as unknown }),
    ]);
    expect(await metric('nftproxy_quarantined_service_ports')).toBe(1);
    expect(await podsBehind('10.96.0.10', 53, 6)).toEqual(['dns1', 'dns2']);
    expect((await tcpRequest(client(), '10.96.0.40', 53, { timeoutMs: 500 })).ok).toBe(false);

    // 2 s later a new Service: programmed within one sync, and the hot path searched nothing.
    await new Promise((r) => setTimeout(r, 2000));
    from = daemon.logs.length;
    const t0 = Date.now();
    const last = daemon.syncs().at(-1) as LogLine;
    await api.apply(svc({ name: 'late2', ip: '10.96.0.31' }));
    await api.apply(slice('default', 'late2', [{ ip: '10.244.0.13' }]));
    const { line, ms } = await syncWith((last.servicePorts as number) + 1, (last.endpoints as number) + 1, t0, from);
    console.log(`[containment] with a port in quarantine, a new Service: programmed ${ms} ms after its creation; the refused sync spent ${String(daemon.logs.find((l) => l.msg === 'sync' && typeof l.probes === 'number')?.probes)} probes`);
    expect(ms).toBeLessThanOrEqual(1000);
    expect(line).toMatchObject({ kind: 'partial', quarantined: 1 });
    expect(line.probes).toBeUndefined();
    expect(await podsBehind('10.96.0.31', 80, 3)).toEqual(['late']);
    expect(daemon.logs.filter((l) => l.msg.startsWith('service port quarantined'))).toHaveLength(1);

    // Fixed: retried because it changed, programmed, out of quarantine.
    from = daemon.logs.length;
    await api.apply(bad([]));
    await daemon.waitFor((l) => l.msg === 'service port out of quarantine' && l.servicePort === 'ip other/refused:p/tcp', 10_000, from);
    expect(await podsBehind('10.96.0.40', 53, 3)).toEqual(['other']);
    expect(await metric('nftproxy_quarantined_service_ports')).toBe(0);
    const h2 = JSON.parse((await httpGet(topo.node.ns, `http://${HEALTHZ}/healthz`)).body) as { quarantinedServicePorts: unknown[] };
    expect(h2.quarantinedServicePorts).toEqual([]);
    expect(daemon.logs.filter((l) => l.msg === 'sync failed')).toEqual([]);
  }, 120_000);
});
