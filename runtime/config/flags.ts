// Every command's flags, declared once: one spec (name, help, which commands take it, list or
// not) and one zod schema that validates what commander collected. kube-proxy's flag names and
// conventions: list flags accept both `--cluster-cidr a,b` and `--cluster-cidr a --cluster-cidr b`.
// `run` adds the KubeProxyConfiguration file on top (runtime/daemon/config.ts); `compile`,
// `trace`, `diff` and `apply` turn the flags into CompileOptions here.

import { Command, Option } from 'commander';
import { z } from 'zod';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import {
  cidrList,
  detectLocalMode,
  duration,
  hostPort,
  interfaceName,
  ipList,
  masqueradeBit,
  nodePortAddressList,
  tableName,
} from './values.js';

/** compile: compile, trace, diff, apply (a cluster dump); run: the daemon; apply: commands that program the kernel. */
export type Scope = 'compile' | 'run' | 'apply' | 'cleanup';

interface FlagSpec {
  flag: string;
  /** `<value>`; absent for boolean flags. */
  arg?: string;
  help: string;
  scopes: readonly Scope[];
  /** Repeatable and comma-separated. */
  list?: boolean;
  schema: z.ZodType;
}

const COMPILE_AND_RUN: readonly Scope[] = ['compile', 'run'];

/** Keys are commander's camelCase of the flag. */
export const FLAGS = {
  hostnameOverride: { flag: '--hostname-override', arg: '<name>', help: "this node's name: endpoints with this nodeName are local (run: default the hostname)", scopes: COMPILE_AND_RUN, schema: z.string().min(1, { error: 'expected a node name' }) },
  nodeName: { flag: '--node-name', arg: '<name>', help: 'alias of --hostname-override', scopes: ['compile'], schema: z.string().min(1, { error: 'expected a node name' }) },
  nodeZone: { flag: '--node-zone', arg: '<zone>', help: "this node's zone, for topology-aware routing (default: from the Node object)", scopes: ['compile'], schema: z.string().min(1) },
  nodeIp: { flag: '--node-ip', arg: '<ips>', help: "the node's interface addresses, matched against --nodeport-addresses (default: the Node object's addresses)", scopes: ['compile'], list: true, schema: ipList },
  clusterCidr: { flag: '--cluster-cidr', arg: '<cidrs>', help: 'pod CIDRs (detect-local-mode ClusterCIDR): traffic from outside them to cluster IPs is masqueraded', scopes: COMPILE_AND_RUN, list: true, schema: cidrList },
  serviceCidr: { flag: '--service-cidr', arg: '<cidrs>', help: 'service CIDRs, per family, added to the cluster\'s ServiceCIDR objects: unallocated addresses inside are dropped', scopes: COMPILE_AND_RUN, list: true, schema: cidrList },
  nodeportAddresses: { flag: '--nodeport-addresses', arg: '<cidrs>', help: 'node addresses accepting NodePorts: CIDRs, "primary" (the Node\'s primary IPs; default) or "all"; a family without a CIDR accepts all its addresses', scopes: COMPILE_AND_RUN, list: true, schema: nodePortAddressList },
  detectLocalMode: { flag: '--detect-local-mode', arg: '<mode>', help: 'how local pod traffic is detected: ClusterCIDR (default), NodeCIDR, BridgeInterface or InterfaceNamePrefix', scopes: COMPILE_AND_RUN, schema: detectLocalMode },
  podBridgeInterface: { flag: '--pod-bridge-interface', arg: '<name>', help: 'with --detect-local-mode BridgeInterface: the pods\' bridge', scopes: COMPILE_AND_RUN, schema: interfaceName },
  podInterfaceNamePrefix: { flag: '--pod-interface-name-prefix', arg: '<prefix>', help: 'with --detect-local-mode InterfaceNamePrefix: the prefix of pod interface names', scopes: COMPILE_AND_RUN, schema: interfaceName },
  masqueradeAll: { flag: '--masquerade-all', help: 'masquerade all traffic to cluster IPs', scopes: COMPILE_AND_RUN, schema: z.boolean() },
  masqueradeBit: { flag: '--masquerade-bit', arg: '<n>', help: 'packet mark bit owned for masquerade (default 14)', scopes: COMPILE_AND_RUN, schema: masqueradeBit },
  table: { flag: '--table', arg: '<name>', help: 'nftables table name, in both the ip and ip6 families (default nftproxy)', scopes: ['compile', 'run', 'cleanup'], schema: tableName },
  applier: { flag: '--applier', arg: '<kind>', help: 'auto (libnftables when it loads, else the nft CLI), cli or lib', scopes: ['run', 'apply', 'cleanup'], schema: z.enum(['auto', 'cli', 'lib'], { error: 'expected auto, cli or lib' }) },
  config: { flag: '--config', arg: '<file>', help: 'KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1); flags override it', scopes: ['run'], schema: z.string() },
  kubeconfig: { flag: '--kubeconfig', arg: '<file>', help: 'kubeconfig file (default: in-cluster service account)', scopes: ['run'], schema: z.string() },
  master: { flag: '--master', arg: '<url>', help: "API server URL (overrides the kubeconfig's server)", scopes: ['run'], schema: z.string() },
  healthzBindAddress: { flag: '--healthz-bind-address', arg: '<host:port>', help: '/healthz and /livez (default 0.0.0.0:10256; empty disables)', scopes: ['run'], schema: hostPort },
  metricsBindAddress: { flag: '--metrics-bind-address', arg: '<host:port>', help: '/metrics (default 127.0.0.1:10249; empty disables)', scopes: ['run'], schema: hostPort },
  minSyncPeriod: { flag: '--min-sync-period', arg: '<duration>', help: 'minimum interval between syncs (default 1s)', scopes: ['run'], schema: duration },
  syncPeriod: { flag: '--sync-period', arg: '<duration>', help: 'interval of full resyncs (default 1h)', scopes: ['run'], schema: duration },
  proxyMode: { flag: '--proxy-mode', arg: '<mode>', help: 'kube-proxy\'s mode: only nftables (the default) is implemented', scopes: ['run'], schema: z.enum(['', 'nftables'], { error: 'nftproxy implements mode "nftables" only' }) },
  cleanup: { flag: '--cleanup', help: 'remove our tables (both families) and exit', scopes: ['run'], schema: z.boolean() },
  logLevel: { flag: '--log-level', arg: '<level>', help: 'trace, debug, info, warn, error (default info)', scopes: ['run'], schema: z.enum(['trace', 'debug', 'info', 'warn', 'error'], { error: 'expected trace, debug, info, warn or error' }) },
} as const satisfies Record<string, FlagSpec>;

