// LoadBalancer ingress IPs with loadBalancerSourceRanges (issue #3): allowed sources reach the
// service, others are dropped (no answer at all), the NodePort and cluster IP of the same service
// are not filtered, and when a node address is inside the ranges the node's own traffic to an LB
// IP it holds (sourced from that LB IP) is allowed — kube-proxy's "allowFromNode".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, sampleEndpoints, type Topology } from '../harness/index.js';
import { expectAllAnswered, expectAllFailed, loadCluster, MASQ_V4, NODE_V4, predict, type Loaded, type ServiceSpec } from './helpers.js';

const LB_ROUTED = '203.0.113.20';
const LB_NODE_IN = '198.51.100.20'; // on the node; the node's address is inside this service's ranges
const LB_NODE_OUT = '198.51.100.21'; // on the node; nothing of ours is inside this service's ranges
const LB_LOCAL = '203.0.113.23'; // ETP Local
const DENIED_V4 = '172.16.5.100';

let topo: Topology;
let loaded: Loaded;

beforeAll(async () => {
  topo = await createTopology({
    pods: ['a', 'b'].map((name) => ({ name, serve: { tcp: [8080], udp: [8080] } })),
    clients: ['allowed', { name: 'denied', ipv4: DENIED_V4, ipv6: false }],
    routedCidrs: ['203.0.113.0/24'],
    nodeLocalAddresses: [LB_NODE_IN, LB_NODE_OUT],
  });
  const slices = [{ targetPort: 8080, endpoints: [{ ip: topo.pod('a').ipv4, node: 'node-a' }, { ip: topo.pod('b').ipv4, node: 'node-b' }] }];
  const services: ServiceSpec[] = [
    {
      name: 'lb',
      type: 'LoadBalancer',
      clusterIP: '10.96.2.10',
      ports: [
        { name: 'http', port: 80, nodePort: 30080 },
        { name: 'dns', protocol: 'UDP', port: 53, nodePort: 30053 },
      ],
      loadBalancerIPs: [LB_ROUTED],
      loadBalancerSourceRanges: ['192.168.0.0/24'],
      slices,
    },
    {
      name: 'lb-node-in',
      type: 'LoadBalancer',
      clusterIP: '10.96.2.11',
      ports: [{ name: 'http', port: 80, nodePort: 30081 }],
      loadBalancerIPs: [LB_NODE_IN],
      loadBalancerSourceRanges: ['192.168.0.0/24'],
      slices,
    },
    {
      name: 'lb-node-out',
      type: 'LoadBalancer',
      clusterIP: '10.96.2.12',
      ports: [{ name: 'http', port: 80, nodePort: 30082 }],
      loadBalancerIPs: [LB_NODE_OUT],
      loadBalancerSourceRanges: ['172.31.0.0/16'],
      slices,
    },
    {
      name: 'lb-local',
      type: 'LoadBalancer',
      clusterIP: '10.96.2.13',
      externalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80, nodePort: 30083 }],
      loadBalancerIPs: [LB_LOCAL],
      loadBalancerSourceRanges: ['192.168.0.0/24'],
      slices,
    },
  ];
  loaded = await loadCluster(topo, services);
});

afterAll(async () => {
  await topo?.destroy();
});

const drop = { accept: 0, drop: 1, reject: 0 };

