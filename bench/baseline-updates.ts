// What each baseline sends for one endpoint change, computed in O(changed service) instead of
// re-rendering the whole cluster twice per change (13 s per change for iptables at 10k):
// - iptables: kube-proxy's partial restore = every top-level chain rewritten (KUBE-SERVICES has a
//   line per service) + the changed service's chains + `-X` of stale ones. We render the partial
//   for the changed service alone and splice in the full KUBE-SERVICES list of the whole cluster.
// - kube-proxy-nftables: the delta between the one-service rulesets; the static part is equal on
//   both sides and the per-service objects do not depend on other services.
// `verifyBaselineUpdates` checks both shortcuts against the real whole-cluster functions.

import { compileIptables, compileIptablesPartial, type IptablesOptions } from '../compiler/iptables/restore.js';
import { buildModel } from '../compiler/model/build.js';
import { compileKubeProxyNft } from '../compiler/kubeproxy-nft/compile.js';
import type { CompileOptions, ServicePort } from '../compiler/model/types.js';
import { transactionToJson } from '../compiler/nft/json.js';
import { diffRulesets } from '../ir/diff.js';
import type { Transaction } from '../ir/transaction.js';
import { generateCluster } from './generate.js';
import { ClusterState, type Change, type ScenarioSpec } from './scenario.js';

const CLUSTER_IP_COMMENT = /^-A KUBE-SERVICES -m comment --comment "(.*) cluster IP" /;

/** `-A KUBE-SERVICES` cluster-IP lines of a full restore, in order, keyed by service port id. */
export function kubeServicesLines(fullRestore: string): { id: string; line: string }[] {
  const out: { id: string; line: string }[] = [];
  for (const line of fullRestore.split('\n')) {
    const m = CLUSTER_IP_COMMENT.exec(line);
    if (m) out.push({ id: m[1] as string, line });
  }
  return out;
}

/** kube-proxy's largeClusterEndpointsThreshold: above it, service and endpoint chains carry no comments. */
export const LARGE_CLUSTER_ENDPOINTS = 1000;

/**
 * A service that only pushes a one-service render over the large-cluster threshold, so that it
 * is written in the same mode as the whole cluster. It never changes, so its chains are not in
 * the partial; its KUBE-SERVICES line is dropped by the splice.
 */
function largeClusterFiller(opts: CompileOptions): ServicePort[] {
  const objects = generateCluster({ services: 1, endpointsPerService: LARGE_CLUSTER_ENDPOINTS + 1 }).map((o) => {
    const meta = o.metadata as Record<string, unknown>;
    return { ...o, metadata: { ...meta, namespace: 'bench-large-cluster-filler' } };
  });
  return buildModel(objects, opts).servicePorts;
}

export class IptablesPartials {
  /** Service port id → its KUBE-SERVICES line; order = the cluster's order. */
  private readonly lines: { id: string; line: string }[];
  private readonly filler: ServicePort[];

  constructor(fullRestore: string, private readonly opts: IptablesOptions, totalEndpoints: number) {
    this.lines = kubeServicesLines(fullRestore);
    if (this.lines.length === 0) throw new Error('no KUBE-SERVICES cluster IP lines in the full iptables restore');
    this.filler = totalEndpoints > LARGE_CLUSTER_ENDPOINTS ? largeClusterFiller(opts) : [];
  }

  /** The partial restore kube-proxy sends when `before` (one service's ports) becomes `after`. */
  partial(before: ServicePort[], after: ServicePort[]): string {
    const small = compileIptablesPartial([...before, ...this.filler], [...after, ...this.filler], this.opts)
      .split('\n')
      .filter((l) => !l.includes('bench-large-cluster-filler/'));
    const changed = new Set(after.map((sp) => sp.id));
    const isSvcLine = (l: string): string | undefined => CLUSTER_IP_COMMENT.exec(l)?.[1];
    const first = small.findIndex((l) => isSvcLine(l) !== undefined);
    if (first < 0) throw new Error(`partial restore for ${[...changed].join(',')} has no KUBE-SERVICES line`);
    // The changed service's block runs from its KUBE-SERVICES line to the first -X or the
    // nodeports jump (the lines kube-proxy writes after all services).
    let end = first + 1;
    while (end < small.length && !/^-X |^-A KUBE-SERVICES /.test(small[end] as string)) end++;
    const block = small.slice(first, end);
    const out = small.slice(0, first);
    for (const { id, line } of this.lines) {
      if (!changed.has(id)) out.push(line);
      else if (id === after[0]?.id) out.push(...block);
    }
    out.push(...small.slice(end));
    return out.join('\n');
  }
}

export function totalEndpoints(sps: readonly ServicePort[]): number {
  return sps.reduce((n, sp) => n + sp.endpoints.length, 0);
}

/** kube-proxy-nftables' transaction for a change of one service. */
export function kubeProxyNftDelta(before: ServicePort[], after: ServicePort[], opts: CompileOptions): Transaction {
  return diffRulesets(compileKubeProxyNft(before, { ...opts, families: [4] }), compileKubeProxyNft(after, { ...opts, families: [4] }));
}

/**
 * Checks both shortcuts against the whole-cluster functions on a cluster of `spec` (keep it
 * small): throws naming the first change whose artefact differs.
 */
export function verifyBaselineUpdates(spec: ScenarioSpec, changes: Change[], opts: CompileOptions): void {
  const state = new ClusterState(spec, opts);
  const iptOpts: IptablesOptions = { ...opts };
  for (const change of changes) {
    const whole = state.model.servicePorts;
    const partials = new IptablesPartials(compileIptables(whole, iptOpts), iptOpts, totalEndpoints(whole));
    const kpBefore = compileKubeProxyNft(whole, { ...opts, families: [4] });
    const { before, after } = state.apply(change);
    const real = compileIptablesPartial(whole, state.model.servicePorts, iptOpts);
    const spliced = partials.partial(before, after);
    if (real !== spliced) throw new Error(`iptables partial shortcut differs from compileIptablesPartial for change ${JSON.stringify(change)}`);
    const kpReal = JSON.stringify(transactionToJson(diffRulesets(kpBefore, compileKubeProxyNft(state.model.servicePorts, { ...opts, families: [4] }))));
    const kpLocal = JSON.stringify(transactionToJson(kubeProxyNftDelta(before, after, opts)));
    if (kpReal !== kpLocal) throw new Error(`kube-proxy-nftables delta shortcut differs from the whole-cluster diff for change ${JSON.stringify(change)}`);
  }
}
