// Issue #2 datapath: the compiled transaction, loaded into a node namespace, carries real TCP/UDP
// traffic between namespaces — and `trace` (the IR interpreter) predicts the endpoints the packets reach.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileObjects } from '../../compiler/index.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { rulesetToJson } from '../../compiler/nft/json.js';
import { predictedEndpoints, traceConnection } from '../../ir/interpret.js';
import type { Ruleset } from '../../ir/types.js';
import { createTopology, nftLoad, sampleEndpoints, requestBatch, type Proto, type Topology } from '../harness/index.js';
import { objectsFor } from './cluster.js';

const opts: CompileOptions = {
  ...defaultCompileOptions,
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/64'],
  nodeName: 'node-a',
  nodeIPs: ['192.168.0.1', 'fd00:192:168::1'],
};

let topo: Topology;
let ruleset: Ruleset;
const podIp: Record<string, string> = {};

beforeAll(async () => {
  topo = await createTopology({
    pods: ['a', 'b', 'c'].map((name) => ({ name, serve: { tcp: [8080, 9090], udp: [8080] } })),
  });
  for (const p of topo.pods) {
    podIp[p.ipv4] = p.name;
    if (p.ipv6) podIp[p.ipv6] = p.name;
  }
  const [a, b] = [topo.pod('a'), topo.pod('b')];
  const ab = (family: 'IPv4' | 'IPv6') => [
    { family, targetPort: 8080, endpoints: [a, b].map((p) => ({ ip: family === 'IPv4' ? p.ipv4 : p.ipv6!, node: 'node-a' })) },
  ];
  const objects = objectsFor(
    [
      { name: 'web', clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }, { name: 'dns', protocol: 'UDP', port: 53 }], slices: ab('IPv4') },
      { name: 'web-np', clusterIP: '10.96.0.30', ports: [{ name: 'http', port: 80, nodePort: 30080 }], slices: ab('IPv4') },
      { name: 'empty', clusterIP: '10.96.0.40', ports: [{ name: 'http', port: 80 }, { name: 'dns', protocol: 'UDP', port: 53 }] },
      { name: 'self', clusterIP: '10.96.0.50', ports: [{ name: 'http', port: 80 }], slices: [{ targetPort: 8080, endpoints: [{ ip: a.ipv4, node: 'node-a' }] }] },
      { name: 'web6', clusterIP: 'fd00:10:96::20', ports: [{ name: 'http', port: 80 }], slices: ab('IPv6') },
      // Endpoints with different target ports (a rollout renaming a container port): a mixed pool.
      {
        name: 'mixed',
        clusterIP: '10.96.0.60',
        ports: [{ name: 'http', port: 80 }],
        slices: [
          { targetPort: 8080, endpoints: [{ ip: a.ipv4, node: 'node-a' }] },
          { targetPort: 9090, endpoints: [{ ip: b.ipv4, node: 'node-a' }] },
        ],
      },
    ],
    [{ name: 'node-a', ip: '192.168.0.1' }],
  );
  const compiled = compileObjects(objects, opts);
  expect(compiled.model.problems).toEqual([]);
  ruleset = compiled.ruleset;
  await nftLoad(topo.node.ns, JSON.stringify(rulesetToJson(ruleset)), { format: 'json' });
});

afterAll(async () => {
  await topo?.destroy();
});

/** What trace predicts for a new connection: the pod names it may reach, and whether it is masqueraded. */
function predict(src: string, dst: string, dport: number, proto: Proto, fromNode = false) {
  const outcomes = traceConnection(
    ruleset,
    { family: dst.includes(':') ? 'ip6' : 'ip', src, dst, proto, dport },
    { localAddresses: ['192.168.0.1', '10.244.0.1', 'fd00:192:168::1'], sourceIsLocal: fromNode },
  );
  const pods = [...predictedEndpoints(outcomes).keys()].map((k) => podIp[k.replace(/^\[?(.*?)\]?:\d+$/, '$1')] ?? k).sort();
  return { pods, outcomes };
}

