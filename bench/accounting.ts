// Accounting for the three layouts the benchmark compares, computed from the emitted artefacts (the
// IR ruleset or the iptables-restore text), never from formulas: object counts, and how many rules
// a new connection evaluates before it is DNATed — the linear scan nftproxy claims to remove.
//
// Both nft layouts (ours and kube-proxy's nftables mode) are IR, so their rules are counted by the
// one IR interpreter (ir/interpret.ts), which reports the rules each base chain evaluated. iptables
// is not IR: it has its own small walker over the restore text below.

import { cidrContains, parseCidr } from '../ir/ip.js';
import { endpointKey, traceConnection, type Outcome, type Packet } from '../ir/interpret.js';
import { rulesetStats, type RulesetStats } from '../ir/stats.js';
import type { Ruleset } from '../ir/types.js';
import type { IpFamily, ServicePort } from '../compiler/model/types.js';

/** Object counts; for nft layouts the same as ir/stats (dynamic sets start empty). */
export type ObjectCounts = RulesetStats;

export const countNft = (ruleset: Ruleset): ObjectCounts => rulesetStats(ruleset);

// --- iptables-restore text --------------------------------------------------------------------

export interface IptRule {
  /** The rule's arguments after `-A CHAIN`. */
  args: string[];
}

/** Tables → chains → rules, as the kernel holds them after loading `text` with --noflush. */
export type IptablesState = Map<string, Map<string, IptRule[]>>;

const BUILTIN_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/** Splits a restore line into arguments, honouring double quotes as iptables-restore does. */
export function splitRestoreArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/** Applies restore texts in order (as `iptables-restore --noflush`) to an initial state. */
export function applyIptablesRestore(texts: string[], state: IptablesState = new Map()): IptablesState {
  for (const text of texts) {
    let table: Map<string, IptRule[]> | undefined;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line === 'COMMIT') continue;
      if (line.startsWith('*')) {
        const name = line.slice(1);
        table = state.get(name) ?? new Map<string, IptRule[]>();
        state.set(name, table);
        continue;
      }
      if (table === undefined) throw new Error(`restore line outside a table: ${line}`);
      if (line.startsWith(':')) {
        const name = line.slice(1).split(' ')[0] ?? '';
        if (!BUILTIN_CHAINS.has(name)) table.set(name, []); // declaring a user chain flushes it
        continue;
      }
      const args = splitRestoreArgs(line);
      const [op, chain] = args;
      if (chain === undefined) throw new Error(`bad restore line: ${line}`);
      const rules = table.get(chain) ?? [];
      table.set(chain, rules);
      if (op === '-A') rules.push({ args: args.slice(2) });
      else if (op === '-I') {
        const pos = /^\d+$/.test(args[2] ?? '') ? Number(args[2]) : 1;
        rules.splice(pos - 1, 0, { args: args.slice(/^\d+$/.test(args[2] ?? '') ? 3 : 2) });
      } else if (op === '-X') table.delete(chain);
      else throw new Error(`unsupported restore command: ${line}`);
    }
  }
  return state;
}

export function countIptables(restoreText: string): ObjectCounts {
  const state = applyIptablesRestore([restoreText]);
  const c: ObjectCounts = { tables: state.size, chains: 0, rules: 0, sets: 0, maps: 0, elements: 0 };
  for (const chains of state.values()) {
    for (const [name, rules] of chains) {
      if (!BUILTIN_CHAINS.has(name)) c.chains++;
      c.rules += rules.length;
    }
  }
  return c;
}

// --- rules evaluated per new connection -------------------------------------------------------

export interface WalkOptions {
  /** Addresses of the node (for addrtype LOCAL / fib type local). */
  localAddresses?: string[];
  /** Which endpoint the random choice picks: the first (fewest rules) or the last (most; of equals, the last). */
  endpoint?: 'first' | 'last';
}

export interface WalkResult {
  /** Rules evaluated, matched or not, from the hook until the packet is DNATed or leaves. */
  rules: number;
  /** The DNAT destination (`ip:port`, `[ip6]:port`), when one was reached. */
  dnat?: string;
}

const MAX_DEPTH = 64;

/**
 * Walks nat PREROUTING (or KUBE-SERVICES when no jumps were emitted) of an iptables state, as the
 * kernel would for a new connection's first packet.
 */
