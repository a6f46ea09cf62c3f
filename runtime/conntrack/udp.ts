// UDP conntrack cleanup after a sync. UDP has no connection teardown, so a conntrack entry that
// DNATs a client's flow to a pod outlives the pod: the client (typically a DNS resolver reusing
// its source port) keeps sending into the void until the entry times out. Likewise a client that
// was rejected while a service had no endpoint keeps hitting the cached "no endpoint" entry.
// kube-proxy deletes both kinds after programming; so do we, in the current network namespace.

import { execFile } from 'node:child_process';
import type { ServicePort } from '../../compiler/model/types.js';

export interface ConntrackLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const keyOf = (sp: ServicePort): string => `${sp.id}/${sp.family}`;

function usedEndpoints(sp: ServicePort): Set<string> {
  return new Set([...sp.clusterEndpoints, ...sp.localEndpoints].map((e) => e.ip));
}

function serviceAddresses(sp: ServicePort): string[] {
  return [...(sp.clusterIP ? [sp.clusterIP] : []), ...sp.externalIPs, ...sp.loadBalancerIPs];
}

/** conntrack argv lists (without the binary) that remove stale UDP flows between two models. */
export function staleUdpFlowDeletions(before: readonly ServicePort[], after: readonly ServicePort[]): string[][] {
  const prev = new Map(before.filter((sp) => sp.protocol === 'udp').map((sp) => [keyOf(sp), sp]));
  const cur = new Map(after.filter((sp) => sp.protocol === 'udp').map((sp) => [keyOf(sp), sp]));
  const out: string[][] = [];
  const seen = new Set<string>();
  const push = (argv: string[]): void => {
    const k = argv.join(' ');
    if (!seen.has(k)) {
      seen.add(k);
      out.push(argv);
    }
  };
  const fam = (sp: ServicePort): string[] => (sp.family === 6 ? ['-f', 'ipv6'] : []);

  // Endpoints no longer used by a service port (or the whole port gone): flows DNATed to them.
  for (const [key, old] of prev) {
    const now = cur.get(key);
    const stillUsed = now ? usedEndpoints(now) : new Set<string>();
    for (const ep of usedEndpoints(old)) {
      if (stillUsed.has(ep)) continue;
      for (const addr of serviceAddresses(old)) {
        push(['-D', ...fam(old), '-p', 'udp', '--orig-dst', addr, '--dport', String(old.port), '--reply-src', ep]);
      }
      if (old.nodePort !== undefined) push(['-D', ...fam(old), '-p', 'udp', '--dport', String(old.nodePort), '--reply-src', ep]);
    }
  }
  // A port that gained its first endpoint: entries of clients rejected while it had none.
  for (const [key, now] of cur) {
    const old = prev.get(key);
    const hadNone = !old || usedEndpoints(old).size === 0;
    if (!hadNone || usedEndpoints(now).size === 0) continue;
    for (const addr of serviceAddresses(now)) push(['-D', ...fam(now), '-p', 'udp', '--orig-dst', addr, '--dport', String(now.port)]);
    if (now.nodePort !== undefined) push(['-D', ...fam(now), '-p', 'udp', '--dport', String(now.nodePort)]);
  }
  return out;
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

function runOne(argv: string[], opts: ConntrackOptions): Promise<ConntrackRunResult> {
  const full = [...(opts.wrap ?? []), opts.binary ?? 'conntrack', ...argv];
  return new Promise((resolve) => {
    execFile(full[0] as string, full.slice(1), { timeout: 10_000 }, (err, stdout, stderr) => {
      const text = `${stdout}\n${stderr}`;
      const m = /(\d+) flow entries have been deleted/.exec(text);
      const deleted = m ? Number(m[1]) : 0;
      // conntrack exits 1 when nothing matched: that is the common, healthy case.
      if (err && !(deleted === 0 && m)) resolve({ argv, deleted, error: (stderr || err.message).trim() });
      else resolve({ argv, deleted });
    });
  });
}

export async function deleteStaleUdpFlows(
  before: readonly ServicePort[],
  after: readonly ServicePort[],
  log: ConntrackLogger,
  opts: ConntrackOptions = {},
): Promise<ConntrackRunResult[]> {
  const results: ConntrackRunResult[] = [];
  for (const argv of staleUdpFlowDeletions(before, after)) {
    const r = await runOne(argv, opts);
    results.push(r);
    if (r.error) log.warn({ command: `conntrack ${argv.join(' ')}`, err: r.error }, 'conntrack cleanup failed');
    else if (r.deleted > 0) log.debug({ command: `conntrack ${argv.join(' ')}`, deleted: r.deleted }, 'stale UDP flows deleted');
  }
  return results;
}
