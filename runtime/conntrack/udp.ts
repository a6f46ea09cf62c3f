// UDP conntrack cleanup, kube-proxy's CleanStaleEntries (pkg/proxy/conntrack/cleanup.go). UDP has
// no teardown, so a conntrack entry that DNATs a client's flow to a pod outlives the pod: the
// client (typically a DNS resolver reusing its source port) keeps sending into the void until the
// entry times out. Likewise a client that hit a service while it had no endpoint keeps its
// un-DNATed entry.
//
// Reconciled against the table itself, not against changes this process saw, so a restarted
// daemon also cleans what went stale while it was down: list the UDP entries, and delete each one
// whose original destination is a service IP:port (cluster, external, LB IP) or a NodePort and
// whose reply source is not a *serving* endpoint of that service port. Serving, not ready: an
// endpoint turning terminating-but-serving keeps its flows. Service ports without any serving
// endpoint are left alone (there is nothing better to send the flows to).

import { execFile } from 'node:child_process';
import type { IpFamily, ServicePort } from '../../compiler/model/types.js';
import { normalizeIp } from '../../ir/ip.js';

export interface ConntrackLogger {
  debug(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** One UDP conntrack entry, as far as the cleanup needs it. */
export interface ConntrackEntry {
  family: IpFamily;
  origDst: string;
  origDport: number;
  replySrc: string;
}

export interface ConntrackRunResult {
  argv: string[];
  deleted: number;
  error?: string;
}

export interface ConntrackOptions {
  /** The conntrack binary (default `conntrack` from PATH). */
  binary?: string;
  /** Argv prefix, e.g. `['ip', 'netns', 'exec', NS]` for tests that stay outside the namespace. */
  wrap?: string[];
}

const familyArgs = (family: IpFamily): string[] => ['-f', family === 6 ? 'ipv6' : 'ipv4'];

/** Serving endpoint IPs per `ip|port` (service addresses) and per `nodePort`, UDP only, one family. */
export function servingEndpoints(servicePorts: readonly ServicePort[], family: IpFamily): { byAddr: Map<string, Set<string>>; byNodePort: Map<number, Set<string>> } {
  const byAddr = new Map<string, Set<string>>();
  const byNodePort = new Map<number, Set<string>>();
  for (const sp of servicePorts) {
    if (sp.protocol !== 'udp' || sp.family !== family) continue;
    // Traffic policies, topology and terminating state do not matter: only whether it serves.
    const serving = new Set(sp.endpoints.filter((e) => e.serving).map((e) => e.ip));
    if (serving.size === 0) continue;
    for (const addr of [...(sp.clusterIP ? [sp.clusterIP] : []), ...sp.externalIPs, ...sp.loadBalancerIPs]) byAddr.set(`${addr}|${sp.port}`, serving);
    if (sp.nodePort !== undefined) byNodePort.set(sp.nodePort, serving);
  }
  return { byAddr, byNodePort };
}

/** conntrack argv lists (without the binary) deleting the stale entries among `entries`. */
export function staleEntryDeletions(servicePorts: readonly ServicePort[], entries: readonly ConntrackEntry[]): string[][] {
  const out = new Map<string, string[]>();
  for (const family of [4, 6] as const) {
    const { byAddr, byNodePort } = servingEndpoints(servicePorts, family);
    for (const e of entries) {
      if (e.family !== family) continue;
      const viaAddr = byAddr.get(`${e.origDst}|${e.origDport}`);
      if (viaAddr && !viaAddr.has(e.replySrc)) {
        const argv = ['-D', ...familyArgs(family), '-p', 'udp', '--orig-dst', e.origDst, '--dport', String(e.origDport), '--reply-src', e.replySrc];
        out.set(argv.join(' '), argv);
      }
      const viaNodePort = byNodePort.get(e.origDport);
      if (viaNodePort && !viaNodePort.has(e.replySrc)) {
        const argv = ['-D', ...familyArgs(family), '-p', 'udp', '--dport', String(e.origDport), '--reply-src', e.replySrc];
        out.set(argv.join(' '), argv);
      }
    }
  }
  return [...out.values()];
}

/**
 * Parses `conntrack -L -p udp` output: per line the original tuple first, then the reply tuple
 * (`udp 17 29 src=A dst=B sport=P dport=Q [UNREPLIED] src=C dst=D sport=R dport=S ...`).
 */
export function parseConntrackList(text: string, family: IpFamily): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    if (!/^\s*(?:ipv[46]\s+\d+\s+)?udp\s/.test(line)) continue;
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1] as string);
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1] as string);
    const dport = [...line.matchAll(/\bdport=(\d+)/g)].map((m) => Number(m[1]));
    const origDst = normalizeIp(dst[0] ?? '');
    const replySrc = normalizeIp(src[1] ?? '');
    if (origDst === undefined || replySrc === undefined || dport[0] === undefined) continue;
    out.push({ family, origDst, origDport: dport[0], replySrc });
  }
  return out;
}