export type FlagKey = keyof typeof FLAGS;

/**
 * kube-proxy flags nftproxy accepts but does not implement: each one set is a start-up warning
 * naming it (they do not change which packets go where). Hidden from --help.
 */
export const IGNORED_FLAGS: Record<string, { arg?: string; reason: string }> = {
  '--bind-address': { arg: '<ip>', reason: "the node's primary IPs come from the Node object" },
  '--bind-address-hard-fail': { reason: 'binding failures of the healthz and metrics servers are always fatal' },
  '--config-sync-period': { arg: '<duration>', reason: 'watches are never resynced on a timer; --sync-period resyncs the kernel' },
  '--conntrack-max-per-core': { arg: '<n>', reason: 'nftproxy does not tune conntrack sysctls' },
  '--conntrack-min': { arg: '<n>', reason: 'nftproxy does not tune conntrack sysctls' },
  '--conntrack-tcp-timeout-established': { arg: '<duration>', reason: 'nftproxy does not tune conntrack sysctls' },
  '--conntrack-tcp-timeout-close-wait': { arg: '<duration>', reason: 'nftproxy does not tune conntrack sysctls' },
  '--conntrack-tcp-be-liberal': { reason: 'nftproxy does not tune conntrack sysctls' },
  '--conntrack-udp-timeout': { arg: '<duration>', reason: 'nftproxy does not tune conntrack sysctls' },
  '--conntrack-udp-timeout-stream': { arg: '<duration>', reason: 'nftproxy does not tune conntrack sysctls' },
  '--feature-gates': { arg: '<gates>', reason: 'nftproxy has no feature gates' },
  '--kube-api-burst': { arg: '<n>', reason: 'client rate limits are not implemented' },
  '--kube-api-qps': { arg: '<n>', reason: 'client rate limits are not implemented' },
  '--kube-api-content-type': { arg: '<type>', reason: 'nftproxy always asks for JSON' },
  '--oom-score-adj': { arg: '<n>', reason: "set the process's OOM score in the pod spec" },
  '--profiling': { reason: 'no /debug/pprof handler' },
  '--show-hidden-metrics-for-version': { arg: '<version>', reason: 'no hidden metrics' },
  '--v': { arg: '<level>', reason: 'use --log-level' },
  '--write-config-to': { arg: '<file>', reason: 'not implemented' },
};

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Adds the flags of `scope` to a command, from the one spec. */
export function addFlags(cmd: Command, scope: Scope): Command {
  for (const spec of Object.values(FLAGS) as FlagSpec[]) {
    if (!spec.scopes.includes(scope)) continue;
    const opt = new Option(spec.arg ? `${spec.flag} ${spec.arg}` : spec.flag, spec.help + (spec.list ? ' (comma-separated or repeated)' : ''));
    if (spec.list) opt.argParser(collect);
    cmd.addOption(opt);
  }
  if (scope === 'run') {
    for (const [flag, { arg }] of Object.entries(IGNORED_FLAGS)) {
      cmd.addOption(new Option(arg ? `${flag} ${arg}` : flag).hideHelp().argParser(collect));
    }
  }
  return cmd;
}

