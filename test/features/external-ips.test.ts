// externalIPs (issue #3): a client reaches the service through an external IP routed to the node
// or assigned to it; under externalTrafficPolicy Cluster every source is masqueraded, as kube-proxy
// does ("masquerade traffic for external destinations"), so the backend sees the node's address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, sampleEndpoints, type Topology } from '../harness/index.js';
import { expectAllAnswered, loadCluster, MASQ_V4, NODE_V4, nodeSource, predict, type Loaded, type ServiceSpec } from './helpers.js';

const EXT_ROUTED = '203.0.113.10';
const EXT_ON_NODE = '198.51.100.7';
const EXT_V6 = '2001:db8:1::10';

let topo: Topology;
let loaded: Loaded;

beforeAll(async () => {
  topo = await createTopology({
    pods: ['a', 'b', 'c'].map((name) => ({ name, serve: { tcp: [8080], udp: [8080] } })),
    routedCidrs: ['203.0.113.0/24', '2001:db8:1::/64'],
    nodeLocalAddresses: [EXT_ON_NODE],
  });
  const [a, b, c] = [topo.pod('a'), topo.pod('b'), topo.pod('c')];
  const services: ServiceSpec[] = [
    {
      name: 'ext',
      clusterIP: '10.96.1.10',
      externalIPs: [EXT_ROUTED],
      ports: [{ name: 'http', port: 80 }, { name: 'dns', protocol: 'UDP', port: 53 }],
      slices: [
        {
          targetPort: 8080,
          endpoints: [
            { ip: a.ipv4, node: 'node-a' },
            { ip: b.ipv4, node: 'node-a' },
            { ip: c.ipv4, node: 'node-b' },
          ],
        },
      ],
    },
    {
      name: 'ext-on-node',
      clusterIP: '10.96.1.11',
      externalIPs: [EXT_ON_NODE],
      ports: [{ name: 'http', port: 8081 }],
      slices: [{ targetPort: 8080, endpoints: [{ ip: a.ipv4, node: 'node-a' }, { ip: b.ipv4, node: 'node-b' }] }],
    },
    {
      // An external IP that is the node's own address (a common way to expose a port on a node).
      name: 'ext-node-ip',
      clusterIP: '10.96.1.12',
      externalIPs: ['192.168.0.1'],
      ports: [{ name: 'http', port: 8082 }],
      slices: [{ targetPort: 8080, endpoints: [{ ip: b.ipv4, node: 'node-a' }, { ip: c.ipv4, node: 'node-b' }] }],
    },
    {
      name: 'ext6',
      clusterIP: 'fd00:10:96::110',
      externalIPs: [EXT_V6],
      ports: [{ name: 'http', port: 80 }],
      slices: [{ family: 'IPv6', targetPort: 8080, endpoints: [{ ip: a.ipv6!, node: 'node-a' }, { ip: c.ipv6!, node: 'node-b' }] }],
    },
  ];
  loaded = await loadCluster(topo, services);
});

afterAll(async () => {
  await topo?.destroy();
});

describe('externalIPs (externalTrafficPolicy Cluster)', () => {
  it('a routed external IP carries TCP to every endpoint; the backend sees the node address', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, EXT_ROUTED, 80, 'tcp', 40);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['a', 'b', 'c']);
    expect(s.peers).toEqual([MASQ_V4]);
    const t = predict(topo, loaded.ruleset, client.ipv4, EXT_ROUTED, 80, 'tcp');
    expect(t.pods).toEqual(s.pods);
    expect(t.outcomes.every((o) => o.masquerade)).toBe(true);
  });

  it('a routed external IP carries UDP', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, EXT_ROUTED, 53, 'udp', 40);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['a', 'b', 'c']);
    expect(s.peers).toEqual([MASQ_V4]);
    expect(predict(topo, loaded.ruleset, client.ipv4, EXT_ROUTED, 53, 'udp').pods).toEqual(s.pods);
  });

  it('an external IP that is a local address of the node', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, EXT_ON_NODE, 8081, 'tcp', 30);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['a', 'b']);
    expect(s.peers).toEqual([MASQ_V4]);
    const t = predict(topo, loaded.ruleset, client.ipv4, EXT_ON_NODE, 8081, 'tcp', { extraLocal: [EXT_ON_NODE] });
    expect(t.pods).toEqual(s.pods);
    expect(t.outcomes.every((o) => o.masquerade)).toBe(true);
  });

  it('pods reach the external IP too, masqueraded (ETP Cluster masquerades every source)', async () => {
    const b = topo.pod('b');
    const s = await sampleEndpoints(b.ns, EXT_ROUTED, 80, 'tcp', 40);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['a', 'b', 'c']);
    expect(s.peers).toEqual([MASQ_V4]);
    const t = predict(topo, loaded.ruleset, b.ipv4, EXT_ROUTED, 80, 'tcp');
    expect(t.pods).toEqual(s.pods);
    expect(t.outcomes.every((o) => o.masquerade)).toBe(true);
  });

  it('the node itself reaches the external IP (output hook)', async () => {
    const s = await sampleEndpoints(topo.node.ns, EXT_ROUTED, 80, 'tcp', 40);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['a', 'b', 'c']);
    const src = await nodeSource(topo, EXT_ROUTED);
    expect(predict(topo, loaded.ruleset, src, EXT_ROUTED, 80, 'tcp', { fromNode: true }).pods).toEqual(s.pods);
  });

  it('an IPv6 external IP', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, EXT_V6, 80, 'tcp', 30);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['a', 'c']);
    expect(s.peers).not.toContain(client.ipv6);
    const t = predict(topo, loaded.ruleset, client.ipv6!, EXT_V6, 80, 'tcp');
    expect(t.pods).toEqual(s.pods);
    expect(t.outcomes.every((o) => o.masquerade)).toBe(true);
  });

  it('the external IP on a port that is not a service port is not proxied', async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, EXT_ROUTED, 81, 'tcp', 3, { timeoutMs: 400 });
    expect(s.pods).toEqual([]);
    // Not a cluster IP: the packet is routed on (into the harness's service dummy, where it dies).
    const t = predict(topo, loaded.ruleset, client.ipv4, EXT_ROUTED, 81, 'tcp');
    expect(t.outcomes.map((o) => [o.verdict, o.dnat])).toEqual([['accept', undefined]]);
  });

  it("an external IP equal to the node's address, from a client and from the node", async () => {
    const client = topo.client('client');
    const s = await sampleEndpoints(client.ns, NODE_V4, 8082, 'tcp', 30);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['b', 'c']);
    expect(s.peers).toEqual([MASQ_V4]);
    expect(predict(topo, loaded.ruleset, client.ipv4, NODE_V4, 8082, 'tcp').pods).toEqual(s.pods);
    const n = await sampleEndpoints(topo.node.ns, NODE_V4, 8082, 'tcp', 30);
    expectAllAnswered(n);
    expect(n.pods).toEqual(['b', 'c']);
    expect(predict(topo, loaded.ruleset, NODE_V4, NODE_V4, 8082, 'tcp', { fromNode: true }).pods).toEqual(n.pods);
  });
});
