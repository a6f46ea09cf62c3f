// Chain names exactly as kube-proxy derives them (pkg/proxy/iptables and pkg/proxy/nftables):
// base32 (RFC 4648 alphabet, as Go's base32.StdEncoding) of sha256 over a fixed string, truncated.
// The hashed strings must match byte for byte, or our chains would not line up with a real
// node's `iptables-save` output.

import { createHash } from 'node:crypto';
import type { Endpoint, ServicePort } from '../model/types.js';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function sha256Base32(input: string): string {
  return base32(createHash('sha256').update(input, 'utf8').digest());
}

/**
 * kube-proxy's ServicePortName.String(): `ns/name:port`, and just `ns/name` when the port is
 * unnamed (Go's fmtPortName drops the colon for an empty name).
 */
export function servicePortName(sp: Pick<ServicePort, 'namespace' | 'name' | 'portName'>): string {
  const base = `${sp.namespace}/${sp.name}`;
  return sp.portName === '' ? base : `${base}:${sp.portName}`;
}

/** Endpoint.String() in kube-proxy: net.JoinHostPort, so IPv6 addresses are bracketed. */
export function endpointString(ep: Pick<Endpoint, 'ip' | 'port'>): string {
  return ep.ip.includes(':') ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`;
}

export type ServiceChainPrefix = 'KUBE-SVC-' | 'KUBE-SVL-' | 'KUBE-EXT-' | 'KUBE-FW-';

/** portProtoHash: first 16 base32 chars of sha256(servicePortName + protocol). */
export function iptablesServiceChain(prefix: ServiceChainPrefix, sp: ServicePort): string {
  return prefix + sha256Base32(servicePortName(sp) + sp.protocol).slice(0, 16);
}

/** servicePortEndpointChainName: sha256(servicePortName + protocol + "ip:port"). */
export function iptablesEndpointChain(sp: ServicePort, ep: Pick<Endpoint, 'ip' | 'port'>): string {
  return 'KUBE-SEP-' + sha256Base32(servicePortName(sp) + sp.protocol + endpointString(ep)).slice(0, 16);
}

export const IPTABLES_SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-SEP-', 'KUBE-FW-', 'KUBE-EXT-'] as const;

export function isIptablesServiceChain(name: string): boolean {
  return IPTABLES_SERVICE_CHAIN_PREFIXES.some((p) => name.startsWith(p));
}
