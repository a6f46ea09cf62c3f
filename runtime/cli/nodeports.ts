// --nodeport-addresses `primary` (the default, as in kube-proxy's nftables mode) for commands that
// compile a cluster dump: the primary IPs come from the Node object in the dump. Without one, a
// family without a CIDR accepts NodePorts on all its addresses (kube-proxy's rule), so the
// compiled ruleset accepts them on every local address: we say so on stderr.

import type { ClusterModel, CompileOptions } from '../../compiler/model/types.js';

export function primaryFallbackWarning(model: ClusterModel, opts: CompileOptions): string | undefined {
  if (!opts.nodePortAddresses.includes('primary') || model.node.addresses.length > 0) return undefined;
  if (!model.servicePorts.some((sp) => sp.nodePort !== undefined)) return undefined; // nothing to say without NodePorts
  const why = opts.nodeName ? `no Node object named ${opts.nodeName} (with addresses) in the input` : 'no --hostname-override/--node-name, so no Node object';
  return `warning: --nodeport-addresses primary: ${why}; NodePorts are accepted on every local address (give --nodeport-addresses CIDRs, or include the Node)`;
}

/** `primary` → the node's primary IP of each family as a host CIDR, for the baseline compilers that take CIDRs only. */
export function expandPrimary(opts: CompileOptions, model: ClusterModel): CompileOptions {
  if (!opts.nodePortAddresses.includes('primary')) return opts;
  const v4 = model.node.addresses.find((a) => !a.includes(':'));
  const v6 = model.node.addresses.find((a) => a.includes(':'));
  const primary = [...(v4 ? [`${v4}/32`] : []), ...(v6 ? [`${v6}/128`] : [])];
  return { ...opts, nodePortAddresses: [...new Set(opts.nodePortAddresses.flatMap((c) => (c === 'primary' ? primary : [c])))] };
}

export function reportNodePortFallback(model: ClusterModel, opts: CompileOptions, stderr: NodeJS.WritableStream = process.stderr): void {
  const w = primaryFallbackWarning(model, opts);
  if (w) stderr.write(w + '\n');
}