function run(argv: string[], opts: ConntrackOptions): Promise<{ stdout: string; stderr: string; err: Error | null }> {
  const full = [...(opts.wrap ?? []), opts.binary ?? 'conntrack', ...argv];
  return new Promise((resolve) => {
    execFile(full[0] as string, full.slice(1), { timeout: 10_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ stdout, stderr, err }));
  });
}

async function runDelete(argv: string[], opts: ConntrackOptions): Promise<ConntrackRunResult> {
  const { stdout, stderr, err } = await run(argv, opts);
  const m = /(\d+) flow entries have been deleted/.exec(`${stdout}\n${stderr}`);
  const deleted = m ? Number(m[1]) : 0;
  // conntrack exits 1 when nothing matched (the entry expired meanwhile): not an error.
  if (err && !(deleted === 0 && m)) return { argv, deleted, error: (stderr || err.message).trim() };
  return { argv, deleted };
}

/** Lists the UDP entries of one family. Throws when conntrack cannot be run. */
export async function listUdpEntries(family: IpFamily, opts: ConntrackOptions = {}): Promise<ConntrackEntry[]> {
  const { stdout, stderr, err } = await run(['-L', ...familyArgs(family), '-p', 'udp'], opts);
  if (err) throw new Error((stderr || err.message).trim());
  return parseConntrackList(stdout, family);
}

/** One reconciliation: list both families, delete the stale entries. */
export async function cleanStaleUdpEntries(servicePorts: readonly ServicePort[], log: ConntrackLogger, opts: ConntrackOptions = {}): Promise<ConntrackRunResult[]> {
  const entries: ConntrackEntry[] = [];
  for (const family of [4, 6] as const) {
    if (!servicePorts.some((sp) => sp.protocol === 'udp' && sp.family === family)) continue;
    try {
      entries.push(...(await listUdpEntries(family, opts)));
    } catch (err) {
      log.warn({ family, err: (err as Error).message }, 'cannot list conntrack entries');
    }
  }
  const results: ConntrackRunResult[] = [];
  for (const argv of staleEntryDeletions(servicePorts, entries)) {
    const r = await runDelete(argv, opts);
    results.push(r);
    if (r.error) log.warn({ command: `conntrack ${argv.join(' ')}`, err: r.error }, 'conntrack cleanup failed');
    else if (r.deleted > 0) log.debug({ command: `conntrack ${argv.join(' ')}`, deleted: r.deleted }, 'stale UDP flows deleted');
  }
  return results;
}

/** What the cleanup depends on: UDP service addresses, ports and serving endpoints. */
export function udpServingFingerprint(servicePorts: readonly ServicePort[]): string {
  const parts: string[] = [];
  for (const family of [4, 6] as const) {
    const { byAddr, byNodePort } = servingEndpoints(servicePorts, family);
    for (const [k, s] of byAddr) parts.push(`${k}=${[...s].sort().join(',')}`);
    for (const [k, s] of byNodePort) parts.push(`${family}:${k}=${[...s].sort().join(',')}`);
  }
  return parts.sort().join(';');
}

/**
 * Runs the cleanup after a sync: at the first sync (whatever went stale while no proxy ran) and
 * whenever a UDP service's addresses or serving endpoints changed; not on syncs that changed none.
 */
export class UdpConntrackReconciler {
  private last: string | undefined;

  constructor(
    private readonly log: ConntrackLogger,
    private readonly opts: ConntrackOptions = {},
  ) {}

  async afterSync(servicePorts: readonly ServicePort[]): Promise<ConntrackRunResult[]> {
    const fp = udpServingFingerprint(servicePorts);
    if (fp === this.last) return [];
    const results = await cleanStaleUdpEntries(servicePorts, this.log, this.opts);
    this.last = fp;
    return results;
  }
}
