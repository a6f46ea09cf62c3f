// externalTrafficPolicy Local (issue #3): traffic from outside the cluster to a NodePort, an
// external IP or an LB IP reaches only the endpoints on this node and keeps the client's address;
// traffic from pods (cluster CIDR) and from the node itself still reaches every endpoint; with no
// local endpoint outside traffic is dropped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rulesetToJson, transactionToJson } from '../../compiler/nft/json.js';
import { diffRulesets } from '../../ir/diff.js';
import { createNamespace, createTopology, destroyNamespace, nftList, nftLoad, requestBatch, sampleEndpoints, type Topology } from '../harness/index.js';
import { compileCluster, expectAllAnswered, expectAllFailed, loadCluster, NODE_V4, nodeSource, predict, type Loaded, type ServiceSpec } from './helpers.js';

const EXT = '203.0.113.30';
const LB = '203.0.113.32';
const EXT_NONE = '203.0.113.31';
const EXT_EMPTY = '203.0.113.33';

let topo: Topology;
let loaded: Loaded;

beforeAll(async () => {
  topo = await createTopology({
    pods: [
      ...['l1', 'r1', 'r2'].map((name) => ({ name, serve: { tcp: [8080], udp: [8080] } })),
      { name: 'p' }, // a pod that is no endpoint: the source of cluster traffic
    ],
    routedCidrs: ['203.0.113.0/24'],
  });
  const ep = (name: string, node: string) => ({ ip: topo.pod(name).ipv4, node });
  const services: ServiceSpec[] = [
    {
      name: 'etp',
      type: 'LoadBalancer',
      clusterIP: '10.96.3.10',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 32000,
      externalIPs: [EXT],
      loadBalancerIPs: [LB],
      ports: [
        { name: 'http', port: 80, nodePort: 30090 },
        { name: 'dns', protocol: 'UDP', port: 53, nodePort: 30053 },
      ],
      slices: [{ targetPort: 8080, endpoints: [ep('l1', 'node-a'), ep('r1', 'node-b'), ep('r2', 'node-b')] }],
    },
    {
      name: 'etp-none',
      clusterIP: '10.96.3.11',
      externalTrafficPolicy: 'Local',
      externalIPs: [EXT_NONE],
      ports: [{ name: 'http', port: 80, nodePort: 30091 }],
      slices: [{ targetPort: 8080, endpoints: [ep('r1', 'node-b'), ep('r2', 'node-b')] }],
    },
    {
      // No endpoints at all (not merely none local): refused everywhere, like kube-proxy.
      name: 'etp-empty',
      type: 'LoadBalancer',
      clusterIP: '10.96.3.12',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 32001,
      externalIPs: [EXT_EMPTY],
      ports: [{ name: 'http', port: 80, nodePort: 30092 }],
    },
  ];
  loaded = await loadCluster(topo, services);
});

afterAll(async () => {
  await topo?.destroy();
});