describe('compiled ruleset carries real traffic (and trace agrees)', () => {
  it('ClusterIP TCP reaches every endpoint; off-cluster client is masqueraded', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, '10.96.0.20', 80, 'tcp', 40);
    expect(s.failures).toEqual({});
    expect(s.pods).toEqual(['a', 'b']);
    expect(s.peers).toEqual(['10.244.0.1']); // the node's address towards the pods
    const t = predict(client.ipv4, '10.96.0.20', 80, 'tcp');
    expect(t.pods).toEqual(s.pods);
    expect(t.outcomes.every((o) => o.masquerade)).toBe(true);
  });

  it('ClusterIP UDP reaches every endpoint', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, '10.96.0.20', 53, 'udp', 40);
    expect(s.failures).toEqual({});
    expect(s.pods).toEqual(['a', 'b']);
    expect(predict(client.ipv4, '10.96.0.20', 53, 'udp').pods).toEqual(s.pods);
  });

  it('traffic from a pod (cluster CIDR) keeps its source address', async () => {
    const c = topo.pod('c');
    const s = await sampleEndpoints(c.ns, '10.96.0.20', 80, 'tcp', 30);
    expect(s.pods).toEqual(['a', 'b']);
    expect(s.peers).toEqual([c.ipv4]);
    const t = predict(c.ipv4, '10.96.0.20', 80, 'tcp');
    expect(t.pods).toEqual(s.pods);
    expect(t.outcomes.some((o) => o.masquerade)).toBe(false);
  });

  it('NodePort from another namespace works and the backend sees the node address', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, '192.168.0.1', 30080, 'tcp', 30);
    expect(s.failures).toEqual({});
    expect(s.pods).toEqual(['a', 'b']);
    expect(s.peers).toEqual(['10.244.0.1']);
    expect(predict(client.ipv4, '192.168.0.1', 30080, 'tcp').pods).toEqual(s.pods);
  });

  it('a service without endpoints refuses in under a second (TCP reset, ICMP for UDP)', async () => {
    const client = topo.client('client');
    const [tcp, udp, undefinedPort] = await requestBatch(client.ns, [
      { proto: 'tcp', host: '10.96.0.40', port: 80, timeoutMs: 3000 },
      { proto: 'udp', host: '10.96.0.40', port: 53, timeoutMs: 3000 },
      { proto: 'tcp', host: '10.96.0.20', port: 81, timeoutMs: 3000 },
    ]);
    for (const r of [tcp, udp, undefinedPort]) {
      expect(r).toMatchObject({ ok: false, error: 'refused' });
      expect(r!.elapsedMs).toBeLessThan(1000);
    }
    for (const [dst, port, proto] of [['10.96.0.40', 80, 'tcp'], ['10.96.0.40', 53, 'udp'], ['10.96.0.20', 81, 'tcp']] as const) {
      const t = predict(client.ipv4, dst, port, proto);
      expect(t.outcomes.map((o) => o.verdict)).toEqual(['reject']);
    }
  });

  it('hairpin: a pod reaching itself through its service is masqueraded', async () => {
    const a = topo.pod('a');
    const s = await sampleEndpoints(a.ns, '10.96.0.50', 80, 'tcp', 10);
    expect(s.failures).toEqual({});
    expect(s.pods).toEqual(['a']);
    expect(s.peers).toEqual(['10.244.0.1']);
    const t = predict(a.ipv4, '10.96.0.50', 80, 'tcp');
    expect(t.pods).toEqual(['a']);
    expect(t.outcomes.every((o) => o.masquerade)).toBe(true);
  });

  it('the node itself reaches a ClusterIP (output hook)', async () => {
    const s = await sampleEndpoints(topo.node.ns, '10.96.0.20', 80, 'tcp', 20);
    expect(s.failures).toEqual({});
    expect(s.pods).toEqual(['a', 'b']);
    expect(predict('192.168.0.1', '10.96.0.20', 80, 'tcp', true).pods).toEqual(s.pods);
  });

  it('endpoints with different target ports each get their own port', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, '10.96.0.60', 80, 'tcp', 30);
    expect(s.failures).toEqual({});
    expect(s.pods).toEqual(['a', 'b']);
    const ports = new Set(s.results.flatMap((r) => (r.ok && r.reply ? [`${r.reply.pod}:${r.reply.localPort}`] : [])));
    expect([...ports].sort()).toEqual(['a:8080', 'b:9090']);
    expect(predict(client.ipv4, '10.96.0.60', 80, 'tcp').pods).toEqual(s.pods);
  });

  it('IPv6 ClusterIP reaches every endpoint', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, 'fd00:10:96::20', 80, 'tcp', 30);
    expect(s.failures).toEqual({});
    expect(s.pods).toEqual(['a', 'b']);
    expect(predict(client.ipv6!, 'fd00:10:96::20', 80, 'tcp').pods).toEqual(s.pods);
  });
});
