// DATAPATH: both baselines carry real traffic. The iptables output (legacy and nft backends) and
// the kube-proxy-nft output are loaded into the harness's node namespace; clients and pods in
// their own namespaces send TCP/UDP to clusterIPs and NodePorts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileIptables } from '../../compiler/iptables/restore.js';
import { compileKubeProxyNft } from '../../compiler/kubeproxy-nft/compile.js';
import { rulesetToJson } from '../../compiler/nft/json.js';
import type { ServicePort } from '../../compiler/model/types.js';
import { createTopology, exec, nftLoad, sampleEndpoints, tcpRequest, udpRequest, type Topology } from '../harness/index.js';
import { ep, svcPort, testOptions } from './fixtures.js';
import { describeWithNamespaces } from '../harness/privileges.js';

const opts = { ...testOptions, clusterCIDRs: ['10.244.0.0/16'], nodeIPs: ['192.168.0.1'] };

function cluster(a: string, b: string): ServicePort[] {
  const eps = [ep(a, 8080), ep(b, 8080)];
  return [
    svcPort({ name: 'web', clusterIP: '10.96.0.10', nodePort: 30080, endpoints: eps }),
    svcPort({ name: 'dns', clusterIP: '10.96.0.11', protocol: 'udp', portName: 'dns', port: 53, endpoints: eps }),
    svcPort({ name: 'empty', clusterIP: '10.96.0.12', nodePort: 30012, endpoints: [] }),
  ];
}

type Loader = { name: string; load: (topo: Topology, sps: ServicePort[]) => Promise<void> };

const loaders: Loader[] = [
  {
    name: 'iptables-legacy',
    load: async (topo, sps) => {
      await exec(topo.node.ns, ['iptables-legacy-restore', '--noflush'], { input: compileIptables(sps, opts) });
    },
  },
  {
    name: 'iptables-nft',
    load: async (topo, sps) => {
      await exec(topo.node.ns, ['iptables-nft-restore', '--noflush'], { input: compileIptables(sps, opts) });
    },
  },
  {
    name: 'kube-proxy-nft',
    load: async (topo, sps) => {
      await nftLoad(topo.node.ns, rulesetToJson(compileKubeProxyNft(sps, { ...opts, families: [4] })), { format: 'json' });
    },
  },
];

for (const loader of loaders) {
  describeWithNamespaces(`datapath through the ${loader.name} baseline`, () => {
    let topo: Topology;
    beforeAll(async () => {
      topo = await createTopology({
        ipv6: false,
        pods: [
          { name: 'a', serve: { tcp: [8080], udp: [8080] } },
          { name: 'b', serve: { tcp: [8080], udp: [8080] } },
        ],
      });
      await loader.load(topo, cluster(topo.pod('a').ipv4, topo.pod('b').ipv4));
    }, 60_000);
    afterAll(async () => {
      await topo?.destroy();
    });

    it('ClusterIP TCP reaches every endpoint, masquerading off-cluster clients', async () => {
      const s = await sampleEndpoints(topo.client('client').ns, '10.96.0.10', 80, 'tcp', 40);
      expect(s.failures).toEqual({});
      expect(Object.keys(s.histogram).sort()).toEqual(['a', 'b']);
      // The client (192.168.0.100) is outside the pod CIDR: kube-proxy masquerades it.
      expect(s.peers).not.toContain(topo.client('client').ipv4);
    }, 60_000);

    it('ClusterIP UDP reaches every endpoint', async () => {
      const s = await sampleEndpoints(topo.client('client').ns, '10.96.0.11', 53, 'udp', 40);
      expect(s.failures).toEqual({});
      expect(Object.keys(s.histogram).sort()).toEqual(['a', 'b']);
    }, 60_000);

    it('pod-to-ClusterIP keeps the pod source; hairpin is masqueraded', async () => {
      const s = await sampleEndpoints(topo.pod('a').ns, '10.96.0.10', 80, 'tcp', 30);
      expect(s.failures).toEqual({});
      expect(s.pods).toEqual(['a', 'b']); // both branches below are exercised
      for (const r of s.results) {
        if (!r.ok || r.reply === undefined) continue;
        if (r.reply.pod === 'b') expect(r.reply.peer).toBe(topo.pod('a').ipv4);
        else expect(r.reply.peer).not.toBe(topo.pod('a').ipv4);
      }
    }, 60_000);

    it('NodePort works, with masquerade', async () => {
      const r = await tcpRequest(topo.client('client').ns, topo.node.ipv4, 30080, { timeoutMs: 2000 });
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(['a', 'b']).toContain(r.reply?.pod);
        expect(r.reply?.peer).not.toBe(topo.client('client').ipv4);
      }
    }, 30_000);

    it('a service without endpoints is refused (clusterIP and NodePort)', async () => {
      const r = await tcpRequest(topo.client('client').ns, '10.96.0.12', 80, { timeoutMs: 2000 });
      expect(r.ok ? 'ok' : r.error).toBe('refused');
      const n = await tcpRequest(topo.client('client').ns, topo.node.ipv4, 30012, { timeoutMs: 2000 });
      expect(n.ok ? 'ok' : n.error).toBe('refused');
      if (loader.name === 'kube-proxy-nft') {
        // nftables mode also rejects a clusterIP's undefined ports (cluster-ips-check).
        const u = await udpRequest(topo.pod('a').ns, '10.96.0.12', 80, { timeoutMs: 2000 });
        expect(u.ok ? 'ok' : u.error).toBe('refused');
      }
    }, 30_000);
  });
}
