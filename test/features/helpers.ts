// Shared steps of the feature tests (issue #3): compile a cluster, load it into the node namespace,
// and ask `trace` (the IR interpreter) what it predicts for one new connection, in pod names, so
// every traffic check can compare the prediction with the pods real packets reached.

import { expect } from 'vitest';
import { compileObjects } from '../../compiler/index.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { rulesetToJson, transactionToJson } from '../../compiler/nft/json.js';
import { diffRulesets } from '../../ir/diff.js';
import { predictedEndpoints, traceConnection, verdictProbabilities, type Outcome, type TraceVerdict } from '../../ir/interpret.js';
import type { Ruleset } from '../../ir/types.js';
import { conntrackFlush, exec, nftLoad, type EndpointSample, type Proto, type Topology } from '../harness/index.js';
import { objectsFor, type ServiceSpec } from '../datapath/cluster.js';

export const CLUSTER_CIDRS = ['10.244.0.0/16', 'fd00:10:244::/64'];
/** The node's addresses as the harness builds it: client side, pod gateway. */
export const NODE_V4 = '192.168.0.1';
export const NODE_V6 = 'fd00:192:168::1';
/** What a pod sees as the source of a masqueraded connection: the node's address towards pods. */
export const MASQ_V4 = '10.244.0.1';

export const baseOptions: CompileOptions = {
  ...defaultCompileOptions,
  clusterCIDRs: CLUSTER_CIDRS,
  nodeName: 'node-a',
  nodeIPs: [NODE_V4, NODE_V6],
};

export interface NodeSpec {
  name: string;
  ip: string;
  zone?: string;
}

export interface Loaded {
  ruleset: Ruleset;
  /** Options the ruleset was compiled with. */
  opts: CompileOptions;
}

/**
 * Compiles the services (no problems allowed), loads the transaction into the node namespace and
 * forgets every connection made under the previous rules.
 */
export async function loadCluster(
  topo: Topology,
  services: ServiceSpec[],
  opts: CompileOptions = baseOptions,
  nodes: NodeSpec[] = [{ name: 'node-a', ip: NODE_V4 }],
): Promise<Loaded> {
  const ruleset = compileCluster(services, opts, nodes);
  await nftLoad(topo.node.ns, JSON.stringify(rulesetToJson(ruleset)), { format: 'json' });
  await conntrackFlush(topo.node.ns);
  return { ruleset, opts };
}

/** Compiles the services; the model must have no problems. */
export function compileCluster(services: ServiceSpec[], opts: CompileOptions = baseOptions, nodes: NodeSpec[] = [{ name: 'node-a', ip: NODE_V4 }]): Ruleset {
  const compiled = compileObjects(objectsFor(services, nodes), opts);
  expect(compiled.model.problems).toEqual([]);
  return compiled.ruleset;
}

/**
 * Moves the kernel from `before` to `after` with the minimal transaction, as the daemon's partial
 * sync does (dynamic state such as affinity sets that both keep stays in the kernel), then forgets
 * connections made under the old rules.
 */
export async function applyDelta(topo: Topology, before: Ruleset, after: Ruleset): Promise<void> {
  const tx = diffRulesets(before, after);
  await nftLoad(topo.node.ns, JSON.stringify(transactionToJson(tx)), { format: 'json' });
  await conntrackFlush(topo.node.ns);
}

/** The keys of a kernel set in the node namespace (`nft -j list set`), as text. */
export async function kernelSetKeys(topo: Topology, family: 'ip' | 'ip6', table: string, set: string): Promise<string[]> {
  const r = await exec(topo.node.ns, ['nft', '-j', 'list', 'set', family, table, set]);
  const root = JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] };
  const elems = root.nftables.find((x) => x.set)?.set?.elem ?? [];
  return elems.map((e) => {
    const v = typeof e === 'object' && e !== null && 'elem' in e ? (e as { elem: { val: unknown } }).elem.val : e;
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

/** Address → pod name, for every pod of the topology (both families). */
export function podNames(topo: Topology): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of topo.pods) {
    m.set(p.ipv4, p.name);
    if (p.ipv6) m.set(p.ipv6, p.name);
  }
  return m;
}

export interface Prediction {
  /** Pod names (or "addr:port" for destinations that are not pods) accepted outcomes reach, sorted. */
  pods: string[];
  verdicts: Record<TraceVerdict, number>;
  outcomes: Outcome[];
}

export interface PredictOptions {
  /** The packet is sent by the node itself (output hook). */
  fromNode?: boolean;
  /** Local addresses of the node beyond the harness defaults (e.g. `nodeLocalAddresses`). */
  extraLocal?: string[];
}

/** What trace predicts for the first packet of a new connection src → dst:dport/proto. */
export function predict(
  topo: Topology,
  ruleset: Ruleset,
  src: string,
  dst: string,
  dport: number,
  proto: Proto,
  o: PredictOptions = {},
): Prediction {
  const names = podNames(topo);
  const outcomes = traceConnection(
    ruleset,
    { family: dst.includes(':') ? 'ip6' : 'ip', src, dst, proto, dport },
    {
      localAddresses: [NODE_V4, MASQ_V4, NODE_V6, ...(o.extraLocal ?? [])],
      sourceIsLocal: o.fromNode ?? false,
    },
  );
  const pods = [...predictedEndpoints(outcomes).keys()]
    .map((k) => names.get(k.replace(/^\[?(.*?)\]?:\d+$/, '$1')) ?? k)
    .sort();
  return { pods, verdicts: verdictProbabilities(outcomes), outcomes };
}

/** A sample where every request was answered by one of the pods. */
export function expectAllAnswered(s: EndpointSample): void {
  expect(s.failures).toEqual({});
  expect(s.results.every((r) => r.ok && r.reply !== undefined)).toBe(true);
}

/** Every request of the sample failed with `error`. */
export function expectAllFailed(s: EndpointSample, error: string): void {
  expect(s.pods).toEqual([]);
  expect(s.failures).toEqual({ [error]: s.results.length });
}

/** The source address the node's own stack picks for `dst` (`ip route get`), for tracing node traffic. */
export async function nodeSource(topo: Topology, dst: string): Promise<string> {
  const r = await exec(topo.node.ns, ['ip', dst.includes(':') ? '-6' : '-4', 'route', 'get', dst]);
  const m = /\bsrc (\S+)/.exec(r.stdout);
  if (!m?.[1]) throw new Error(`no source address for ${dst}: ${r.stdout}`);
  return m[1];
}

export type { ServiceSpec };
