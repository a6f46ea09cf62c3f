// Chain and set names of kube-proxy's nftables mode (pkg/proxy/nftables/proxier.go):
// hashAndTruncate = first 8 base32 chars of sha256(name) + "-" + name, capped at 240 chars.

import type { Endpoint, ServicePort } from '../model/types.js';
import { sha256Base32 } from '../iptables/names.js';

const CHAIN_NAME_BASE_LENGTH_MAX = 256 - 16;

export function hashAndTruncate(name: string): string {
  let out = `${sha256Base32(name).slice(0, 8)}-${name}`;
  if (out.length > CHAIN_NAME_BASE_LENGTH_MAX) out = out.slice(0, CHAIN_NAME_BASE_LENGTH_MAX - 3) + '...';
  return out;
}

/** `HASH-ns/name/proto/portName`, e.g. `ULMVA6XW-ns1/svc1/tcp/p80`. */
export function servicePortChainNameBase(sp: Pick<ServicePort, 'namespace' | 'name' | 'protocol' | 'portName'>): string {
  return hashAndTruncate(`${sp.namespace}/${sp.name}/${sp.protocol}/${sp.portName}`);
}

/** `HASH-ns/name/proto/portName__IP/port`; colons of IPv6 addresses become dots. */
export function servicePortEndpointChainNameBase(
  sp: Pick<ServicePort, 'namespace' | 'name' | 'protocol' | 'portName'>,
  ep: Pick<Endpoint, 'ip' | 'port'>,
): string {
  const ip = ep.ip.replaceAll(':', '.');
  return hashAndTruncate(`${sp.namespace}/${sp.name}/${sp.protocol}/${sp.portName}__${ip}/${ep.port}`);
}

export const kubeProxyNftChain = {
  service: (sp: ServicePort): string => 'service-' + servicePortChainNameBase(sp),
  local: (sp: ServicePort): string => 'local-' + servicePortChainNameBase(sp),
  external: (sp: ServicePort): string => 'external-' + servicePortChainNameBase(sp),
  firewall: (sp: ServicePort): string => 'firewall-' + servicePortChainNameBase(sp),
  endpoint: (sp: ServicePort, ep: Pick<Endpoint, 'ip' | 'port'>): string => 'endpoint-' + servicePortEndpointChainNameBase(sp, ep),
  affinity: (sp: ServicePort, ep: Pick<Endpoint, 'ip' | 'port'>): string => 'affinity-' + servicePortEndpointChainNameBase(sp, ep),
};
