// A one-node "cluster" built from network namespaces:
//
//   client ns (192.168.0.100)──veth──┐                      ┌──veth── pod ns (10.244.0.10)
//   client ns (192.168.0.101)──veth──┤  node ns             ├──veth── pod ns (10.244.0.11)
//                                    │  192.168.0.1 on each │   (10.244.0.1 / fe80::1 on each
//                                    │  client-side veth    │    pod-side veth: the gateway)
//                                    │  svc0 (dummy): routes for the service CIDRs
//
// Pods and clients are attached like the CNI ptp plugin attaches pods: a veth per leaf, the node
// side is the leaf's gateway, the node has a host route per leaf address. Everything is routed
// (no bridge), so every packet between leaves crosses the node's netfilter hooks exactly once per
// direction — which is what the proxy's rules need — and a hairpin (pod → service → same pod) is
// just a packet that leaves the node on the interface it arrived on.

import { createNamespace, destroyNamespace, sh } from './netns.js';
import { startEchoServer, type EchoPorts, type EchoServer } from './echo-server.js';

export interface LeafSpec {
  /** Logical name, used in echo replies and namespace names. */
  name: string;
  /** IPv4 address (default: allocated). */
  ipv4?: string;
  /** IPv6 address (default: allocated when the topology has IPv6; `false` for none). */
  ipv6?: string | false;
}

export interface PodSpec extends LeafSpec {
  /** Start an echo server on these ports when the pod is created. */
  serve?: EchoPorts;
}

export type ClientSpec = LeafSpec;

export interface TopologySpec {
  pods?: ReadonlyArray<string | PodSpec>;
  /** Default: one client named "client". */
  clients?: ReadonlyArray<string | ClientSpec>;
  /** Give the node, pods and clients IPv6 addresses (default true). */
  ipv6?: boolean;
  /** Routed into the node's dummy interface (default 10.96.0.0/16 and fd00:10:96::/112). */
  serviceCidrs?: readonly string[];
  /** More prefixes routed into the dummy (e.g. externalIPs / LB IPs that are not local). */
  routedCidrs?: readonly string[];
  /** Extra local addresses of the node (put on its loopback), e.g. a second node IP. */
  nodeLocalAddresses?: readonly string[];
  /** net.ipv4.conf.all.route_localnet=1 in the node (NodePort on 127.0.0.1). Default false. */
  routeLocalnet?: boolean;
  /** Node address on the client links (default 192.168.0.1 / fd00:192:168::1). */
  nodeIPv4?: string;
  nodeIPv6?: string;
}

export interface NodeInfo {
  ns: string;
  ipv4: string;
  ipv6?: string;
  /** Gateway addresses of the pods (present on every pod-side veth in the node). */
  podGatewayIPv4: string;
  podGatewayIPv6: string;
  /** Name of the dummy interface that carries the service CIDR routes. */
  serviceInterface: string;
}

export interface LeafInfo {
  name: string;
  ns: string;
  ipv4: string;
  ipv6?: string;
  /** The leaf's veth in the node namespace (≤ 15 chars). */
  nodeInterface: string;
  /** The leaf's own interface. */
  interface: 'eth0';
}

export interface PodInfo extends LeafInfo {
  echo?: EchoServer;
}

export type ClientInfo = LeafInfo;

export interface Topology {
  node: NodeInfo;
  pods: PodInfo[];
  clients: ClientInfo[];
  pod(name: string): PodInfo;
  client(name: string): ClientInfo;
  /** Attach another pod to the running topology. */
  addPod(spec: string | PodSpec): Promise<PodInfo>;
  /** Attach another client to the running topology. */
  addClient(spec: string | ClientSpec): Promise<ClientInfo>;
  /** Kill servers and delete every namespace of the topology. Idempotent. */
  destroy(): Promise<void>;
}

export const DEFAULT_SERVICE_CIDRS = ['10.96.0.0/16', 'fd00:10:96::/112'] as const;
const POD_GW4 = '10.244.0.1';
const POD_GW6 = 'fe80::1';
const SERVICE_IF = 'svc0';

