// internalTrafficPolicy Local (issue #3): traffic to the cluster IP goes only to endpoints on this
// node (from pods, from outside clients and from the node alike); with none local it is dropped
// (kube-proxy drops, it does not reject, when the service has endpoints elsewhere). ITP does not
// apply to external destinations: a NodePort of the same service still reaches every endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, sampleEndpoints, type Topology } from '../harness/index.js';
import { expectAllAnswered, expectAllFailed, loadCluster, NODE_V4, predict, type Loaded, type ServiceSpec } from './helpers.js';

let topo: Topology;
let loaded: Loaded;

beforeAll(async () => {
  topo = await createTopology({
    pods: [...['l1', 'l2', 'r1'].map((name) => ({ name, serve: { tcp: [8080], udp: [8080] } })), { name: 'p' }],
  });
  const ep = (name: string, node: string, extra: { ready?: boolean; serving?: boolean; terminating?: boolean } = {}) => ({
    ip: topo.pod(name).ipv4,
    node,
    ...extra,
  });
  const services: ServiceSpec[] = [
    {
      name: 'itp',
      clusterIP: '10.96.4.10',
      internalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80, nodePort: 30100 }, { name: 'dns', protocol: 'UDP', port: 53 }],
      slices: [{ targetPort: 8080, endpoints: [ep('l1', 'node-a'), ep('l2', 'node-a'), ep('r1', 'node-b')] }],
    },
    {
      name: 'itp-none',
      clusterIP: '10.96.4.11',
      internalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80 }, { name: 'dns', protocol: 'UDP', port: 53 }],
      slices: [{ targetPort: 8080, endpoints: [ep('r1', 'node-b')] }],
    },
    {
      // The only local endpoint is terminating (still serving): used, as the local fallback.
      name: 'itp-terminating',
      clusterIP: '10.96.4.12',
      internalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80 }],
      slices: [{ targetPort: 8080, endpoints: [ep('l1', 'node-a', { ready: false, serving: true, terminating: true }), ep('r1', 'node-b')] }],
    },
  ];
  loaded = await loadCluster(topo, services);
});

afterAll(async () => {
  await topo?.destroy();
});

describe('internalTrafficPolicy Local', () => {
  it('cluster traffic from a pod reaches only local endpoints (TCP and UDP)', async () => {
    const p = topo.pod('p');
    for (const [port, proto] of [[80, 'tcp'], [53, 'udp']] as const) {
      const s = await sampleEndpoints(p.ns, '10.96.4.10', port, proto, 30);
      expectAllAnswered(s);
      expect(s.pods).toEqual(['l1', 'l2']);
      expect(predict(topo, loaded.ruleset, p.ipv4, '10.96.4.10', port, proto).pods).toEqual(s.pods);
    }
  });

  it('from an outside client and from the node: local endpoints only as well', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, '10.96.4.10', 80, 'tcp', 30);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['l1', 'l2']);
    expect(predict(topo, loaded.ruleset, client.ipv4, '10.96.4.10', 80, 'tcp').pods).toEqual(s.pods);
    const n = await sampleEndpoints(topo.node.ns, '10.96.4.10', 80, 'tcp', 30);
    expectAllAnswered(n);
    expect(n.pods).toEqual(['l1', 'l2']);
    expect(predict(topo, loaded.ruleset, NODE_V4, '10.96.4.10', 80, 'tcp', { fromNode: true }).pods).toEqual(n.pods);
  });

  it('the NodePort of the same service ignores ITP: every endpoint', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, NODE_V4, 30100, 'tcp', 40);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['l1', 'l2', 'r1']);
    expect(predict(topo, loaded.ruleset, client.ipv4, NODE_V4, 30100, 'tcp').pods).toEqual(s.pods);
  });

  it('no local endpoint: no answer (dropped) for TCP and UDP', async () => {
    const p = topo.pod('p');
    for (const [port, proto] of [[80, 'tcp'], [53, 'udp']] as const) {
      const s = await sampleEndpoints(p.ns, '10.96.4.11', port, proto, 3, { timeoutMs: 500 });
      expectAllFailed(s, 'timeout');
      expect(predict(topo, loaded.ruleset, p.ipv4, '10.96.4.11', port, proto).verdicts).toEqual({ accept: 0, drop: 1, reject: 0 });
    }
  });

  it('a terminating (still serving) local endpoint is used when no local one is ready', async () => {
    const p = topo.pod('p');
    const s = await sampleEndpoints(p.ns, '10.96.4.12', 80, 'tcp', 20);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['l1']);
    expect(predict(topo, loaded.ruleset, p.ipv4, '10.96.4.12', 80, 'tcp').pods).toEqual(s.pods);
  });
});