describe('loadBalancerSourceRanges', () => {
  it('an allowed client reaches the LB IP (TCP and UDP); masqueraded under ETP Cluster', async () => {
    const client = topo.client('allowed');
    for (const [port, proto] of [[80, 'tcp'], [53, 'udp']] as const) {
      const s = await sampleEndpoints(client.ns, LB_ROUTED, port, proto, 30);
      expectAllAnswered(s);
      expect(s.pods).toEqual(['a', 'b']);
      expect(s.peers).toEqual([MASQ_V4]);
      const t = predict(topo, loaded.ruleset, client.ipv4, LB_ROUTED, port, proto);
      expect(t.pods).toEqual(s.pods);
      expect(t.outcomes.every((o) => o.masquerade)).toBe(true);
    }
  });

  it('a client outside the ranges gets no answer from the LB IP (dropped, not rejected)', async () => {
    const client = topo.client('denied');
    for (const [port, proto] of [[80, 'tcp'], [53, 'udp']] as const) {
      const s = await sampleEndpoints(client.ns, LB_ROUTED, port, proto, 4, { timeoutMs: 500 });
      expectAllFailed(s, 'timeout');
      const t = predict(topo, loaded.ruleset, client.ipv4, LB_ROUTED, port, proto);
      expect(t.verdicts).toEqual(drop);
      expect(t.pods).toEqual([]);
    }
  });

  it('the NodePort and the cluster IP of the same service still work from that client', async () => {
    const client = topo.client('denied');
    for (const [dst, port, proto] of [
      [NODE_V4, 30080, 'tcp'],
      [NODE_V4, 30053, 'udp'],
      ['10.96.2.10', 80, 'tcp'],
    ] as const) {
      const s = await sampleEndpoints(client.ns, dst, port, proto, 30);
      expectAllAnswered(s);
      expect(s.pods).toEqual(['a', 'b']);
      expect(predict(topo, loaded.ruleset, client.ipv4, dst, port, proto).pods).toEqual(s.pods);
    }
  });

  it('the ranges apply per service: an LB IP held by the node, allowed client inside / outside the ranges', async () => {
    const client = topo.client('allowed');
    const extraLocal = [LB_NODE_IN, LB_NODE_OUT];
    const ok = await sampleEndpoints(client.ns, LB_NODE_IN, 80, 'tcp', 30);
    expectAllAnswered(ok);
    expect(ok.pods).toEqual(['a', 'b']);
    expect(predict(topo, loaded.ruleset, client.ipv4, LB_NODE_IN, 80, 'tcp', { extraLocal }).pods).toEqual(ok.pods);
    const no = await sampleEndpoints(client.ns, LB_NODE_OUT, 80, 'tcp', 4, { timeoutMs: 500 });
    expectAllFailed(no, 'timeout');
    expect(predict(topo, loaded.ruleset, client.ipv4, LB_NODE_OUT, 80, 'tcp', { extraLocal }).verdicts).toEqual(drop);
  });

  it('node-local traffic to its own LB IP: allowed when a node address is inside the ranges', async () => {
    const extraLocal = [LB_NODE_IN, LB_NODE_OUT];
    // A connection to a local address is sourced from that address: the LB IP itself.
    const s = await sampleEndpoints(topo.node.ns, LB_NODE_IN, 80, 'tcp', 30);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['a', 'b']);
    expect(predict(topo, loaded.ruleset, LB_NODE_IN, LB_NODE_IN, 80, 'tcp', { fromNode: true, extraLocal }).pods).toEqual(s.pods);
  });

  it('node-local traffic to its own LB IP: dropped when no node address is inside the ranges', async () => {
    const extraLocal = [LB_NODE_IN, LB_NODE_OUT];
    const s = await sampleEndpoints(topo.node.ns, LB_NODE_OUT, 80, 'tcp', 3, { timeoutMs: 500 });
    expect(s.pods).toEqual([]);
    // Dropped in the output hook: the local stack reports EPERM or the SYN simply never leaves.
    expect(Object.keys(s.failures).every((k) => k === 'blocked' || k === 'timeout')).toBe(true);
    const t = predict(topo, loaded.ruleset, LB_NODE_OUT, LB_NODE_OUT, 80, 'tcp', { fromNode: true, extraLocal });
    expect(t.verdicts).toEqual(drop);
  });

  it('with ETP Local: the allowed client reaches the local endpoint with its own address, the other is dropped', async () => {
    const allowed = topo.client('allowed');
    const s = await sampleEndpoints(allowed.ns, LB_LOCAL, 80, 'tcp', 20);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['a']);
    expect(s.peers).toEqual([allowed.ipv4]);
    expect(predict(topo, loaded.ruleset, allowed.ipv4, LB_LOCAL, 80, 'tcp').pods).toEqual(s.pods);
    const denied = topo.client('denied');
    const d = await sampleEndpoints(denied.ns, LB_LOCAL, 80, 'tcp', 3, { timeoutMs: 500 });
    expectAllFailed(d, 'timeout');
    expect(predict(topo, loaded.ruleset, denied.ipv4, LB_LOCAL, 80, 'tcp').verdicts).toEqual(drop);
  });
});
