// The daemon's configuration as kube-proxy users write it: a KubeProxyConfiguration file
// (kubeproxy.config.k8s.io/v1alpha1) and/or kube-proxy's flags; flags override the file.
// Everything is validated here, once, with messages that name the field and what was expected.
//
// Strict: every field of KubeProxyConfiguration is either implemented, or a start-up warning
// naming it (it does not change where packets go), or exit 2 with the reason (a value we cannot
// honour, e.g. mode: ipvs). Unknown fields are reported as kube-proxy's strict decoder does
// (`strict decoding error: unknown field "x"`) and, like kube-proxy for v1alpha1, decoding then
// continues leniently: a warning, not a failure.

import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { normalizeIp } from '../../ir/ip.js';
import { DEFAULT_NODEPORT_ADDRESSES, FlagError, detectLocalFrom, ignoredFlagWarnings, parseFlags, type RawFlags } from '../config/flags.js';
import { cidrList, detectLocalMode, duration, hostPort, interfaceName, masqueradeBit, nodePortAddressList } from '../config/values.js';

export { parseDuration, parseHostPort } from '../config/values.js';

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
  /** Start-up warnings: fields and flags given that nftproxy does not implement. */
  warnings: string[];
}

/** Flags as commander hands them over; undefined = not given (the file or the default applies). */
export type RunFlags = RawFlags;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * What nftproxy does with each KubeProxyConfiguration field: 'use' (implemented, validated by
 * the schema below), a reason string (not implemented: a warning when set), or the shape of a
 * nested object. Anything else in a file is an unknown field.
 */
type FieldShape = 'use' | { ignored: string } | { [field: string]: FieldShape };

const CONNTRACK = { ignored: 'nftproxy does not tune conntrack sysctls' };
const OTHER_MODE = { ignored: 'applies to another proxy mode' };

