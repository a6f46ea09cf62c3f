// Key conflicts with real traffic (issue 11, acceptance 2 and 3): a Service in another namespace
// lists kube-dns's cluster IP as an externalIP on 53/TCP. The allocated cluster IP keeps the key:
// 53/TCP to 10.96.0.10 still reaches kube-dns's endpoints (and trace says so), the other Service's
// own cluster IP works, and when kube-dns goes away the other Service takes the key over. The
// changes are applied as the daemon's partial syncs (diffs), in private namespaces.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileObjects } from '../../compiler/index.js';
import { createTopology, sampleEndpoints, type Topology } from '../harness/index.js';
import { objectsFor } from '../datapath/cluster.js';
import { applyDelta, baseOptions, expectAllAnswered, loadCluster, NODE_V4, predict, type ServiceSpec } from './helpers.js';
import type { Ruleset } from '../../ir/types.js';

const DNS_IP = '10.96.0.10';
const HIJACK_IP = '10.96.5.5';

let topo: Topology;
let kubeDns: ServiceSpec;
let hijack: ServiceSpec;
let withBoth: Ruleset;

function compileWithConflicts(services: ServiceSpec[]) {
  const c = compileObjects(objectsFor(services, [{ name: 'node-a', ip: NODE_V4 }]), baseOptions);
  expect(c.model.problems).toEqual([]);
  return c;
}

beforeAll(async () => {
  topo = await createTopology({
    pods: [
      { name: 'dns-a', serve: { tcp: [5353], udp: [5353] } },
      { name: 'dns-b', serve: { tcp: [5353], udp: [5353] } },
      { name: 'other', serve: { tcp: [8053] } },
    ],
  });
  kubeDns = {
    name: 'kube-dns',
    namespace: 'kube-system',
    clusterIP: DNS_IP,
    ports: [
      { name: 'dns', protocol: 'UDP', port: 53 },
      { name: 'dns-tcp', protocol: 'TCP', port: 53 },
    ],
    slices: [{ targetPort: 5353, endpoints: [{ ip: topo.pod('dns-a').ipv4, node: 'node-a' }, { ip: topo.pod('dns-b').ipv4, node: 'node-b' }] }],
  };
  hijack = {
    name: 'hijack',
    namespace: 'tenant',
    clusterIP: HIJACK_IP,
    externalIPs: [DNS_IP],
    ports: [{ name: 'dns', protocol: 'TCP', port: 53 }],
    slices: [{ targetPort: 8053, endpoints: [{ ip: topo.pod('other').ipv4, node: 'node-b' }] }],
  };
  const before = await loadCluster(topo, [kubeDns]);
  const c = compileWithConflicts([kubeDns, hijack]);
  expect(c.model.conflicts).toEqual([
    { key: '10.96.0.10 tcp 53', winner: 'kube-system/kube-dns:dns-tcp', loser: 'tenant/hijack:dns', reason: 'an allocated cluster IP wins over an externalIP' },
  ]);
  withBoth = c.ruleset;
  // The hijacking Service arrives as a partial sync, as in the scenario.
  await applyDelta(topo, before.ruleset, withBoth);
});

afterAll(async () => {
  await topo?.destroy();
});

describe('an externalIP equal to kube-dns cluster IP', () => {
  it('53/TCP to the cluster IP still reaches kube-dns endpoints only; trace agrees', async () => {
    const client = topo.pod('other');
    const s = await sampleEndpoints(client.ns, DNS_IP, 53, 'tcp', 30);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['dns-a', 'dns-b']);
    expect(predict(topo, withBoth, client.ipv4, DNS_IP, 53, 'tcp').pods).toEqual(s.pods);
  });

  it('53/UDP is untouched', async () => {
    const s = await sampleEndpoints(topo.pod('other').ns, DNS_IP, 53, 'udp', 20);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['dns-a', 'dns-b']);
  });

  it("the conflicting Service's own cluster IP works", async () => {
    const client = topo.pod('dns-a');
    const s = await sampleEndpoints(client.ns, HIJACK_IP, 53, 'tcp', 10);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['other']);
    expect(predict(topo, withBoth, client.ipv4, HIJACK_IP, 53, 'tcp').pods).toEqual(s.pods);
  });

  it('when kube-dns goes away, the other Service takes the key over (partial sync)', async () => {
    const after = compileWithConflicts([hijack]).ruleset;
    await applyDelta(topo, withBoth, after);
    const client = topo.pod('dns-a');
    const s = await sampleEndpoints(client.ns, DNS_IP, 53, 'tcp', 10);
    expectAllAnswered(s);
    expect(s.pods).toEqual(['other']);
    expect(predict(topo, after, client.ipv4, DNS_IP, 53, 'tcp').pods).toEqual(s.pods);
  });
});
