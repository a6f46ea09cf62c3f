// The values of kube-proxy's flags and KubeProxyConfiguration fields, parsed in one place for the
// flags of every command and for the configuration file: CIDR lists, node port addresses,
// host:port, Go durations, table names, the detect-local mode.
//
// List flags follow kube-proxy's pflag string slices: `--cluster-cidr a,b` and
// `--cluster-cidr a --cluster-cidr b` mean the same (commander collects repeats, we split commas).

import { z } from 'zod';
import { normalizeCidr, normalizeIp } from '../../ir/ip.js';
import type { DetectLocalMode } from '../../compiler/model/types.js';

/** host:port, with IPv6 as [addr]:port; an empty host means every address. The one parser of it. */
export function parseHostPort(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.Duration text ("1s", "1h0m0s", "1.5m", "300ms") → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  return pos === s.length && pos > 0 ? total : undefined;
}

/** A repeated and/or comma-separated list → its items, trimmed, empty ones dropped. */
export function splitList(v: string | readonly string[]): string[] {
  return (typeof v === 'string' ? [v] : v).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
}

const listInput = z.union([z.string(), z.array(z.string())]);

export const duration = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "1s", "500ms" or "1h0m0s", got "${v}"` });
    return z.NEVER;
  }
  return ms;
});

export const hostPort = z.string().refine((v) => v === '' || parseHostPort(v) !== undefined, {
  message: 'expected host:port, e.g. 0.0.0.0:10256 or [::]:10256 (empty disables)',
});

export const cidrList = listInput.transform((v, ctx) => {
  const out: string[] = [];
  for (const part of splitList(v)) {
    const n = normalizeCidr(part);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected CIDRs like 10.244.0.0/16 or fd00::/64 (comma-separated or repeated), got "${part}"` });
      return z.NEVER;
    }
    out.push(n);
  }
  return out;
});

export const ipList = listInput.transform((v, ctx) => {
  const out: string[] = [];
  for (const part of splitList(v)) {
    const n = normalizeIp(part);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected IP addresses, got "${part}"` });
      return z.NEVER;
    }
    out.push(n);
  }
  return out;
});

/**
 * kube-proxy's nodePortAddresses: CIDRs and the keywords `primary` (the Node's primary IP of each
 * family, kept as the token for the compiler) and `all` (0.0.0.0/0 and ::/0). `localhost` asks for
 * NodePorts on loopback, which nftables mode serves only behind a feature gate; we never do.
 */
export const nodePortAddressList = listInput.transform((v, ctx) => {
  const out: string[] = [];
  for (const part of splitList(v)) {
    if (part === 'primary') out.push('primary');
    else if (part === 'all') out.push('0.0.0.0/0', '::/0');
    else if (part === 'localhost') {
      ctx.addIssue({ code: 'custom', message: '"localhost" is not supported: nftproxy never accepts NodePorts on loopback (kube-proxy\'s nftables mode only behind the KubeProxyNFTablesLocalhostNodePorts feature gate)' });
      return z.NEVER;
    } else {
      const n = normalizeCidr(part);
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected CIDRs or the keywords primary or all, got "${part}"` });
        return z.NEVER;
      }
      out.push(n);
    }
  }
  return [...new Set(out)];
});

export const TABLE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
export const tableName = z.string().regex(TABLE_NAME_RE, { error: 'expected a name of letters, digits, _ and - (max 64)' });

export const masqueradeBit = z.coerce.number({ error: 'expected a bit number 0..31' }).int({ error: 'expected a bit number 0..31' }).min(0, { error: 'expected a bit number 0..31' }).max(31, { error: 'expected a bit number 0..31' });

export const DETECT_LOCAL_MODES: readonly DetectLocalMode[] = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'];

/** kube-proxy's LocalMode; "" means the default, ClusterCIDR. */
export const detectLocalMode = z
  .string()
  .transform((v, ctx): DetectLocalMode => {
    if (v === '') return 'ClusterCIDR';
    if ((DETECT_LOCAL_MODES as readonly string[]).includes(v)) return v as DetectLocalMode;
    ctx.addIssue({ code: 'custom', message: `unsupported detect-local mode "${v}": expected ${DETECT_LOCAL_MODES.join(', ')}` });
    return z.NEVER;
  });

/** A Linux interface name (IFNAMSIZ 16, including the NUL). */
export const interfaceName = z.string().regex(/^[^\s/:]{1,15}$/, { error: 'expected an interface name (1-15 characters, no spaces, / or :)' });
