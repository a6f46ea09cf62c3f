// ServiceCIDR objects (networking.k8s.io/v1, cluster-scoped) → the service CIDRs the datapath
// drops unallocated addresses of, together with --service-cidr (kube-proxy's cluster-ips-check).

import { normalizeCidr } from '../../ir/ip.js';
import type { KubeObjectLike } from './store.js';

/** The union of spec.cidrs of every ServiceCIDR and the flag's CIDRs, normalised, sorted. Invalid entries are skipped. */
export function serviceCIDRsFrom(objects: readonly KubeObjectLike[], fromFlags: readonly string[] = []): string[] {
  const out = new Set(fromFlags);
  for (const o of objects) {
    const cidrs = (o as { spec?: { cidrs?: unknown } }).spec?.cidrs;
    if (!Array.isArray(cidrs)) continue;
    for (const c of cidrs) {
      const n = typeof c === 'string' ? normalizeCidr(c) : undefined;
      if (n !== undefined) out.add(n);
    }
  }
  return [...out].sort();
}
