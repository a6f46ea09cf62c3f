// The daemon's configuration as kube-proxy users write it: a KubeProxyConfiguration file
// (kubeproxy.config.k8s.io/v1alpha1) and/or kube-proxy's flags; flags override the file.
// Everything is validated here, once, with messages that name the field and what was expected.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { normalizeCidr } from '../../ir/ip.js';

export type ApplierChoice = 'auto' | 'cli' | 'lib';

export interface DaemonConfig {
  kubeconfig?: string;
  master?: string;
  nodeName: string;
  compile: CompileOptions;
  /** host:port, or '' to disable. */
  healthzBindAddress: string;
  metricsBindAddress: string;
  minSyncPeriodMs: number;
  syncPeriodMs: number;
  applier: ApplierChoice;
}

/** Flags as commander hands them over; undefined = not given (the file or the default applies). */
export interface RunFlags {
  config?: string;
  kubeconfig?: string;
  master?: string;
  hostnameOverride?: string;
  clusterCidr?: string;
  nodeportAddresses?: string[];
  masqueradeAll?: boolean;
  healthzBindAddress?: string;
  metricsBindAddress?: string;
  applier?: string;
  table?: string;
  minSyncPeriod?: string;
  syncPeriod?: string;
  masqueradeBit?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
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

const duration = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "1s", "500ms" or "1h0m0s", got "${v}"` });
    return z.NEVER;
  }
  return ms;
});

const hostPort = z.string().refine((v) => v === '' || parseHostPort(v) !== undefined, {
  message: 'expected host:port, e.g. 0.0.0.0:10256 or [::]:10256 (empty disables)',
});

const cidrList = z.string().transform((v, ctx) => {
  const out: string[] = [];
  for (const part of v.split(',').map((x) => x.trim()).filter(Boolean)) {
    const n = normalizeCidr(part);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected comma-separated CIDRs, got "${part}"` });
      return z.NEVER;
    }
    out.push(n);
  }
  return out;
});

export const kubeProxyConfigurationSchema = z.looseObject({
  apiVersion: z.literal('kubeproxy.config.k8s.io/v1alpha1', { error: 'expected apiVersion kubeproxy.config.k8s.io/v1alpha1' }),
  kind: z.literal('KubeProxyConfiguration', { error: 'expected kind KubeProxyConfiguration' }),
  mode: z.enum(['', 'nftables'], { error: 'nftproxy implements mode "nftables" only' }).optional(),
  clientConnection: z.looseObject({ kubeconfig: z.string().optional() }).optional(),
  hostnameOverride: z.string().optional(),
  clusterCIDR: cidrList.optional(),
  nodePortAddresses: z.array(z.string()).optional().transform((v, ctx) => {
    if (v === undefined) return undefined;
    const out: string[] = [];
    for (const [i, s] of v.entries()) {
      if (s === 'primary') continue; // kube-proxy's default: the node's primary IPs
      const n = normalizeCidr(s);
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', path: [i], message: `expected a CIDR or "primary", got "${s}"` });
        return z.NEVER;
      }
      out.push(n);
    }
    return out;
  }),
  masqueradeAll: z.boolean().optional(),
  healthzBindAddress: hostPort.optional(),
  metricsBindAddress: hostPort.optional(),
  nftables: z
    .looseObject({
      masqueradeBit: z.number().int().min(0).max(31, { error: 'expected a bit number 0..31' }).optional(),
      minSyncPeriod: duration.optional(),
      syncPeriod: duration.optional(),
    })
    .optional(),
});

export type KubeProxyConfigurationFile = z.infer<typeof kubeProxyConfigurationSchema>;

