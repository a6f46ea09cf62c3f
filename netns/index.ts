/**
 * Network namespaces and real TCP/UDP/SCTP traffic between them: the datapath tests (through the
 * thin re-exports in test/harness/) and the benchmark (bench/) both stand on this module.
 *
 * ## Typical use
 * ```ts
 * import { createTopology, nftLoad, tcpRequest, sampleEndpoints } from '../../netns/index.js';
 *
 * const topo = await createTopology({
 *   pods: [
 *     { name: 'a', serve: { tcp: [8080], udp: [8080] } },   // 10.244.0.10, fd00:10:244::10
 *     { name: 'b', serve: { tcp: [8080], udp: [8080] } },   // 10.244.0.11, fd00:10:244::11
 *   ],
 *   // clients default to one: 'client' at 192.168.0.100 / fd00:192:168::100, default route via the node
 * });
 * try {
 *   await nftLoad(topo.node.ns, compiledJson, { format: 'json' });        // rules go into the NODE ns
 *   const r = await tcpRequest(topo.client('client').ns, '10.96.0.1', 80, { timeoutMs: 500 });
 *   if (r.ok) r.reply?.pod;            // 'a' | 'b' — which endpoint answered
 *   if (r.ok) r.reply?.peer;           // source the pod saw: client IP, or node IP if masqueraded
 *   if (!r.ok) r.error;                // 'refused' | 'timeout' | 'unreachable' | 'blocked' | ...
 *   const s = await sampleEndpoints(topo.pod('a').ns, '10.96.0.1', 80, 'tcp', 50);  // hairpin too
 *   s.histogram;                       // { a: 27, b: 23 }
 * } finally {
 *   await topo.destroy();              // also done on process exit; stale namespaces of dead runs
 * }                                    // are removed when the next run creates its first namespace
 * ```
 *
 * ## Layout (see topology.ts)
 * - node ns: forwarding on (v4+v6), rp_filter off, redirects off, `svc0` dummy with routes for the
 *   service CIDRs (10.96.0.0/16, fd00:10:96::/112 + `routedCidrs`) so clusterIPs are routable even
 *   from the node itself (traffic that no rule DNATs is silently eaten: a timeout);
 *   `nodeLocalAddresses` go on its loopback; `routeLocalnet` enables route_localnet.
 * - pods: veth `eth0` ↔ node `vpN`; pod /32 + /128, gateway 10.244.0.1 / fe80::1 (present on every
 *   `vpN`), node host routes per pod. Hairpin = out of the interface it came in on.
 * - clients: veth `eth0` ↔ node `vcN`; node address 192.168.0.1 / fd00:192:168::1 on every `vcN`;
 *   client default route via the node, so clusterIPs, NodePorts, externalIPs and LB IPs all reach it.
 * - Everything is routed, no bridge; IPv6 has DAD off so addresses work at once.
 *
 * ## API
 * - netns.ts: `createNamespace(role, {sysctls})`, `destroyNamespace(ns)`, `cleanupAll()`,
 *   `exec(ns, argv, {input, check, timeoutMs})`, `sh(ns, script)`, `sysctl(ns, {...})`, `spawnIn(ns, argv)`,
 *   `nftLoad(ns, jsonOrText, {format})` (always via a temp file), `nftList(ns, {format})`,
 *   `iptablesRestore(ns, text, {ipv6, backend: 'nft'|'legacy', noflush})`, `iptablesSave(ns, …)`,
 *   `conntrackFlush(ns)`, `conntrackList(ns, filterArgs)`, `listOurNamespaces()`, `removeStaleNamespaces()`.
 *   Names are `nfp-<pid>-<n>-<role>`; commands are refused for any namespace not named like that.
 * - topology.ts: `createTopology(spec) → Topology { node, pods, clients, pod(name), client(name),
 *   addPod(spec), addClient(spec), destroy() }`.
 * - echo-server.ts: `startEchoServer(ns, {name, tcp, udp, sctp}) → {stop()}`; every reply is one JSON
 *   line `EchoReply {pod, proto, local, localPort, peer, peerPort, req}`. `sctpSupported(ns)`.
 * - client.ts: `tcpRequest/udpRequest/sctpRequest(ns, host, port, {timeoutMs, payload})`,
 *   `request(ns, spec)`, `requestBatch(ns, specs, {concurrency})`,
 *   `sampleEndpoints(ns, host, port, proto, n)` → `{histogram, pods, peers, failures, results}`.
 *   TCP/UDP run in one long-lived helper per namespace (started on first use, ~1 ms per request);
 *   each request is a new socket with a fresh source port (a new conntrack entry). Default timeout 1 s.
 *   Error kinds: refused (RST / ICMP port-unreachable / reject), unreachable (ICMP host/net/admin),
 *   timeout (dropped), blocked (EPERM from the local output path), reset, closed, unsupported.
 * - Conntrack: a test that changes rules between requests should `conntrackFlush(node.ns)` — old
 *   entries keep steering established flows (and UDP "flows") the old way.
 *
 * Needs root, `ip` (iproute2), `nft`, `node`; `python3` for SCTP (kernel SCTP support is
 * probed: on kernels without it `sctpSupported()` is false and SCTP tests should skip).
 */
export * from './netns.js';
export * from './topology.js';
export * from './echo-server.js';
export * from './client.js';
