// Dual-stack and single-stack IPv6 services (issue #3): each family has its own cluster IP and
// EndpointSlices, both carry TCP and UDP, and NodePorts answer on the node address of each family
// the service has (a single-stack IPv6 service's NodePort is not proxied on the IPv4 address).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, sampleEndpoints, type Topology } from '../harness/index.js';
import { expectAllAnswered, loadCluster, NODE_V4, NODE_V6, predict, type Loaded, type ServiceSpec } from './helpers.js';

const DUAL_V4 = '10.96.8.10';
const DUAL_V6 = 'fd00:10:96::810';
const V6_ONLY = 'fd00:10:96::811';

let topo: Topology;
let loaded: Loaded;

beforeAll(async () => {
  topo = await createTopology({ pods: ['a', 'b', 'c'].map((name) => ({ name, serve: { tcp: [8080], udp: [8080] } })) });
  const v4 = (pods: string[]) => ({ family: 'IPv4' as const, targetPort: 8080, endpoints: pods.map((p) => ({ ip: topo.pod(p).ipv4, node: 'node-a' })) });
  const v6 = (pods: string[]) => ({ family: 'IPv6' as const, targetPort: 8080, endpoints: pods.map((p) => ({ ip: topo.pod(p).ipv6!, node: 'node-a' })) });
  const services: ServiceSpec[] = [
    {
      name: 'dual',
      clusterIPs: [DUAL_V4, DUAL_V6],
      ipFamilies: ['IPv4', 'IPv6'],
      ports: [{ name: 'http', port: 80, nodePort: 30130 }, { name: 'dns', protocol: 'UDP', port: 53 }],
      // Different endpoints per family, so a cross-family mix-up shows.
      slices: [v4(['a', 'b']), v6(['b', 'c'])],
    },
    {
      name: 'v6only',
      clusterIP: V6_ONLY,
      ipFamilies: ['IPv6'],
      ports: [{ name: 'http', port: 80, nodePort: 30131 }, { name: 'dns', protocol: 'UDP', port: 53 }],
      slices: [v6(['a', 'b', 'c'])],
    },
  ];
  loaded = await loadCluster(topo, services);
});

afterAll(async () => {
  await topo?.destroy();
});

async function check(ns: string, src: string, dst: string, port: number, proto: 'tcp' | 'udp', pods: string[], fromNode = false): Promise<string[]> {
  const s = await sampleEndpoints(ns, dst, port, proto, pods.length > 2 ? 40 : 30);
  expectAllAnswered(s);
  expect(s.pods, `${dst}:${port}/${proto}`).toEqual(pods);
  expect(predict(topo, loaded.ruleset, src, dst, port, proto, { fromNode }).pods).toEqual(s.pods);
  return s.peers;
}

describe('dual-stack', () => {
  it('both cluster IPs carry TCP and UDP, each to its own family\'s endpoints', async () => {
    const client = topo.client('client');
    for (const proto of ['tcp', 'udp'] as const) {
      const port = proto === 'tcp' ? 80 : 53;
      await check(client.ns, client.ipv4, DUAL_V4, port, proto, ['a', 'b']);
      const peers6 = await check(client.ns, client.ipv6!, DUAL_V6, port, proto, ['b', 'c']);
      expect(peers6).not.toContain(client.ipv6); // off-cluster source: masqueraded in IPv6 too
    }
  });

  it('the NodePort answers on the node address of each family', async () => {
    const client = topo.client('client');
    await check(client.ns, client.ipv4, NODE_V4, 30130, 'tcp', ['a', 'b']);
    await check(client.ns, client.ipv6!, NODE_V6, 30130, 'tcp', ['b', 'c']);
  });

  it('from a pod over IPv6 the source is kept', async () => {
    const a = topo.pod('a');
    const peers = await check(a.ns, a.ipv6!, DUAL_V6, 80, 'tcp', ['b', 'c']);
    expect(peers).toEqual([a.ipv6]);
  });
});

describe('single-stack IPv6', () => {
  it('the cluster IP carries TCP and UDP', async () => {
    const client = topo.client('client');
    await check(client.ns, client.ipv6!, V6_ONLY, 80, 'tcp', ['a', 'b', 'c']);
    await check(client.ns, client.ipv6!, V6_ONLY, 53, 'udp', ['a', 'b', 'c']);
  });

  it('the node itself reaches it', async () => {
    await check(topo.node.ns, NODE_V6, V6_ONLY, 80, 'tcp', ['a', 'b', 'c'], true);
  });

  it('the NodePort answers on the IPv6 node address only', async () => {
    const client = topo.client('client');
    await check(client.ns, client.ipv6!, NODE_V6, 30131, 'tcp', ['a', 'b', 'c']);
    // On the IPv4 address nothing proxies port 30131: the node's own stack refuses it.
    const s = await sampleEndpoints(client.ns, NODE_V4, 30131, 'tcp', 3);
    expect(s.failures).toEqual({ refused: 3 });
    const t = predict(topo, loaded.ruleset, client.ipv4, NODE_V4, 30131, 'tcp');
    expect(t.outcomes.map((o) => [o.verdict, o.dnat, o.delivery])).toEqual([['accept', undefined, 'local']]);
  });
});
