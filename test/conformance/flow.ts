// Runs one packet-flow case through `trace` (ir/interpret.ts) and renders the result in the
// notation of the case table (kube-proxy's runPacketFlowTests): "a:8080, b:8080", "REJECT",
// "DROP" or "" (accepted, no DNAT), plus whether the accepted outcomes are masqueraded.

import { traceConnection, type Outcome } from '../../ir/interpret.js';
import type { Ruleset } from '../../ir/types.js';
import { LEAVES, NODE_EXTERNAL_V4, NODE_V4, NODE_V6, POD_GATEWAY_V4, type FlowCase } from './cluster.js';

/** The node's local addresses as the harness builds it (the pod gateway included). */
export const LOCAL_ADDRESSES = [NODE_V4, NODE_V6, NODE_EXTERNAL_V4, POD_GATEWAY_V4];

const podOf = new Map<string, string>(Object.entries(LEAVES).flatMap(([name, l]) => [[l.v4, name], [l.v6, name]]));

export function sourceOf(c: FlowCase): { src: string; iifname?: string } {
  const v6 = c.dst.includes(':');
  if (c.from === 'node') return { src: v6 ? NODE_V6 : NODE_V4 };
  const l = LEAVES[c.from];
  return { src: v6 ? l.v6 : l.v4, iifname: l.iif };
}

export interface FlowResult {
  output: string;
  masq: boolean;
  outcomes: Outcome[];
}

export function runFlow(ruleset: Ruleset, c: FlowCase): FlowResult {
  const { src, iifname } = sourceOf(c);
  const outcomes = traceConnection(
    ruleset,
    { family: c.dst.includes(':') ? 'ip6' : 'ip', src, dst: c.dst, proto: c.proto ?? 'tcp', dport: c.port, ...(iifname ? { iifname } : {}) },
    { localAddresses: LOCAL_ADDRESSES, sourceIsLocal: c.from === 'node' },
  );
  const verdicts = new Set(outcomes.map((o) => o.verdict));
  if (verdicts.size !== 1) throw new Error(`${c.name}: mixed verdicts ${[...verdicts].join(', ')}`);
  const v = outcomes[0]?.verdict;
  if (v === 'reject') return { output: 'REJECT', masq: false, outcomes };
  if (v === 'drop') return { output: 'DROP', masq: false, outcomes };
  const masqs = new Set(outcomes.map((o) => o.masquerade));
  if (masqs.size !== 1) throw new Error(`${c.name}: masquerade differs between endpoints`);
  const masq = outcomes[0]?.masquerade === true;
  if (outcomes.every((o) => o.dnat === undefined)) return { output: '', masq, outcomes };
  const eps = outcomes.map((o) => `${podOf.get(o.dst.addr) ?? o.dst.addr}:${o.dst.port}`);
  return { output: [...new Set(eps)].sort().join(', '), masq, outcomes };
}

/** The pod names of an output string ("a:8080, b:8080" → ["a", "b"]). */
export const podsOf = (output: string): string[] => [...new Set(output.split(', ').map((e) => e.split(':')[0] as string))].sort();
