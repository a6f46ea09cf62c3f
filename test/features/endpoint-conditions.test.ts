// Endpoint conditions (issue #3), as kube-proxy's CategorizeEndpoints: ready endpoints only; when
// none is ready, the serving-and-terminating ones (a rollout or scale-down keeps working); not-ready
// endpoints that are not serving-terminating are never used, and a service left with nothing
// usable is refused (reject) like a service without endpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, requestBatch, sampleEndpoints, type Topology } from '../harness/index.js';
import { expectAllAnswered, loadCluster, NODE_V4, predict, type Loaded, type ServiceSpec } from './helpers.js';

let topo: Topology;
let loaded: Loaded;

type Cond = { ready: boolean; serving: boolean; terminating: boolean };
const READY: Cond = { ready: true, serving: true, terminating: false };
const NOT_READY: Cond = { ready: false, serving: false, terminating: false };
const TERMINATING_SERVING: Cond = { ready: false, serving: true, terminating: true };
const TERMINATING_NOT_SERVING: Cond = { ready: false, serving: false, terminating: true };
const STARTING: Cond = { ready: false, serving: true, terminating: false }; // serving but not ready, not terminating

beforeAll(async () => {
  topo = await createTopology({
    pods: ['a', 'b', 'c'].map((name) => ({ name, serve: { tcp: [8080], udp: [8080] } })),
  });
  const slice = (conds: [string, Cond][]) => [
    { targetPort: 8080, endpoints: conds.map(([name, c]) => ({ ip: topo.pod(name).ipv4, node: 'node-a', ...c })) },
  ];
  const svc = (name: string, ip: string, conds: [string, Cond][], nodePort?: number): ServiceSpec => ({
    name,
    clusterIP: ip,
    ports: [{ name: 'http', port: 80, ...(nodePort ? { nodePort } : {}) }, { name: 'dns', protocol: 'UDP', port: 53 }],
    slices: slice(conds),
  });
  const services: ServiceSpec[] = [
    svc('mixed', '10.96.5.10', [['a', READY], ['b', NOT_READY], ['c', TERMINATING_SERVING]], 30110),
    svc('rollout', '10.96.5.11', [['a', TERMINATING_SERVING], ['b', TERMINATING_SERVING], ['c', NOT_READY]], 30111),
    svc('not-ready', '10.96.5.12', [['a', NOT_READY], ['b', TERMINATING_NOT_SERVING], ['c', STARTING]], 30112),
  ];
  loaded = await loadCluster(topo, services);
});

afterAll(async () => {
  await topo?.destroy();
});

describe('endpoint conditions', () => {
  it('only ready endpoints are used while any is ready (cluster IP and NodePort)', async () => {
    const client = topo.client('client');
    for (const [dst, port] of [['10.96.5.10', 80], [NODE_V4, 30110]] as const) {
      const s = await sampleEndpoints(client.ns, dst, port, 'tcp', 30);
      expectAllAnswered(s);
      expect(s.pods).toEqual(['a']);
      expect(predict(topo, loaded.ruleset, client.ipv4, dst, port, 'tcp').pods).toEqual(s.pods);
    }
  });

  it('none ready: the serving and terminating endpoints carry the traffic (TCP, UDP, NodePort)', async () => {
    const client = topo.client('client');
    for (const [dst, port, proto] of [['10.96.5.11', 80, 'tcp'], ['10.96.5.11', 53, 'udp'], [NODE_V4, 30111, 'tcp']] as const) {
      const s = await sampleEndpoints(client.ns, dst, port, proto, 30);
      expectAllAnswered(s);
      expect(s.pods).toEqual(['a', 'b']);
      expect(predict(topo, loaded.ruleset, client.ipv4, dst, port, proto).pods).toEqual(s.pods);
    }
  });

  it('nothing usable (not ready, terminating but not serving, serving but not terminating): refused', async () => {
    const client = topo.client('client');
    const checks = [
      ['10.96.5.12', 80, 'tcp'],
      ['10.96.5.12', 53, 'udp'],
      [NODE_V4, 30112, 'tcp'],
    ] as const;
    const results = await requestBatch(
      client.ns,
      checks.map(([host, port, proto]) => ({ host, port, proto, timeoutMs: 2000 })),
    );
    checks.forEach(([dst, port, proto], i) => {
      expect(results[i]).toMatchObject({ ok: false, error: 'refused' });
      expect(results[i]!.elapsedMs).toBeLessThan(1000);
      const t = predict(topo, loaded.ruleset, client.ipv4, dst, port, proto);
      expect(t.verdicts).toEqual({ accept: 0, drop: 0, reject: 1 });
      expect(t.outcomes.map((o) => o.reject)).toEqual([proto === 'tcp' ? 'tcp-reset' : 'icmpx-port-unreachable']);
    });
  });
});