const FIELDS: { [field: string]: FieldShape } = {
  apiVersion: 'use',
  kind: 'use',
  featureGates: { ignored: 'nftproxy has no feature gates' },
  clientConnection: {
    kubeconfig: 'use',
    acceptContentTypes: { ignored: 'nftproxy always asks for JSON' },
    contentType: { ignored: 'nftproxy always asks for JSON' },
    qps: { ignored: 'client rate limits are not implemented' },
    burst: { ignored: 'client rate limits are not implemented' },
  },
  logging: { ignored: 'use --log-level' },
  hostnameOverride: 'use',
  bindAddress: { ignored: "the node's primary IPs come from the Node object" },
  healthzBindAddress: 'use',
  metricsBindAddress: 'use',
  bindAddressHardFail: { ignored: 'binding failures of the healthz and metrics servers are always fatal' },
  enableProfiling: { ignored: 'no /debug/pprof handler' },
  showHiddenMetricsForVersion: { ignored: 'no hidden metrics' },
  mode: 'use',
  iptables: {
    masqueradeBit: OTHER_MODE,
    masqueradeAll: OTHER_MODE,
    localhostNodePorts: OTHER_MODE,
    snatNodeInternalIP: OTHER_MODE,
    syncPeriod: OTHER_MODE,
    minSyncPeriod: OTHER_MODE,
  },
  ipvs: {
    syncPeriod: OTHER_MODE,
    minSyncPeriod: OTHER_MODE,
    scheduler: OTHER_MODE,
    excludeCIDRs: OTHER_MODE,
    strictARP: OTHER_MODE,
    tcpTimeout: OTHER_MODE,
    tcpFinTimeout: OTHER_MODE,
    udpTimeout: OTHER_MODE,
  },
  nftables: { masqueradeBit: 'use', masqueradeAll: 'use', syncPeriod: 'use', minSyncPeriod: 'use' },
  winkernel: {
    networkName: OTHER_MODE,
    sourceVip: OTHER_MODE,
    enableDSR: OTHER_MODE,
    rootHnsEndpointName: OTHER_MODE,
    forwardHealthCheckVip: OTHER_MODE,
  },
  detectLocalMode: 'use',
  detectLocal: { bridgeInterface: 'use', interfaceNamePrefix: 'use' },
  clusterCIDR: 'use',
  nodePortAddresses: 'use',
  // nftproxy 0.1 read masquerade-all here; kube-proxy's field for this mode is nftables.masqueradeAll.
  masqueradeAll: 'use',
  oomScoreAdj: { ignored: "set the process's OOM score in the pod spec" },
  conntrack: {
    maxPerCore: CONNTRACK,
    min: CONNTRACK,
    tcpEstablishedTimeout: CONNTRACK,
    tcpCloseWaitTimeout: CONNTRACK,
    tcpBeLiberal: CONNTRACK,
    udpTimeout: CONNTRACK,
    udpStreamTimeout: CONNTRACK,
  },
  configSyncPeriod: { ignored: 'watches are never resynced on a timer; nftables.syncPeriod resyncs the kernel' },
  portRange: { ignored: 'unused since the userspace proxy was removed' },
  windowsRunAsService: { ignored: 'Linux only' },
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Zero values (what kube-proxy's --write-config-to writes for unset fields) are not "set". */
function isSet(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === false || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isRecord(v)) return Object.values(v).some(isSet);
  return true;
}

/** Unknown fields (dotted paths) and warnings for set fields we do not implement. */
function classify(doc: Record<string, unknown>, shape: { [f: string]: FieldShape }, prefix: string, unknown: string[], warnings: string[]): void {
  for (const [k, v] of Object.entries(doc)) {
    const path = prefix + k;
    const s = shape[k];
    if (s === undefined) unknown.push(path);
    else if (s === 'use') continue;
    else if ('ignored' in s && typeof s.ignored === 'string') {
      if (isSet(v)) warnings.push(`${path} is not implemented by nftproxy and is ignored: ${s.ignored}`);
    } else if (isRecord(v)) classify(v, s as { [f: string]: FieldShape }, `${path}.`, unknown, warnings);
    else if (isSet(v)) unknown.push(path); // a scalar where kube-proxy has an object: the schema reports the type below
  }
}

const fileSchema = z.object({
  apiVersion: z.literal('kubeproxy.config.k8s.io/v1alpha1', { error: 'expected apiVersion kubeproxy.config.k8s.io/v1alpha1' }),
  kind: z.literal('KubeProxyConfiguration', { error: 'expected kind KubeProxyConfiguration' }),
  mode: z.enum(['', 'nftables'], { error: 'nftproxy implements mode "nftables" only' }).optional(),
  clientConnection: z.object({ kubeconfig: z.string().optional() }).optional(),
  hostnameOverride: z.string().optional(),
  clusterCIDR: cidrList.optional(),
  nodePortAddresses: nodePortAddressList.optional(),
  masqueradeAll: z.boolean().optional(),
  healthzBindAddress: hostPort.optional(),
  metricsBindAddress: hostPort.optional(),
  detectLocalMode: detectLocalMode.optional(),
  detectLocal: z.object({ bridgeInterface: z.union([z.literal(''), interfaceName]).optional(), interfaceNamePrefix: z.union([z.literal(''), interfaceName]).optional() }).optional(),
  nftables: z
    .object({
      masqueradeBit: masqueradeBit.optional(),
      masqueradeAll: z.boolean().optional(),
      minSyncPeriod: duration.optional(),
      syncPeriod: duration.optional(),
    })
    .optional(),
});

export type KubeProxyConfigurationFile = z.infer<typeof fileSchema>;

function issuesText(error: z.ZodError, source: string): string {
  return error.issues.map((i) => `${source}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('\n');
}

/** Kubernetes treats null as absent (YAML `field:`); so do we. */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (!isRecord(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, dropNulls(x)]));
}

/** The file, strictly classified: its implemented fields, and warnings for the rest. */
export function decodeConfigFile(text: string, source = 'config'): { file: KubeProxyConfigurationFile; warnings: string[] } {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  doc = dropNulls(doc ?? {});
  if (!isRecord(doc)) throw new ConfigError(`${source}: expected a KubeProxyConfiguration object`);
  const unknown: string[] = [];
  const warnings: string[] = [];
  classify(doc, FIELDS, '', unknown, warnings);
  if (unknown.length > 0) {
    warnings.unshift(`${source}: using lenient decoding as strict decoding failed: strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`);
  }
  const r = fileSchema.safeParse(doc);
  if (!r.success) throw new ConfigError(issuesText(r.error, source));
  return { file: r.data, warnings: warnings.map((w) => (w.startsWith(source) ? w : `${source}: ${w}`)) };
}

export function parseConfigFile(text: string, source = 'config'): KubeProxyConfigurationFile {
  return decodeConfigFile(text, source).file;
}

/** The node's interface addresses (in a network namespace: the namespace's), for --nodeport-addresses CIDRs. */
export function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const n = normalizeIp(a.address.split('%')[0] as string);
      if (n !== undefined && !a.internal) out.push(n);
    }
  }
  return [...new Set(out)];
}

export interface ResolveEnv {
  readFile?: (p: string) => string;
  /** The node's interface addresses (default: os.networkInterfaces()). */
  addresses?: () => string[];
}

/** Flags + optional file → the validated configuration. Throws ConfigError with every problem. */
export function resolveConfig(flags: RunFlags, env: ResolveEnv | ((p: string) => string) = {}): DaemonConfig {
  const e: ResolveEnv = typeof env === 'function' ? { readFile: env } : env;
  const readFile = e.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let file: KubeProxyConfigurationFile | undefined;
  const warnings: string[] = [];
  const configPath = typeof flags['config'] === 'string' ? flags['config'] : undefined;
  if (configPath) {
    let text: string;
    try {
      text = readFile(configPath);
    } catch (err) {
      throw new ConfigError(`--config ${configPath}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const parsed = decodeConfigFile(text, configPath);
    file = parsed.file;
    warnings.push(...parsed.warnings);
  }
  let f;
  try {
    f = parseFlags(flags);
  } catch (err) {
    if (err instanceof FlagError) throw new ConfigError(err.message);
    throw err;
  }
  warnings.push(...ignoredFlagWarnings(flags));
  const minSyncPeriodMs = f.minSyncPeriod ?? file?.nftables?.minSyncPeriod ?? 1000;
  const syncPeriodMs = f.syncPeriod ?? file?.nftables?.syncPeriod ?? 3_600_000;
  if (syncPeriodMs <= 0) throw new ConfigError('syncPeriod: expected a positive duration');
  if (minSyncPeriodMs > syncPeriodMs) throw new ConfigError(`minSyncPeriod (${minSyncPeriodMs} ms) must not exceed syncPeriod (${syncPeriodMs} ms)`);
  const nodeName = (f.hostnameOverride ?? file?.hostnameOverride ?? '').trim() || hostname().toLowerCase();
  // A flag names the flag in messages, a file field its path.
  const fromFlag = f.detectLocalMode !== undefined || f.podBridgeInterface !== undefined || f.podInterfaceNamePrefix !== undefined;
  let detectLocal;
  try {
    detectLocal = detectLocalFrom(
      f.detectLocalMode ?? file?.detectLocalMode,
      f.podBridgeInterface ?? (file?.detectLocal?.bridgeInterface || undefined),
      f.podInterfaceNamePrefix ?? (file?.detectLocal?.interfaceNamePrefix || undefined),
      (flag) =>
        fromFlag
          ? flag
          : { '--detect-local-mode': 'detectLocalMode', '--pod-bridge-interface': 'detectLocal.bridgeInterface', '--pod-interface-name-prefix': 'detectLocal.interfaceNamePrefix' }[flag],
    );
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  // An empty list is unset, as in kube-proxy: the nftables-mode default, primary.
  const nodePortAddresses = [f.nodeportAddresses, file?.nodePortAddresses].find((l) => l !== undefined && l.length > 0) ?? [...DEFAULT_NODEPORT_ADDRESSES];
  return {
    kubeconfig: (f.kubeconfig as string | undefined) ?? (file?.clientConnection?.kubeconfig || undefined),
    master: f.master as string | undefined,
    nodeName,
    compile: {
      ...defaultCompileOptions,
      tableName: f.table ?? defaultCompileOptions.tableName,
      clusterCIDRs: f.clusterCidr ?? file?.clusterCIDR ?? [],
      serviceCIDRs: f.serviceCidr ?? [],
      nodeName,
      // kube-proxy matches --nodeport-addresses CIDRs against the node's interface addresses.
      nodeIPs: (e.addresses ?? interfaceAddresses)(),
      nodePortAddresses,
      masqueradeAll: f.masqueradeAll ?? file?.nftables?.masqueradeAll ?? file?.masqueradeAll ?? false,
      masqueradeBit: f.masqueradeBit ?? file?.nftables?.masqueradeBit ?? defaultCompileOptions.masqueradeBit,
      ...detectLocal,
    },
    healthzBindAddress: f.healthzBindAddress ?? file?.healthzBindAddress ?? '0.0.0.0:10256',
    metricsBindAddress: f.metricsBindAddress ?? file?.metricsBindAddress ?? '127.0.0.1:10249',
    minSyncPeriodMs,
    syncPeriodMs,
    applier: f.applier ?? 'auto',
    warnings,
  };
}