export function walkIptables(state: IptablesState, pkt: Packet, opts: WalkOptions = {}): WalkResult {
  const nat = state.get('nat');
  if (nat === undefined) return { rules: 0 };
  const local = new Set(opts.localAddresses ?? []);
  const pick = opts.endpoint ?? 'first';
  let count = 0;
  let dnat: string | undefined;

  const matches = (args: string[]): boolean => {
    for (let i = 0; i < args.length; i++) {
      const neg = args[i] === '!';
      const a = neg ? args[++i] : args[i];
      const v = args[i + 1] ?? '';
      let ok: boolean | undefined;
      switch (a) {
        case '-s':
          ok = addrIn(pkt.src, v);
          i++;
          break;
        case '-d':
          ok = addrIn(pkt.dst, v);
          i++;
          break;
        case '-p':
          ok = v === pkt.proto;
          i++;
          break;
        case '--dport':
          ok = Number(v) === pkt.dport;
          i++;
          break;
        case '--dst-type':
          ok = v === 'LOCAL' ? local.has(pkt.dst) : false;
          i++;
          break;
        case '--src-type':
          ok = v === 'LOCAL' ? local.has(pkt.src) : false;
          i++;
          break;
        case '--probability':
          ok = pick === 'first';
          i++;
          break;
        case '--rcheck':
          ok = false;
          break;
        case '--mark':
          ok = false; // a new packet carries no mark
          i++;
          break;
        case '--ctstate':
          ok = v.split(',').includes('NEW');
          i++;
          break;
        case '-m':
        case '--comment':
          i++; // a module name or comment text, not a match
          break;
        case '-j':
          return true;
        default:
          ok = undefined;
      }
      if (ok !== undefined && ok === neg) return false;
    }
    return true;
  };

  const run = (chain: string, depth: number): 'continue' | 'stop' => {
    if (depth > MAX_DEPTH) throw new Error(`jump depth exceeded at ${chain}`);
    for (const r of nat.get(chain) ?? []) {
      count++;
      if (!matches(r.args)) continue;
      const j = r.args.indexOf('-j');
      const target = j >= 0 ? r.args[j + 1] : undefined;
      if (target === undefined || target === 'MARK') continue;
      if (target === 'DNAT') {
        dnat = r.args[r.args.indexOf('--to-destination') + 1];
        return 'stop';
      }
      if (target === 'RETURN') return 'continue';
      if (['ACCEPT', 'DROP', 'REJECT', 'MASQUERADE'].includes(target)) return 'stop';
      if (run(target, depth + 1) === 'stop') return 'stop';
    }
    return 'continue';
  };

  run((nat.get('PREROUTING')?.length ?? 0) > 0 ? 'PREROUTING' : 'KUBE-SERVICES', 0);
  return dnat === undefined ? { rules: count } : { rules: count, dnat };
}

function addrIn(ip: string, spec: string): boolean {
  return spec.includes('/') ? cidrContains(spec, ip) : spec === ip;
}

/** Rules an outcome's path evaluated in the nat prerouting base chains (where kube-proxy DNATs). */
function natPreroutingRules(o: Outcome): number {
  let n = 0;
  for (const s of o.steps) if (s.kind === 'chain' && s.hook === 'prerouting' && s.type === 'nat') n += s.rules;
  return n;
}

/**
 * Traces the packet through an IR ruleset with the IR interpreter and counts the rules of the nat
 * prerouting base chains (lowest priority first, until the DNAT), the same span walkIptables
 * counts. `first`: the path where every random choice takes the first branch; `last`: the most
 * expensive path.
 */
export function walkNft(ruleset: Ruleset, pkt: Packet, opts: WalkOptions = {}): WalkResult {
  const outcomes = traceConnection(ruleset, pkt, { localAddresses: opts.localAddresses ?? [], sourceIsLocal: false });
  let o = outcomes[0];
  if (o === undefined) return { rules: 0 };
  if (opts.endpoint === 'last') for (const x of outcomes) if (natPreroutingRules(x) >= natPreroutingRules(o)) o = x;
  const rules = natPreroutingRules(o);
  return o.dnat === undefined ? { rules } : { rules, dnat: o.dnat.port === undefined ? o.dnat.addr : endpointKey(o.dnat.addr, o.dnat.port) };
}

// --- summaries over services ------------------------------------------------------------------

export interface PerConnectionSummary {
  /** Rules evaluated for a new connection to each service port's clusterIP (input order). */
  perService: number[];
  worst: number;
  median: number;
  /** Service ports whose packet was not DNATed (no endpoints, or a baseline bug). */
  notDnated: number;
}

/** A source address inside the first pod CIDR of the family (so no masquerade decision differs). */
function podSource(clusterCIDRs: string[], family: IpFamily): string {
  const cidr = clusterCIDRs.find((c) => parseCidr(c)?.family === family);
  if (cidr === undefined) return family === 6 ? 'fd00:99::7' : '10.99.0.7';
  const base = cidr.split('/')[0] ?? '';
  return family === 6 ? base.replace(/::?$/, '') + '::7' : base.replace(/\.\d+$/, '.7');
}

export function summarise(counts: number[], notDnated: number): PerConnectionSummary {
  const sorted = [...counts].sort((a, b) => a - b);
  const median = sorted.length === 0 ? 0 : sorted.length % 2 === 1 ? (sorted[(sorted.length - 1) / 2] ?? 0) : ((sorted[sorted.length / 2 - 1] ?? 0) + (sorted[sorted.length / 2] ?? 0)) / 2;
  return { perService: counts, worst: sorted.at(-1) ?? 0, median, notDnated };
}

/**
 * Rules a new pod→clusterIP connection evaluates, per service port with a cluster IP, for a
 * layout given as a walker (`walkIptables` / `walkNft` via the helpers below).
 */
export function rulesPerConnection(sps: ServicePort[], clusterCIDRs: string[], walk: (pkt: Packet) => WalkResult): PerConnectionSummary {
  const counts: number[] = [];
  let notDnated = 0;
  for (const sp of sps) {
    if (sp.clusterIP === undefined) continue;
    const r = walk({ family: sp.family === 6 ? 'ip6' : 'ip', src: podSource(clusterCIDRs, sp.family), dst: sp.clusterIP, proto: sp.protocol, dport: sp.port });
    counts.push(r.rules);
    if (r.dnat === undefined) notDnated++;
  }
  return summarise(counts, notDnated);
}

export function iptablesRulesPerConnection(restoreText: string, sps: ServicePort[], clusterCIDRs: string[], opts: WalkOptions = {}): PerConnectionSummary {
  const state = applyIptablesRestore([restoreText]);
  return rulesPerConnection(sps, clusterCIDRs, (pkt) => walkIptables(state, pkt, opts));
}

export function nftRulesPerConnection(ruleset: Ruleset, sps: ServicePort[], clusterCIDRs: string[], opts: WalkOptions = {}): PerConnectionSummary {
  return rulesPerConnection(sps, clusterCIDRs, (pkt) => walkNft(ruleset, pkt, opts));
}