export async function createTopology(spec: TopologySpec = {}): Promise<Topology> {
  const ipv6 = spec.ipv6 ?? true;
  const nodeIPv4 = spec.nodeIPv4 ?? '192.168.0.1';
  const nodeIPv6 = ipv6 ? (spec.nodeIPv6 ?? 'fd00:192:168::1') : undefined;
  const node: NodeInfo = {
    ns: await createNamespace('node', { sysctls: nodeSysctls(spec, ipv6) }),
    ipv4: nodeIPv4,
    ...(nodeIPv6 !== undefined ? { ipv6: nodeIPv6 } : {}),
    podGatewayIPv4: POD_GW4,
    podGatewayIPv6: POD_GW6,
    serviceInterface: SERVICE_IF,
  };
  const pods: PodInfo[] = [];
  const clients: ClientInfo[] = [];
  let nextLink = 0;
  let nextPodHost = 10;
  let nextClientHost = 100;
  const owned: string[] = [node.ns];
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await Promise.all(pods.map((p) => p.echo?.stop()));
    await Promise.all(owned.map((ns) => destroyNamespace(ns)));
  };

  try {
    await setupNode(node, spec, ipv6);

    const names = new Set<string>();
    const linkNo = (l: LeafInfo): number => Number(l.nodeInterface.slice(2));
    // Everything that must be deterministic (addresses, interface names) is allocated before the
    // first await, so leaves can be attached in parallel and still come out the same every run.
    const attach = async (kind: 'pod' | 'client', s: LeafSpec): Promise<LeafInfo> => {
      const key = `${kind}/${s.name}`;
      if (names.has(key)) throw new Error(`duplicate ${kind} name ${s.name}`);
      names.add(key);
      const host = kind === 'pod' ? nextPodHost++ : nextClientHost++;
      const ipv4 = s.ipv4 ?? (kind === 'pod' ? `10.244.0.${host}` : `192.168.0.${host}`);
      const v6 =
        !ipv6 || s.ipv6 === false
          ? undefined
          : (s.ipv6 ?? (kind === 'pod' ? `fd00:10:244::${host}` : `fd00:192:168::${host}`));
      const nodeInterface = `${kind === 'pod' ? 'vp' : 'vc'}${nextLink++}`;
      const ns = await createNamespace(`${kind === 'pod' ? 'p' : 'c'}-${s.name}`, { sysctls: LEAF_SYSCTLS });
      owned.push(ns);
      const leaf: LeafInfo = {
        name: s.name,
        ns,
        ipv4,
        ...(v6 !== undefined ? { ipv6: v6 } : {}),
        nodeInterface,
        interface: 'eth0',
      };
      const gw4 = kind === 'pod' ? POD_GW4 : nodeIPv4;
      const gw6 = kind === 'pod' ? POD_GW6 : nodeIPv6;
      await attachLeaf(node, leaf, gw4, gw6);
      return leaf;
    };

    const addPod = async (s: string | PodSpec): Promise<PodInfo> => {
      const ps: PodSpec = typeof s === 'string' ? { name: s } : s;
      const pod: PodInfo = await attach('pod', ps);
      pods.push(pod);
      pods.sort((x, y) => linkNo(x) - linkNo(y));
      if (ps.serve) pod.echo = await startEchoServer(pod.ns, { name: pod.name, ...ps.serve });
      return pod;
    };
    const addClient = async (s: string | ClientSpec): Promise<ClientInfo> => {
      const cs: ClientSpec = typeof s === 'string' ? { name: s } : s;
      const client = await attach('client', cs);
      clients.push(client);
      clients.sort((x, y) => linkNo(x) - linkNo(y));
      return client;
    };

    await Promise.all([...(spec.clients ?? ['client']).map(addClient), ...(spec.pods ?? []).map(addPod)]);

    const byName = <T extends LeafInfo>(list: T[], what: string, name: string): T => {
      const found = list.find((l) => l.name === name);
      if (!found) throw new Error(`no ${what} named ${name} (have: ${list.map((l) => l.name).join(', ')})`);
      return found;
    };
    return {
      node,
      pods,
      clients,
      pod: (name) => byName(pods, 'pod', name),
      client: (name) => byName(clients, 'client', name),
      addPod,
      addClient,
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

function nodeSysctls(spec: TopologySpec, ipv6: boolean): Record<string, number> {
  return {
    'net.ipv4.ip_forward': 1,
    'net.ipv4.conf.all.forwarding': 1,
    'net.ipv4.conf.all.rp_filter': 0,
    'net.ipv4.conf.default.rp_filter': 0,
    // A hairpinned packet leaves on its arrival interface; the pod must not be told to go direct.
    'net.ipv4.conf.all.send_redirects': 0,
    'net.ipv4.conf.default.send_redirects': 0,
    'net.ipv4.conf.all.route_localnet': spec.routeLocalnet ? 1 : 0,
    'net.ipv6.conf.all.forwarding': ipv6 ? 1 : 0,
    'net.ipv6.conf.default.forwarding': ipv6 ? 1 : 0,
    'net.ipv6.conf.all.accept_dad': 0,
    'net.ipv6.conf.default.accept_dad': 0,
  };
}

// Set before the veth exists so the new interface inherits it: no tentative (DAD) addresses.
const LEAF_SYSCTLS = {
  'net.ipv6.conf.all.accept_dad': 0,
  'net.ipv6.conf.default.accept_dad': 0,
  'net.ipv4.conf.all.accept_redirects': 0,
  'net.ipv4.conf.default.accept_redirects': 0,
  'net.ipv6.conf.all.accept_redirects': 0,
  'net.ipv6.conf.default.accept_redirects': 0,
  'net.ipv4.conf.all.rp_filter': 0,
  'net.ipv4.conf.default.rp_filter': 0,
} as const;

async function setupNode(node: NodeInfo, spec: TopologySpec, ipv6: boolean): Promise<void> {
  const cidrs = [...(spec.serviceCidrs ?? DEFAULT_SERVICE_CIDRS), ...(spec.routedCidrs ?? [])].filter(
    (c) => ipv6 || !c.includes(':'),
  );
  const lines = [`ip link add ${SERVICE_IF} type ifb`, `ip link set ${SERVICE_IF} up`];
  for (const c of cidrs) lines.push(`ip ${c.includes(':') ? '-6' : '-4'} route add ${c} dev ${SERVICE_IF}`);
  for (const a of spec.nodeLocalAddresses ?? []) {
    lines.push(a.includes(':') ? `ip -6 addr add ${a}/128 dev lo nodad` : `ip -4 addr add ${a}/32 dev lo`);
  }
  await sh(node.ns, lines.join('\n'));
}

async function attachLeaf(node: NodeInfo, leaf: LeafInfo, gw4: string, gw6: string | undefined): Promise<void> {
  const nif = leaf.nodeInterface;
  // Created from the node namespace straight into the leaf: the host namespace is never involved.
  const nodeLines = [`ip link add ${nif} type veth peer name eth0 netns ${leaf.ns}`, `ip link set ${nif} up`, `ip -4 addr add ${gw4}/32 dev ${nif}`, `ip -4 route add ${leaf.ipv4}/32 dev ${nif}`];
  if (leaf.ipv6 !== undefined && gw6 !== undefined) {
    nodeLines.push(`ip -6 addr add ${gw6}/${gw6.startsWith('fe80:') ? 64 : 128} dev ${nif} nodad`);
    nodeLines.push(`ip -6 route add ${leaf.ipv6}/128 dev ${nif}`);
  }
  const leafLines = [
    'ip link set eth0 up',
    `ip -4 addr add ${leaf.ipv4}/32 dev eth0`,
    `ip -4 route add ${gw4}/32 dev eth0 scope link`,
    `ip -4 route add default via ${gw4} dev eth0 src ${leaf.ipv4}`,
  ];
  if (leaf.ipv6 !== undefined && gw6 !== undefined) {
    leafLines.push(`ip -6 addr add ${leaf.ipv6}/128 dev eth0 nodad`);
    if (!gw6.startsWith('fe80:')) leafLines.push(`ip -6 route add ${gw6}/128 dev eth0`);
    leafLines.push(`ip -6 route add default via ${gw6} dev eth0 src ${leaf.ipv6}`);
  }
  await sh(node.ns, nodeLines.join('\n'));
  await sh(leaf.ns, leafLines.join('\n'));
}
