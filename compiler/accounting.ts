// Accounting for the three layouts, computed from the emitted artefacts (the IR ruleset or the
// iptables-restore text), never from formulas: object counts, and how many rules a new
// connection evaluates before it is DNATed — the linear scan nftproxy claims to remove.

import type { Chain, Element, Expr, Rule, Ruleset, Stmt, Value, Verdict } from '../ir/types.js';
import { cidrContains } from './iptables/cidr.js';
import type { ServicePort } from './model/types.js';
import { rulesetStats, type RulesetStats } from '../ir/stats.js';

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

export interface Packet {
  family: 4 | 6;
  saddr: string;
  daddr: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  dport: number;
  sport?: number;
}

export interface WalkOptions {
  /** Addresses of the node (for addrtype LOCAL / fib type local). */
  localAddresses?: string[];
  /** Which endpoint the random choice picks: the first (fewest rules) or the last (most). */
  endpoint?: 'first' | 'last';
}

export interface WalkResult {
  /** Rules evaluated, matched or not, from the hook until the packet is DNATed or leaves. */
  rules: number;
  /** The DNAT destination, when one was reached. */
  dnat?: string;
}

const MAX_DEPTH = 64;

/** Walks nat PREROUTING (or KUBE-SERVICES when no jumps were emitted) of an iptables state. */
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
          ok = addrIn(pkt.saddr, v);
          i++;
          break;
        case '-d':
          ok = addrIn(pkt.daddr, v);
          i++;
          break;
        case '-p':
          ok = v === pkt.protocol;
          i++;
          break;
        case '--dport':
          ok = Number(v) === pkt.dport;
          i++;
          break;
        case '--dst-type':
          ok = v === 'LOCAL' ? local.has(pkt.daddr) : false;
          i++;
          break;
        case '--src-type':
          ok = v === 'LOCAL' ? local.has(pkt.saddr) : false;
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