/** The flags as commander collected them (strings, string lists for list flags, booleans). */
export type RawFlags = { [K in FlagKey]?: unknown } & Record<string, unknown>;

export type ParsedFlags = { [K in FlagKey]?: z.output<(typeof FLAGS)[K]['schema']> };

const flagsSchema = z.object(Object.fromEntries(Object.entries(FLAGS).map(([k, s]) => [k, (s.schema as z.ZodType).optional()]))) as unknown as z.ZodType<ParsedFlags>;

export class FlagError extends Error {
  override name = 'FlagError';
}

/** Validates the flags of any command; throws FlagError naming each bad flag. */
export function parseFlags(raw: RawFlags): ParsedFlags {
  const known: Record<string, unknown> = {};
  for (const k of Object.keys(FLAGS)) if (raw[k] !== undefined) known[k] = raw[k];
  const r = flagsSchema.safeParse(known);
  if (!r.success) {
    throw new FlagError(r.error.issues.map((i) => `${FLAGS[String(i.path[0]) as FlagKey]?.flag ?? i.path.join('.')}: ${i.message}`).join('\n'));
  }
  return r.data;
}

/** Start-up warnings for the ignored kube-proxy flags that were given. */
export function ignoredFlagWarnings(raw: RawFlags): string[] {
  const out: string[] = [];
  for (const [flag, { reason }] of Object.entries(IGNORED_FLAGS)) {
    const key = flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (raw[key] !== undefined) out.push(`flag ${flag} is not implemented by nftproxy and is ignored: ${reason}`);
  }
  return out;
}

/**
 * Flags → CompileOptions for the commands that compile a cluster dump (compile, trace, diff,
 * apply). Same defaults as the daemon, nodeport addresses included (kube-proxy's nftables-mode
 * default, `primary`).
 */
export function compileOptionsFrom(raw: RawFlags): CompileOptions {
  const f = parseFlags(raw);
  return {
    ...defaultCompileOptions,
    tableName: f.table ?? defaultCompileOptions.tableName,
    clusterCIDRs: f.clusterCidr ?? [],
    serviceCIDRs: f.serviceCidr ?? [],
    nodeName: f.hostnameOverride ?? f.nodeName,
    nodeZone: f.nodeZone,
    nodeIPs: f.nodeIp ?? [],
    nodePortAddresses: f.nodeportAddresses?.length ? f.nodeportAddresses : [...DEFAULT_NODEPORT_ADDRESSES],
    masqueradeAll: f.masqueradeAll ?? false,
    masqueradeBit: f.masqueradeBit ?? defaultCompileOptions.masqueradeBit,
    ...detectLocalFrom(f.detectLocalMode, f.podBridgeInterface, f.podInterfaceNamePrefix, (flag) => `${flag}`),
  };
}

/** kube-proxy's nftables-mode default for --nodeport-addresses. */
export const DEFAULT_NODEPORT_ADDRESSES: readonly string[] = ['primary'];

/**
 * The detect-local settings, checked together as kube-proxy's validation does: BridgeInterface
 * needs the bridge, InterfaceNamePrefix the prefix. `name` renders a field for messages (flag or
 * config path).
 */
export function detectLocalFrom(
  mode: CompileOptions['detectLocalMode'] | undefined,
  bridge: string | undefined,
  prefix: string | undefined,
  name: (what: '--detect-local-mode' | '--pod-bridge-interface' | '--pod-interface-name-prefix') => string,
): Pick<CompileOptions, 'detectLocalMode' | 'podBridgeInterface' | 'podInterfaceNamePrefix'> {
  const m = mode ?? 'ClusterCIDR';
  if (m === 'BridgeInterface' && !bridge) throw new FlagError(`${name('--detect-local-mode')}: BridgeInterface needs ${name('--pod-bridge-interface')}`);
  if (m === 'InterfaceNamePrefix' && !prefix) throw new FlagError(`${name('--detect-local-mode')}: InterfaceNamePrefix needs ${name('--pod-interface-name-prefix')}`);
  return {
    detectLocalMode: m,
    ...(bridge !== undefined ? { podBridgeInterface: bridge } : {}),
    ...(prefix !== undefined ? { podInterfaceNamePrefix: prefix } : {}),
  };
}