function issuesText(error: z.ZodError, source: string): string {
  return error.issues.map((i) => `${source}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('\n');
}

export function parseConfigFile(text: string, source = 'config'): KubeProxyConfigurationFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  const r = kubeProxyConfigurationSchema.safeParse(doc ?? {});
  if (!r.success) throw new ConfigError(issuesText(r.error, source));
  return r.data;
}

export function parseHostPort(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

const flagsSchema = z.object({
  hostnameOverride: z.string().min(1, { error: 'expected a node name' }).optional(),
  clusterCidr: cidrList.optional(),
  nodeportAddresses: z.array(z.string()).optional().transform((v, ctx) => {
    if (v === undefined) return undefined;
    const out: string[] = [];
    for (const s of v.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean)) {
      if (s === 'primary') continue;
      const n = normalizeCidr(s);
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected CIDRs, got "${s}"` });
        return z.NEVER;
      }
      out.push(n);
    }
    return out;
  }),
  healthzBindAddress: hostPort.optional(),
  metricsBindAddress: hostPort.optional(),
  applier: z.enum(['auto', 'cli', 'lib'], { error: 'expected auto, cli or lib' }).optional(),
  table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, { error: 'expected letters, digits, _ and - (max 64)' }).optional(),
  minSyncPeriod: duration.optional(),
  syncPeriod: duration.optional(),
  masqueradeBit: z.coerce.number().int().min(0).max(31, { error: 'expected a bit number 0..31' }).optional(),
});

const FLAG_NAMES: Record<string, string> = {
  hostnameOverride: '--hostname-override',
  clusterCidr: '--cluster-cidr',
  nodeportAddresses: '--nodeport-addresses',
  healthzBindAddress: '--healthz-bind-address',
  metricsBindAddress: '--metrics-bind-address',
  applier: '--applier',
  table: '--table',
  minSyncPeriod: '--min-sync-period',
  syncPeriod: '--sync-period',
  masqueradeBit: '--masquerade-bit',
};

/** Flags + optional file → the validated configuration. Throws ConfigError with every problem. */
export function resolveConfig(flags: RunFlags, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): DaemonConfig {
  let file: KubeProxyConfigurationFile | undefined;
  if (flags.config) {
    let text: string;
    try {
      text = readFile(flags.config);
    } catch (err) {
      throw new ConfigError(`--config ${flags.config}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    file = parseConfigFile(text, flags.config);
  }
  const r = flagsSchema.safeParse(flags);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${FLAG_NAMES[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`).join('\n'));
  }
  const f = r.data;
  const minSyncPeriodMs = f.minSyncPeriod ?? file?.nftables?.minSyncPeriod ?? 1000;
  const syncPeriodMs = f.syncPeriod ?? file?.nftables?.syncPeriod ?? 3_600_000;
  if (syncPeriodMs <= 0) throw new ConfigError('syncPeriod: expected a positive duration');
  if (minSyncPeriodMs > syncPeriodMs) throw new ConfigError(`minSyncPeriod (${minSyncPeriodMs} ms) must not exceed syncPeriod (${syncPeriodMs} ms)`);
  const nodeName = (f.hostnameOverride ?? file?.hostnameOverride ?? '').trim() || hostname().toLowerCase();
  return {
    kubeconfig: flags.kubeconfig ?? (file?.clientConnection?.kubeconfig || undefined),
    master: flags.master,
    nodeName,
    compile: {
      ...defaultCompileOptions,
      tableName: f.table ?? defaultCompileOptions.tableName,
      clusterCIDRs: f.clusterCidr ?? file?.clusterCIDR ?? [],
      nodeName,
      nodeIPs: [],
      nodePortAddresses: f.nodeportAddresses ?? file?.nodePortAddresses ?? [],
      masqueradeAll: flags.masqueradeAll ?? file?.masqueradeAll ?? false,
      masqueradeBit: f.masqueradeBit ?? file?.nftables?.masqueradeBit ?? defaultCompileOptions.masqueradeBit,
    },
    healthzBindAddress: f.healthzBindAddress ?? file?.healthzBindAddress ?? '0.0.0.0:10256',
    metricsBindAddress: f.metricsBindAddress ?? file?.metricsBindAddress ?? '127.0.0.1:10249',
    minSyncPeriodMs,
    syncPeriodMs,
    applier: f.applier ?? 'auto',
  };
}