/** Walks the IR from the nat prerouting base chains (lowest priority first). */
export function walkNft(ruleset: Ruleset, pkt: Packet, opts: WalkOptions = {}): WalkResult {
  const family = pkt.family === 6 ? 'ip6' : 'ip';
  const local = new Set(opts.localAddresses ?? []);
  const pick = opts.endpoint ?? 'first';
  let count = 0;
  let dnat: string | undefined;
  for (const table of ruleset.tables.filter((t) => t.family === family)) {
    const chains = new Map<string, Chain>(table.chains.map((c) => [c.name, c]));
    const sets = new Map(table.sets.map((s) => [s.name, s]));
    type V = string | number | V[];
    const evalExpr = (e: Expr): V => {
      switch (e.kind) {
        case 'payload':
          if (e.protocol === 'th') return e.field === 'dport' ? pkt.dport : (pkt.sport ?? 40000);
          return e.field === 'saddr' ? pkt.saddr : pkt.daddr;
        case 'meta':
          return e.key === 'l4proto' ? pkt.protocol : e.key === 'mark' ? 0 : family === 'ip' ? 'ipv4' : 'ipv6';
        case 'ct':
          return e.key === 'state' ? 'new' : 0;
        case 'fib':
          return local.has(e.lookup === 'saddr' ? pkt.saddr : pkt.daddr) ? 'local' : 'unicast';
        case 'numgen':
          return pick === 'first' ? 0 : e.mod - 1;
        case 'concat':
          return e.parts.map(evalExpr);
        case 'const':
          return constValue(e.value);
        case 'and':
          return Number(evalExpr(e.left)) & e.mask;
        case 'or':
          return Number(evalExpr(e.left)) | e.bits;
        case 'xor':
          return Number(evalExpr(e.left)) ^ e.bits;
        case 'maplookup': {
          const el = lookup(sets.get(e.map)?.elements ?? [], evalExpr(e.key));
          return el?.data !== undefined && typeof el.data !== 'object' ? el.data : '';
        }
        case 'setref':
        case 'anonset':
          return '';
      }
    };
    const constValue = (v: Value): V => (typeof v === 'object' && 'concat' in v ? v.concat.map(constValue) : (v as V));
    const valueMatches = (key: Value, v: V): boolean => {
      if (typeof key === 'object') {
        if ('concat' in key) return Array.isArray(v) && key.concat.length === v.length && key.concat.every((k, i) => valueMatches(k, v[i] as V));
        if ('prefix' in key) return typeof v === 'string' && cidrContains(`${key.prefix.addr}/${key.prefix.len}`, v);
        const [lo, hi] = key.range;
        return typeof v === 'number' && v >= Number(lo) && v <= Number(hi);
      }
      return key === v;
    };
    const lookup = (elements: Element[], v: V): Element | undefined => elements.find((el) => valueMatches(el.key, v));
    const matchStmt = (s: Extract<Stmt, { kind: 'match' }>): boolean => {
      const left = evalExpr(s.left);
      let hit: boolean;
      if (s.right.kind === 'setref') hit = lookup(sets.get(s.right.name)?.elements ?? [], left) !== undefined;
      else if (s.right.kind === 'anonset') hit = s.right.elements.some((el) => valueMatches(el, left));
      else if (s.right.kind === 'const') hit = valueMatches(s.right.value, left);
      else hit = JSON.stringify(evalExpr(s.right)) === JSON.stringify(left);
      return s.op === '!=' ? !hit : hit;
    };

    const runChain = (name: string, depth: number): 'continue' | 'stop' => {
      if (depth > MAX_DEPTH) throw new Error(`jump depth exceeded at ${name}`);
      for (const r of chains.get(name)?.rules ?? []) {
        count++;
        const res = runRule(r, depth);
        if (res !== 'next') return res;
      }
      return 'continue';
    };
    const follow = (v: Verdict, depth: number): 'next' | 'continue' | 'stop' => {
      switch (v.kind) {
        case 'jump':
          return runChain(v.target, depth + 1) === 'stop' ? 'stop' : 'next';
        case 'goto':
          return runChain(v.target, depth + 1);
        case 'return':
          return 'continue';
        case 'continue':
          return 'next';
        default:
          return 'stop';
      }
    };
    const runRule = (r: Rule, depth: number): 'next' | 'continue' | 'stop' => {
      for (const s of r.stmts) {
        switch (s.kind) {
          case 'match':
            if (!matchStmt(s)) return 'next';
            break;
          case 'verdict': {
            return follow(s.verdict, depth);
          }
          case 'vmap': {
            const el = lookup(sets.get(s.map)?.elements ?? [], evalExpr(s.key));
            if (el === undefined || typeof el.data !== 'object') return 'next';
            return follow(el.data, depth);
          }
          case 'anonvmap': {
            const v = evalExpr(s.key);
            const entry = s.entries.find(([key]) => valueMatches(key, v));
            if (entry === undefined) return 'next';
            return follow(entry[1], depth);
          }
          case 'dnat': {
            const addr = evalExpr(s.addr);
            const port = s.port !== undefined ? evalExpr(s.port) : undefined;
            dnat = port === undefined ? String(addr) : family === 'ip6' ? `[${String(addr)}]:${String(port)}` : `${String(addr)}:${String(port)}`;
            return 'stop';
          }
          case 'reject':
          case 'masquerade':
            return 'stop';
          default:
            break;
        }
      }
      return 'next';
    };

    const hooks = table.chains
      .filter((c) => c.base?.type === 'nat' && c.base.hook === 'prerouting')
      .sort((a, b) => (a.base?.prio ?? 0) - (b.base?.prio ?? 0));
    for (const h of hooks) if (runChain(h.name, 0) === 'stop') break;
  }
  return dnat === undefined ? { rules: count } : { rules: count, dnat };
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
function podSource(clusterCIDRs: string[], family: 4 | 6): string {
  const cidr = clusterCIDRs.find((c) => (c.includes(':') ? 6 : 4) === family);
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
 * layout given as a walker (use `walkIptables` / `walkNft` via the helpers below).
 */
export function rulesPerConnection(
  sps: ServicePort[],
  clusterCIDRs: string[],
  walk: (pkt: Packet) => WalkResult,
): PerConnectionSummary {
  const counts: number[] = [];
  let notDnated = 0;
  for (const sp of sps) {
    if (sp.clusterIP === undefined) continue;
    const r = walk({ family: sp.family, saddr: podSource(clusterCIDRs, sp.family), daddr: sp.clusterIP, protocol: sp.protocol, dport: sp.port });
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
