// Topology-aware routing (issue #3): with trafficDistribution PreferClose the EndpointSlice
// controller gives endpoints zone hints; like kube-proxy we use only the endpoints hinted for this
// node's zone (Node label topology.kubernetes.io/zone, or --node-zone), but only when every ready
// endpoint carries hints and one is hinted for our zone — otherwise every endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, sampleEndpoints, type Topology } from '../harness/index.js';
import { baseOptions, expectAllAnswered, loadCluster, NODE_V4, predict, type Loaded, type NodeSpec, type ServiceSpec } from './helpers.js';

let topo: Topology;
let loaded: Loaded;
let services: ServiceSpec[];
const nodes: NodeSpec[] = [
  { name: 'node-a', ip: NODE_V4, zone: 'zone-a' },
  { name: 'node-b', ip: '192.168.0.2', zone: 'zone-b' },
];

beforeAll(async () => {
  topo = await createTopology({ pods: ['a', 'b', 'c'].map((name) => ({ name, serve: { tcp: [8080], udp: [8080] } })) });
  const ep = (pod: string, node: string, zone: string, hints?: string[]) => ({
    ip: topo.pod(pod).ipv4,
    node,
    zone,
    ...(hints ? { hints } : {}),
  });
  const svc = (name: string, ip: string, endpoints: ReturnType<typeof ep>[], nodePort?: number): ServiceSpec => ({
    name,
    clusterIP: ip,
    trafficDistribution: 'PreferClose',
    ports: [{ name: 'http', port: 80, ...(nodePort ? { nodePort } : {}) }, { name: 'dns', protocol: 'UDP', port: 53 }],
    slices: [{ targetPort: 8080, endpoints }],
  });
  services = [
    svc('hinted', '10.96.7.10', [ep('a', 'node-a', 'zone-a', ['zone-a']), ep('b', 'node-b', 'zone-a', ['zone-a']), ep('c', 'node-b', 'zone-b', ['zone-b'])], 30120),
    svc('partial', '10.96.7.11', [ep('a', 'node-a', 'zone-a', ['zone-a']), ep('b', 'node-b', 'zone-a'), ep('c', 'node-b', 'zone-b', ['zone-b'])]),
    svc('elsewhere', '10.96.7.12', [ep('a', 'node-a', 'zone-a', ['zone-b']), ep('b', 'node-b', 'zone-a', ['zone-b']), ep('c', 'node-b', 'zone-b', ['zone-b'])]),
  ];
  // The zone comes from node-a's Node object label (no --node-zone).
  loaded = await loadCluster(topo, services, baseOptions, nodes);
});

afterAll(async () => {
  await topo?.destroy();
});

async function expectPods(dst: string, port: number, proto: 'tcp' | 'udp', pods: string[], n = 30): Promise<void> {
  const client = topo.client('client');
  const s = await sampleEndpoints(client.ns, dst, port, proto, n);
  expectAllAnswered(s);
  expect(s.pods, `${dst}:${port}/${proto}`).toEqual(pods);
  expect(predict(topo, loaded.ruleset, client.ipv4, dst, port, proto).pods).toEqual(s.pods);
}

describe('topology (zone hints / trafficDistribution PreferClose)', () => {
  it('every endpoint hinted: only those hinted for the zone of the Node object label (cluster IP, UDP, NodePort)', async () => {
    await expectPods('10.96.7.10', 80, 'tcp', ['a', 'b']);
    await expectPods('10.96.7.10', 53, 'udp', ['a', 'b']);
    await expectPods(NODE_V4, 30120, 'tcp', ['a', 'b']);
  });

  it('one endpoint without hints: every endpoint', async () => {
    await expectPods('10.96.7.11', 80, 'tcp', ['a', 'b', 'c'], 40);
  });

  it('no endpoint hinted for our zone: every endpoint (topology never empties a service)', async () => {
    await expectPods('10.96.7.12', 80, 'tcp', ['a', 'b', 'c'], 40);
  });

  it('--node-zone overrides the Node label', async () => {
    loaded = await loadCluster(topo, services, { ...baseOptions, nodeZone: 'zone-b' }, nodes);
    await expectPods('10.96.7.10', 80, 'tcp', ['c'], 15);
    // In zone-b every endpoint of "elsewhere" is hinted for us.
    await expectPods('10.96.7.12', 80, 'tcp', ['a', 'b', 'c'], 40);
  });
});