describe('externalTrafficPolicy Local', () => {
  const outsideDsts = [
    ['NodePort', NODE_V4, 30090, 'tcp'],
    ['NodePort UDP', NODE_V4, 30053, 'udp'],
    ['external IP', EXT, 80, 'tcp'],
    ['LB IP', LB, 80, 'tcp'],
  ] as const;

  for (const [what, dst, port, proto] of outsideDsts) {
    it(`${what} from an outside client: only the local endpoint, and it sees the client's address`, async () => {
      const client = topo.client('client');
      const s = await sampleEndpoints(client.ns, dst, port, proto, 20);
      expectAllAnswered(s);
      expect(s.pods).toEqual(['l1']);
      expect(s.peers).toEqual([client.ipv4]);
      const t = predict(topo, loaded.ruleset, client.ipv4, dst, port, proto);
      expect(t.pods).toEqual(s.pods);
      expect(t.outcomes.some((o) => o.masquerade)).toBe(false);
    });
  }

  for (const [what, dst, port] of [['NodePort', NODE_V4, 30090], ['external IP', EXT, 80]] as const) {
    it(`${what} from a pod (cluster CIDR): every endpoint, source kept`, async () => {
      const p = topo.pod('p');
      const s = await sampleEndpoints(p.ns, dst, port, 'tcp', 40);
      expectAllAnswered(s);
      expect(s.pods).toEqual(['l1', 'r1', 'r2']);
      expect(s.peers).toEqual([p.ipv4]);
      const t = predict(topo, loaded.ruleset, p.ipv4, dst, port, 'tcp');
      expect(t.pods).toEqual(s.pods);
      expect(t.outcomes.some((o) => o.masquerade)).toBe(false);
    });
  }

  for (const [what, dst, port] of [['NodePort', NODE_V4, 30090], ['external IP', EXT, 80]] as const) {
    it(`${what} from the node itself: every endpoint (masqueraded)`, async () => {
      const s = await sampleEndpoints(topo.node.ns, dst, port, 'tcp', 40);
      expectAllAnswered(s);
      expect(s.pods).toEqual(['l1', 'r1', 'r2']);
      const src = await nodeSource(topo, dst);
      const t = predict(topo, loaded.ruleset, src, dst, port, 'tcp', { fromNode: true });
      expect(t.pods).toEqual(s.pods);
      expect(t.outcomes.every((o) => o.masquerade)).toBe(true);
    });
  }

  it('no local endpoint: outside traffic gets no answer (dropped) on the NodePort and the external IP', async () => {
    const client = topo.client('client');
    for (const [dst, port] of [[NODE_V4, 30091], [EXT_NONE, 80]] as const) {
      const s = await sampleEndpoints(client.ns, dst, port, 'tcp', 3, { timeoutMs: 500 });
      expectAllFailed(s, 'timeout');
      const t = predict(topo, loaded.ruleset, client.ipv4, dst, port, 'tcp');
      expect(t.verdicts).toEqual({ accept: 0, drop: 1, reject: 0 });
    }
  });

  it('no local endpoint: pods still reach the remote endpoints through the NodePort', async () => {
    const p = topo.pod('p');
    const s = await sampleEndpoints(p.ns, NODE_V4, 30091, 'tcp', 30);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['r1', 'r2']);
    expect(predict(topo, loaded.ruleset, p.ipv4, NODE_V4, 30091, 'tcp').pods).toEqual(s.pods);
  });

  it('the cluster IP is not affected by ETP: every endpoint from outside', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, '10.96.3.10', 80, 'tcp', 40);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['l1', 'r1', 'r2']);
    expect(predict(topo, loaded.ruleset, client.ipv4, '10.96.3.10', 80, 'tcp').pods).toEqual(s.pods);
  });

  it('no endpoints at all: outside traffic to the NodePort and the external IP is refused (reject)', async () => {
    const client = topo.client('client');
    const results = await requestBatch(client.ns, [
      { proto: 'tcp', host: NODE_V4, port: 30092, timeoutMs: 2000 },
      { proto: 'tcp', host: EXT_EMPTY, port: 80, timeoutMs: 2000 },
    ]);
    for (const r of results) expect(r).toMatchObject({ ok: false, error: 'refused' });
    for (const [dst, port] of [[NODE_V4, 30092], [EXT_EMPTY, 80]] as const) {
      expect(predict(topo, loaded.ruleset, client.ipv4, dst, port, 'tcp').verdicts).toEqual({ accept: 0, drop: 0, reject: 1 });
    }
  });
});

// Regression: an ETP Local service with no endpoints at all once put the same key twice into the
// no-endpoint maps (cluster and local namespace); a full load accepted it, but the diff deleted the
// element twice and the kernel rejected the whole partial sync.
describe('ETP Local service without endpoints: compiled elements', () => {
  const emptyEtpLocal: ServiceSpec = {
    name: 'x',
    type: 'LoadBalancer',
    clusterIP: '10.96.3.50',
    externalTrafficPolicy: 'Local',
    externalIPs: ['203.0.113.50'],
    loadBalancerIPs: ['203.0.113.51'],
    ports: [{ name: 'http', port: 80, nodePort: 30093 }],
  };

  it('no map holds the same key twice', () => {
    const ruleset = compileCluster([emptyEtpLocal]);
    for (const t of ruleset.tables) {
      for (const set of t.sets) {
        const keys = set.elements.map((e) => JSON.stringify(e.key));
        expect(new Set(keys).size, `${t.family} ${set.name}`).toBe(keys.length);
      }
    }
  });

  it('the partial sync that removes it (or gives it an endpoint) applies in the kernel', async () => {
    const ns = await createNamespace('etp-diff');
    try {
      const before = compileCluster([emptyEtpLocal]);
      await nftLoad(ns, JSON.stringify(rulesetToJson(before)), { format: 'json' });
      const after = compileCluster([
        { ...emptyEtpLocal, slices: [{ targetPort: 8080, endpoints: [{ ip: '10.244.0.10', node: 'node-a' }] }] },
      ]);
      const tx = diffRulesets(before, after);
      expect(tx.commands.length).toBeGreaterThan(0);
      await nftLoad(ns, JSON.stringify(transactionToJson(tx)), { format: 'json' });
      // The kernel now holds exactly what a fresh load of `after` gives.
      const fresh = await createNamespace('etp-fresh');
      try {
        await nftLoad(fresh, JSON.stringify(rulesetToJson(after)), { format: 'json' });
        // Compared as sorted lines: the kernel lists hash-set elements in bucket order.
        const lines = (text: string): string[] => text.split(/[\n,{}]/).map((l) => l.trim()).filter(Boolean).sort();
        const listed = await nftList(ns);
        expect(listed).toContain('10.244.0.10');
        expect(lines(listed)).toEqual(lines(await nftList(fresh)));
      } finally {
        await destroyNamespace(fresh);
      }
    } finally {
      await destroyNamespace(ns);
    }
  });
});
