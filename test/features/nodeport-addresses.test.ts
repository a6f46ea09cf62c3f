// --nodeport-addresses (issue #3), kube-proxy's meaning: NodePorts are proxied only on the node's
// addresses inside the CIDRs, and never on loopback (even when a CIDR covers it and
// route_localnet would let a DNATed loopback connection work). Without the option, every local
// address except loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, sampleEndpoints, type Topology } from '../harness/index.js';
import { baseOptions, expectAllAnswered, loadCluster, NODE_V4, NODE_V6, predict, type Loaded, type ServiceSpec } from './helpers.js';

const SECOND_V4 = '198.51.100.1';
const SECOND_V6 = '2001:db8:9::1';
const extraLocal = [SECOND_V4, SECOND_V6];

let topo: Topology;
let loaded: Loaded;
let services: ServiceSpec[];

beforeAll(async () => {
  topo = await createTopology({
    pods: ['a', 'b'].map((name) => ({ name, serve: { tcp: [8080], udp: [8080] } })),
    nodeLocalAddresses: extraLocal,
    // So that a NodePort wrongly DNATed on 127.0.0.1 would really be reachable (and the test fail).
    routeLocalnet: true,
  });
  const slice = (family: 'IPv4' | 'IPv6') => ({
    family,
    targetPort: 8080,
    endpoints: ['a', 'b'].map((p) => ({ ip: family === 'IPv4' ? topo.pod(p).ipv4 : topo.pod(p).ipv6!, node: 'node-a' })),
  });
  services = [
    {
      name: 'np',
      clusterIPs: ['10.96.9.10', 'fd00:10:96::910'],
      ports: [{ name: 'http', port: 80, nodePort: 30140 }, { name: 'dns', protocol: 'UDP', port: 53, nodePort: 30141 }],
      slices: [slice('IPv4'), slice('IPv6')],
    },
  ];
  loaded = await loadCluster(topo, services, {
    ...baseOptions,
    nodeIPs: [NODE_V4, SECOND_V4, NODE_V6, SECOND_V6],
    nodePortAddresses: ['192.168.0.0/24', '127.0.0.0/8', 'fd00:192:168::/64', '::1/128'],
  });
});

afterAll(async () => {
  await topo?.destroy();
});

async function expectProxied(ns: string, src: string, dst: string, port: number, proto: 'tcp' | 'udp', fromNode = false): Promise<void> {
  const s = await sampleEndpoints(ns, dst, port, proto, 30);
  expectAllAnswered(s);
  expect(s.pods, `${dst}:${port}/${proto}`).toEqual(['a', 'b']);
  expect(predict(topo, loaded.ruleset, src, dst, port, proto, { fromNode, extraLocal }).pods).toEqual(s.pods);
}

/** Not proxied: the packet reaches the node's own stack, where nothing listens. */
async function expectNotProxied(ns: string, src: string, dst: string, port: number, proto: 'tcp' | 'udp', fromNode = false): Promise<void> {
  const s = await sampleEndpoints(ns, dst, port, proto, 3);
  expect(s.failures, `${dst}:${port}/${proto}`).toEqual({ refused: 3 });
  const t = predict(topo, loaded.ruleset, src, dst, port, proto, { fromNode, extraLocal });
  expect(t.outcomes.map((o) => [o.verdict, o.dnat, o.delivery])).toEqual([['accept', undefined, 'local']]);
}

describe('--nodeport-addresses', () => {
  it('NodePorts answer on node addresses inside the CIDRs (IPv4, IPv6, TCP, UDP)', async () => {
    const client = topo.client('client');
    await expectProxied(client.ns, client.ipv4, NODE_V4, 30140, 'tcp');
    await expectProxied(client.ns, client.ipv4, NODE_V4, 30141, 'udp');
    await expectProxied(client.ns, client.ipv6!, NODE_V6, 30140, 'tcp');
    await expectProxied(topo.node.ns, NODE_V4, NODE_V4, 30140, 'tcp', true);
  });

  it('not on a node address outside the CIDRs', async () => {
    const client = topo.client('client');
    await expectNotProxied(client.ns, client.ipv4, SECOND_V4, 30140, 'tcp');
    await expectNotProxied(client.ns, client.ipv4, SECOND_V4, 30141, 'udp');
    await expectNotProxied(client.ns, client.ipv6!, SECOND_V6, 30140, 'tcp');
  });

  it('never on loopback, even when a CIDR covers it', async () => {
    await expectNotProxied(topo.node.ns, '127.0.0.1', '127.0.0.1', 30140, 'tcp', true);
    await expectNotProxied(topo.node.ns, '::1', '::1', 30140, 'tcp', true);
  });

  it('without the option: every local address (the second one too), still never loopback', async () => {
    loaded = await loadCluster(topo, services, { ...baseOptions, nodeIPs: [] });
    const client = topo.client('client');
    await expectProxied(client.ns, client.ipv4, SECOND_V4, 30140, 'tcp');
    await expectProxied(client.ns, client.ipv6!, SECOND_V6, 30140, 'tcp');
    await expectProxied(topo.node.ns, NODE_V4, NODE_V4, 30140, 'tcp', true);
    await expectNotProxied(topo.node.ns, '127.0.0.1', '127.0.0.1', 30140, 'tcp', true);
    await expectNotProxied(topo.node.ns, '::1', '::1', 30140, 'tcp', true);
  });
});
