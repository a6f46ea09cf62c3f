// The namespaces one system is measured in: the node (its rules; the kernel worker runs here), a
// client behind it, and one backend namespace that owns the endpoint addresses of the probed
// services and runs a TCP echo server. Routed veths, no bridge:
//   client 192.168.0.100 ─ 192.168.0.1 node 172.16.0.1 ─ 172.16.0.2 backend (+ probe endpoint IPs)
// The node routes the whole pod CIDR to the backend; endpoints the probe does not use simply do
// not answer. Built with the datapath harness (every command inside namespaces named nfp-<pid>-…).

import { createNamespace, destroyNamespace, sh, startEchoServer, type EchoServer } from '../netns/index.js';
import { POD_CIDR } from './scenario.js';

export interface BenchTopology {
  node: string;
  client: string;
  backend: string;
  destroy(): Promise<void>;
}

export async function createBenchTopology(label: string, endpointIps: string[], port: number): Promise<BenchTopology> {
  const made: string[] = [];
  let echo: EchoServer | undefined;
  const destroy = async (): Promise<void> => {
    await echo?.stop();
    for (const ns of made.reverse()) await destroyNamespace(ns);
  };
  try {
    const node = await createNamespace(`${label}-node`, {
      sysctls: { 'net.ipv4.ip_forward': 1, 'net.ipv4.conf.all.rp_filter': 0, 'net.ipv4.conf.default.rp_filter': 0 },
    });
    made.push(node);
    const client = await createNamespace(`${label}-client`);
    made.push(client);
    const backend = await createNamespace(`${label}-backend`);
    made.push(backend);
    await sh(node, [
      `ip link add vc0 type veth peer name eth0 netns ${client}`,
      `ip link add vb0 type veth peer name eth0 netns ${backend}`,
      'ip addr add 192.168.0.1/24 dev vc0',
      'ip addr add 172.16.0.1/24 dev vb0',
      'ip link set vc0 up',
      'ip link set vb0 up',
      `ip route add ${POD_CIDR} via 172.16.0.2 dev vb0`,
    ].join('\n'));
    await sh(client, ['ip addr add 192.168.0.100/24 dev eth0', 'ip link set eth0 up', 'ip route add default via 192.168.0.1'].join('\n'));
    await sh(backend, [
      'ip addr add 172.16.0.2/24 dev eth0',
      'ip link set eth0 up',
      'ip route add default via 172.16.0.1',
      ...endpointIps.map((ip) => `ip addr add ${ip}/32 dev lo`),
    ].join('\n'));
    echo = await startEchoServer(backend, { name: 'backend', tcp: [port] });
    return { node, client, backend, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
