// A pure interpreter of the IR: follows one NEW connection's first packet through the netfilter
// hooks the way the kernel does, and returns every possible outcome with its probability.
//
// It knows nothing about Services: it executes chains, rules, statements, expressions and set/map
// lookups. That is the point — `nftproxy trace` explains what the compiled program does, and the
// e2e tests check that the interpreter's predictions match what real packets do.
//
// Kernel behaviours reproduced here (net/netfilter/nf_tables_core.c, nf_nat_core.c):
// - rules run in order; a failing match (or a map lookup without an entry, including a verdict
//   map) ends the rule and evaluation continues with the next rule;
// - `jump` pushes the next rule as return point (stack depth 16), `goto` does not, `return` and
//   the end of a regular chain pop; at an empty stack the base chain's policy applies;
// - `accept` ends this base chain only; the next base chain of the hook, then the next hook, run;
//   `drop` and `reject` end everything;
// - nat base chains do not run at their own priority: the NAT core runs them, ordered by their
//   priority, at its fixed place in the hook (-100 for prerouting/output, 100 for input/
//   postrouting), only while the connection has no binding for that manipulation (destination
//   for prerouting/output, source for input/postrouting), and stops after the first chain that
//   creates one; a NAT statement accepts at once. After the hook the binding exists (possibly a
//   null binding), so a locally generated packet looping back through `lo` does not run them again;
// - `numgen random mod N` forks the evaluation into N branches of probability 1/N each;
// - dynamic sets (filled from the packet path) are empty: this is the connection's first packet.

import type { Chain, Element, Expr, Family, Hook, Rule, Ruleset, SetDef, Stmt, Table, Value, Verdict } from './types.js';
import { bigIntToIp, parseIp, type IpFamilyNumber } from './ip.js';
import { printExpr, printRule, printVerdict } from './print.js';

// ---------------------------------------------------------------------------------------------
// Public types

export type L4Proto = 'tcp' | 'udp' | 'sctp';

export interface Packet {
  family: Family;
  src: string;
  dst: string;
  proto: L4Proto;
  /** Source port; 40000 when not given (it only matters to rules that look at it). */
  sport?: number;
  dport: number;
  /** Initial packet mark (default 0). */
  mark?: number;
  /** Interface the packet arrives on when it does not come from the node (default "eth0"). */
  iifname?: string;
}

export interface TraceEnv {
  /** The node's addresses (`fib ... type local`); loopback is always local. */
  localAddresses: string[];
  /** The packet originates on the node: output path instead of prerouting. */
  sourceIsLocal: boolean;
}

export type TraceVerdict = 'accept' | 'drop' | 'reject';
export type RejectKind = Extract<Stmt, { kind: 'reject' }>['with'];

/** What happened inside one rule, in order. */
export type RuleDetail =
  | { kind: 'lookup'; expr: string; key: string; set: string; found: boolean; negated: boolean; result?: string; comment?: string }
  | { kind: 'numgen'; mod: number; value: number; probability: number }
  | { kind: 'mark'; from: number; to: number }
  | { kind: 'dnat'; addr: string; port?: number }
  | { kind: 'masquerade' }
  | { kind: 'affinity'; set: string; elem: string; timeout?: number }
  | { kind: 'reject'; with: RejectKind }
  | { kind: 'verdict'; verdict: string };

export type TraceStep =
  /**
   * A base chain starts; `loopback` marks the second pass of a locally generated packet to a local
   * address. `rules`: rules evaluated (matched or not) from this base chain, including the chains it
   * jumped to, until its verdict — the cost the benchmark reports as "rules per new connection".
   */
  | { kind: 'chain'; hook: Hook; table: string; family: Family; chain: string; type: 'filter' | 'nat'; prio: number; loopback?: boolean; rules: number }
  /** NAT chains of a hook not run because the connection already has a binding for that manipulation. */
  | { kind: 'nat-skipped'; hook: Hook; chains: string[] }
  /**
   * A rule that matched (ran to its end or to a verdict), or that looked something up before
   * failing (so the trace shows why). `index` is 1-based.
   */
  | { kind: 'rule'; chain: string; index: number; text: string; comment?: string; matched: boolean; details: RuleDetail[] }
  /** End of a regular chain reached: implicit return. */
  | { kind: 'return'; chain: string; to: string }
  /** End of a base chain's evaluation: by a rule's verdict or by the policy. */
  | { kind: 'verdict'; chain: string; verdict: TraceVerdict; by: 'rule' | 'policy' }
  /** Routing decision for the (possibly rewritten) destination. */
  | { kind: 'route'; daddr: string; to: 'input' | 'forward' | 'output' | 'loopback' };

export interface Outcome {
  probability: number;
  verdict: TraceVerdict;
  dnat?: { addr: string; port?: number };
  masquerade: boolean;
  reject?: RejectKind;
  /** For accepted packets: delivered to a local address of the node, or sent/forwarded away. */
  delivery?: 'local' | 'remote';
  /** Final destination after NAT. */
  dst: { addr: string; port: number };
  /** Final packet mark. */
  mark: number;
  /** Dynamic-set updates (session affinity): what the kernel would remember for later packets. */
  remembered: { set: string; elem: string; timeout?: number }[];
  /** How many evaluation branches were merged into this outcome. */
  paths: number;
  /** The path of the first merged branch. */
  steps: TraceStep[];
}

export class TraceError extends Error {}

// ---------------------------------------------------------------------------------------------
// Runtime values

/** One field of a key: an address, a number (shown as protocol/port/mark) or a symbol (ct state, fib type). */
type Atom =
  | { t: 'ip'; fam: IpFamilyNumber; v: bigint }
  | { t: 'num'; v: bigint; as?: 'proto' | 'port' | 'mark' }
  | { t: 'sym'; v: string };

const protoNumbers: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, 'ipv6-icmp': 58, sctp: 132 };
const protoNames: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };

function showAtom(a: Atom): string {
  if (a.t === 'ip') return bigIntToIp(a.v, a.fam);
  if (a.t === 'sym') return a.v;
  if (a.as === 'proto') return protoNames[Number(a.v)] ?? String(a.v);
  if (a.as === 'mark') return `0x${a.v.toString(16)}`;
  return String(a.v);
}
const showKey = (k: Atom[]): string => k.map(showAtom).join(' . ');

function scalarAtom(s: string | number): Atom {
  if (typeof s === 'number') return { t: 'num', v: BigInt(s) };
  const ip = parseIp(s);
  if (ip) return { t: 'ip', fam: ip.family, v: ip.value };
  if (/^(0|[1-9][0-9]*)$/.test(s) || /^0x[0-9a-f]+$/i.test(s)) return { t: 'num', v: BigInt(s) };
  const proto = protoNumbers[s];
  if (proto !== undefined) return { t: 'num', v: BigInt(proto), as: 'proto' };
  return { t: 'sym', v: s };
}

/** Canonical string of an exact key, for hashing. */
function atomId(a: Atom): string {
  return a.t === 'ip' ? `i${a.fam}:${a.v}` : a.t === 'num' ? `n:${a.v}` : `s:${a.v}`;
}
const keyId = (k: Atom[]): string => k.map(atomId).join('|');

function compare(a: Atom, b: Atom): number | undefined {
  if (a.t === 'ip' && b.t === 'ip') return a.fam !== b.fam ? undefined : a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
  if (a.t === 'num' && b.t === 'num') return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
  if (a.t === 'sym' && b.t === 'sym') return a.v === b.v ? 0 : undefined;
  return undefined;
}

/** An element key as per-field closed intervals (a plain value is a one-point interval). */
type Pattern = { lo: Atom; hi: Atom }[];

function fieldPattern(v: Value): { lo: Atom; hi: Atom } {
  if (typeof v === 'string' || typeof v === 'number') {
    const a = scalarAtom(v);
    return { lo: a, hi: a };
  }
  if ('prefix' in v) {
    const ip = parseIp(v.prefix.addr);
    if (!ip) throw new TraceError(`invalid prefix address ${v.prefix.addr}`);
    const bits = BigInt(ip.family === 4 ? 32 : 128);
    const host = (1n << (bits - BigInt(v.prefix.len))) - 1n;
    return { lo: { t: 'ip', fam: ip.family, v: ip.value & ~host }, hi: { t: 'ip', fam: ip.family, v: (ip.value & ~host) | host } };
  }
  if ('range' in v) return { lo: scalarAtom(v.range[0]), hi: scalarAtom(v.range[1]) };
  throw new TraceError('nested concatenation in a set element');
}

function pattern(v: Value): Pattern {
  return typeof v === 'object' && 'concat' in v ? v.concat.map(fieldPattern) : [fieldPattern(v)];
}

const isPoint = (p: Pattern): boolean => p.every((f) => compare(f.lo, f.hi) === 0);

function patternMatches(p: Pattern, key: Atom[]): boolean {
  if (p.length !== key.length) return false;
  for (let i = 0; i < p.length; i++) {
    const f = p[i] as Pattern[number];
    const k = key[i] as Atom;
    const lo = compare(k, f.lo);
    const hi = compare(k, f.hi);
    if (lo === undefined || hi === undefined || lo < 0 || hi > 0) return false;
  }
  return true;
}

/** Point elements hashed, interval elements scanned (kernel: hash/rbtree/pipapo, same answers). */
interface SetIndex {
  points: Map<string, Element>;
  intervals: { p: Pattern; e: Element }[];
}

const indexCache = new WeakMap<SetDef, SetIndex>();

function indexOf(s: SetDef): SetIndex {
  let idx = indexCache.get(s);
  if (!idx) {
    idx = { points: new Map(), intervals: [] };
    // Dynamic sets are filled by the packet path; for a first packet they are empty.
    if (!s.dynamic) {
      for (const e of s.elements) {
        const p = pattern(e.key);
        if (isPoint(p)) {
          const id = keyId(p.map((f) => f.lo));
          // The kernel refuses a set holding one key twice (EEXIST), so no packet ever sees one:
          // say so instead of picking one of the values (ir/invariants.ts keeps compiled
          // rulesets free of this).
          if (idx.points.has(id)) throw new Error(`set ${s.name} holds the key ${p.map((f) => String(f.lo)).join(' . ')} twice: the kernel refuses this ruleset`);
          idx.points.set(id, e);
        } else idx.intervals.push({ p, e });
      }
    }
    indexCache.set(s, idx);
  }
  return idx;
}

function lookupElement(s: SetDef, key: Atom[]): Element | undefined {
  const idx = indexOf(s);
  return idx.points.get(keyId(key)) ?? idx.intervals.find((i) => patternMatches(i.p, key))?.e;
}

/** A string constant ending in an unescaped `*` (nft's prefix match for interface names). */
const isWildcard = (v: Value): v is string => typeof v === 'string' && v.endsWith('*') && !v.endsWith('\\*');

// ---------------------------------------------------------------------------------------------
// One evaluation branch

interface PacketState {
  fam: IpFamilyNumber;
  src: bigint;
  dst: bigint;
  sport: bigint;
  dport: bigint;
  proto: bigint;
  mark: number;
}

/** Replays numgen choices for one branch and records the forks it meets. */
class Chooser {
  readonly taken: number[] = [];
  readonly sizes: number[] = [];
  probability = 1;
  constructor(private readonly preset: number[]) {}
  choose(n: number): number {
    const i = this.taken.length;
    const c = i < this.preset.length ? (this.preset[i] as number) : 0;
    this.taken.push(c);
    this.sizes.push(n);
    this.probability /= n;
    return c;
  }
}

type Terminal = { verdict: 'drop' } | { verdict: 'reject'; with: RejectKind };

/** Result of running one rule. */
type RuleResult =
  | { kind: 'next' }
  | { kind: 'verdict'; verdict: Verdict }
  | { kind: 'nat' }
  | { kind: 'terminal'; t: Terminal };

const MAX_JUMP_DEPTH = 16;
const MAX_RULES_PER_BRANCH = 100_000;
const MAX_BRANCHES = 100_000;
const NAT_CORE_PRIO: Record<Hook, number> = { prerouting: -100, output: -100, input: 100, postrouting: 100, forward: 0 };
const manipOf = (h: Hook): 'dst' | 'src' | undefined =>
  h === 'prerouting' || h === 'output' ? 'dst' : h === 'input' || h === 'postrouting' ? 'src' : undefined;

interface BranchResult {
  outcome: Omit<Outcome, 'probability' | 'paths'>;
  chooser: Chooser;
}

class Branch {
  readonly steps: TraceStep[] = [];
  readonly st: PacketState;
  readonly remembered: Outcome['remembered'] = [];
  dnat?: { addr: string; port?: number };
  masquerade = false;
  private natDone = { dst: false, src: false };
  private natThisHook = false;
  private rulesRun = 0;
  /** `meta iifname`: the arrival interface, "" on the output path, "lo" for the loopback pass. */
  private iif: string;
  private readonly local: Set<string>;

  constructor(
    private readonly tables: Table[],
    private readonly sets: Map<string, SetDef>,
    packet: Packet,
    env: TraceEnv,
    readonly chooser: Chooser,
  ) {
    const src = parseIp(packet.src);
    const dst = parseIp(packet.dst);
    const fam: IpFamilyNumber = packet.family === 'ip' ? 4 : 6;
    if (!src || src.family !== fam) throw new TraceError(`source ${packet.src} is not an ${packet.family === 'ip' ? 'IPv4' : 'IPv6'} address`);
    if (!dst || dst.family !== fam) throw new TraceError(`destination ${packet.dst} is not an ${packet.family === 'ip' ? 'IPv4' : 'IPv6'} address`);
    this.st = {
      fam,
      src: src.value,
      dst: dst.value,
      sport: BigInt(packet.sport ?? 40000),
      dport: BigInt(packet.dport),
      proto: BigInt(protoNumbers[packet.proto] as number),
      mark: (packet.mark ?? 0) >>> 0,
    };
    this.iif = env.sourceIsLocal ? '' : (packet.iifname ?? 'eth0');
    this.local = new Set(env.localAddresses.map((a) => parseIp(a)).filter((a) => a !== undefined).map((a) => `${a.family}:${a.value}`));
  }

  isLocal(fam: IpFamilyNumber, v: bigint): boolean {
    if (fam === 4 && v >> 24n === 127n) return true;
    if (fam === 6 && v === 1n) return true;
    return this.local.has(`${fam}:${v}`);
  }

  /** Runs the hooks of a new connection; returns a terminal verdict or undefined (accepted). */
  run(sourceIsLocal: boolean): Terminal | undefined {
    const dstText = (): string => bigIntToIp(this.st.dst, this.st.fam);
    if (!sourceIsLocal) {
      const t = this.hook('prerouting');
      if (t) return t;
      if (this.isLocal(this.st.fam, this.st.dst)) {
        this.steps.push({ kind: 'route', daddr: dstText(), to: 'input' });
        return this.hook('input');
      }
      this.steps.push({ kind: 'route', daddr: dstText(), to: 'forward' });
      return this.hook('forward') ?? this.hook('postrouting');
    }
    const t = this.hook('output') ?? this.hook('postrouting');
    if (t) return t;
    if (this.isLocal(this.st.fam, this.st.dst)) {
      // A locally generated packet to a local address comes back in through `lo`.
      this.steps.push({ kind: 'route', daddr: dstText(), to: 'loopback' });
      this.iif = 'lo';
      return this.hook('prerouting', true) ?? this.hook('input', true);
    }
    this.steps.push({ kind: 'route', daddr: dstText(), to: 'output' });
    return undefined;
  }

  private hook(hook: Hook, loopback = false): Terminal | undefined {
    type Entry = { table: Table; chain: Chain; prio: number; order: number; nat: boolean };
    const entries: Entry[] = [];
    let order = 0;
    for (const table of this.tables) {
      for (const chain of table.chains) {
        if (chain.base?.hook !== hook) continue;
        const nat = chain.base.type === 'nat';
        entries.push({ table, chain, prio: nat ? NAT_CORE_PRIO[hook] : chain.base.prio, order: order++, nat });
      }
    }
    entries.sort((a, b) => a.prio - b.prio || (a.nat === b.nat ? 0 : a.nat ? 1 : -1) || (a.nat ? (a.chain.base?.prio ?? 0) - (b.chain.base?.prio ?? 0) : 0) || a.order - b.order);
    const manip = manipOf(hook);
    let skipped = false;
    for (const e of entries) {
      if (e.nat) {
        if (manip === undefined || this.natDone[manip]) {
          if (!skipped) {
            this.steps.push({ kind: 'nat-skipped', hook, chains: entries.filter((x) => x.nat).map((x) => x.chain.name) });
            skipped = true;
          }
          continue;
        }
      }
      this.natThisHook = false;
      const base = e.chain.base as NonNullable<Chain['base']>;
      const step: Extract<TraceStep, { kind: 'chain' }> = {
        kind: 'chain',
        hook,
        table: e.table.name,
        family: e.table.family,
        chain: e.chain.name,
        type: base.type,
        prio: base.prio,
        ...(loopback ? { loopback } : {}),
        rules: 0,
      };
      this.steps.push(step);
      const before = this.rulesRun;
      const t = this.chain(e.table, e.chain);
      step.rules = this.rulesRun - before;
      if (t) return t;
      if (e.nat && this.natThisHook && manip) this.natDone[manip] = true;
    }
    // The NAT core gives the connection a (null) binding at each NAT hook it passes.
    if (manip && entries.some((e) => e.nat)) this.natDone[manip] = true;
    return undefined;
  }

  /** Runs a base chain; undefined means accepted at this base chain. */
  private chain(table: Table, base: Chain): Terminal | undefined {
    const stack: { chain: Chain; next: number }[] = [];
    let chain = base;
    let i = 0;
    const policy = (): Terminal | undefined => {
      const p = base.base?.policy ?? 'accept';
      this.steps.push({ kind: 'verdict', chain: base.name, verdict: p, by: 'policy' });
      return p === 'drop' ? { verdict: 'drop' } : undefined;
    };
    const find = (name: string): Chain => {
      const c = table.chains.find((x) => x.name === name);
      if (!c) throw new TraceError(`chain ${name} (target of a jump/goto in ${chain.name}) does not exist in table ${table.family} ${table.name}`);
      if (c.base) throw new TraceError(`chain ${name} is a base chain and cannot be a jump/goto target`);
      return c;
    };
    for (;;) {
      if (i >= chain.rules.length) {
        const top = stack.pop();
        if (!top) return policy();
        this.steps.push({ kind: 'return', chain: chain.name, to: top.chain.name });
        chain = top.chain;
        i = top.next;
        continue;
      }
      if (++this.rulesRun > MAX_RULES_PER_BRANCH) throw new TraceError(`more than ${MAX_RULES_PER_BRANCH} rules evaluated: a loop in the ruleset?`);
      const res = this.rule(table, chain, i, chain.rules[i] as Rule);
      if (res.kind === 'next') {
        i++;
        continue;
      }
      if (res.kind === 'nat') {
        this.steps.push({ kind: 'verdict', chain: base.name, verdict: 'accept', by: 'rule' });
        return undefined;
      }
      if (res.kind === 'terminal') {
        this.steps.push({ kind: 'verdict', chain: base.name, verdict: res.t.verdict, by: 'rule' });
        return res.t;
      }
      const v = res.verdict;
      switch (v.kind) {
        case 'accept':
          this.steps.push({ kind: 'verdict', chain: base.name, verdict: 'accept', by: 'rule' });
          return undefined;
        case 'drop':
          this.steps.push({ kind: 'verdict', chain: base.name, verdict: 'drop', by: 'rule' });
          return { verdict: 'drop' };
        case 'continue':
          i++;
          continue;
        case 'return': {
          const top = stack.pop();
          if (!top) return policy();
          chain = top.chain;
          i = top.next;
          continue;
        }
        case 'jump':
          if (stack.length >= MAX_JUMP_DEPTH) throw new TraceError(`jump stack deeper than ${MAX_JUMP_DEPTH} at ${chain.name}`);
          stack.push({ chain, next: i + 1 });
          chain = find(v.target);
          i = 0;
          continue;
        case 'goto':
          chain = find(v.target);
          i = 0;
          continue;
      }
    }
  }

  private rule(table: Table, chain: Chain, index: number, rule: Rule): RuleResult {
    const details: RuleDetail[] = [];
    const record = (matched: boolean): void => {
      if (!matched && !details.some((d) => d.kind === 'lookup' || d.kind === 'numgen')) return;
      this.steps.push({
        kind: 'rule',
        chain: chain.name,
        index: index + 1,
        text: printRule(rule),
        ...(rule.comment !== undefined ? { comment: rule.comment } : {}),
        matched,
        details,
      });
    };
    const verdictOf = (v: Verdict): RuleResult => {
      details.push({ kind: 'verdict', verdict: printVerdict(v) });
      record(true);
      return { kind: 'verdict', verdict: v };
    };
    for (const s of rule.stmts) {
      switch (s.kind) {
        case 'match': {
          if (!this.match(table, s, details)) {
            record(false);
            return { kind: 'next' };
          }
          break;
        }
        case 'verdict':
          if (s.verdict.kind === 'continue') break;
          return verdictOf(s.verdict);
        case 'vmap':
        case 'anonvmap': {
          const key = this.eval(table, s.key, details);
          if (!key) {
            record(false);
            return { kind: 'next' };
          }
          let found: { verdict: Verdict; comment?: string } | undefined;
          let setName: string;
          if (s.kind === 'vmap') {
            const m = this.set(table, s.map);
            setName = `@${s.map}`;
            const e = lookupElement(m, key);
            if (e && typeof e.data === 'object') found = { verdict: e.data, ...(e.comment !== undefined ? { comment: e.comment } : {}) };
          } else {
            setName = 'anonymous map';
            const hit = s.entries.find(([k]) => patternMatches(pattern(k), key));
            if (hit) found = { verdict: hit[1] };
          }
          details.push({
            kind: 'lookup',
            expr: printExpr(s.key),
            key: showKey(key),
            set: setName,
            found: !!found,
            negated: false,
            ...(found ? { result: printVerdict(found.verdict) } : {}),
            ...(found?.comment !== undefined ? { comment: found.comment } : {}),
          });
          // A verdict map without an entry for the key ends the rule (NFT_BREAK).
          if (!found) {
            record(false);
            return { kind: 'next' };
          }
          if (found.verdict.kind === 'continue') break;
          record(true);
          return { kind: 'verdict', verdict: found.verdict };
        }
        case 'counter':
          break;
        case 'setmark': {
          const v = this.eval(table, s.value, details);
          if (!v || v.length !== 1 || (v[0] as Atom).t !== 'num') {
            record(false);
            return { kind: 'next' };
          }
          const to = Number((v[0] as { v: bigint }).v & 0xffffffffn) >>> 0;
          details.push({ kind: 'mark', from: this.st.mark, to });
          this.st.mark = to;
          break;
        }
        case 'dnat': {
          // Address and port are read from the packet before it is rewritten.
          const a = this.eval(table, s.addr, details);
          const p = s.port ? this.eval(table, s.port, details) : undefined;
          if (!a || (s.port && !p)) {
            record(false);
            return { kind: 'next' };
          }
          const addr = a[0];
          if (a.length !== 1 || addr?.t !== 'ip' || addr.fam !== this.st.fam) throw new TraceError(`dnat address in ${chain.name} is not an address of the packet's family`);
          const port = p?.[0];
          if (p && (p.length !== 1 || port?.t !== 'num')) throw new TraceError(`dnat port in ${chain.name} is not a number`);
          this.st.dst = addr.v;
          const d: { addr: string; port?: number } = { addr: bigIntToIp(addr.v, addr.fam) };
          if (port?.t === 'num') {
            this.st.dport = port.v;
            d.port = Number(port.v);
          }
          this.dnat = d;
          this.natThisHook = true;
          details.push({ kind: 'dnat', ...d });
          record(true);
          return { kind: 'nat' };
        }
        case 'masquerade':
          this.masquerade = true;
          this.natThisHook = true;
          details.push({ kind: 'masquerade' });
          record(true);
          return { kind: 'nat' };
        case 'reject':
          details.push({ kind: 'reject', with: s.with });
          record(true);
          return { kind: 'terminal', t: { verdict: 'reject', with: s.with } };
        case 'setupdate': {
          const v = this.eval(table, s.elem, details);
          if (!v) {
            record(false);
            return { kind: 'next' };
          }
          const def = this.set(table, s.set);
          const timeout = s.timeout ?? def.timeout;
          const a = { set: s.set, elem: showKey(v), ...(timeout !== undefined ? { timeout } : {}) };
          this.remembered.push(a);
          details.push({ kind: 'affinity', ...a });
          break;
        }
      }
    }
    record(true);
    return { kind: 'next' };
  }

  private set(table: Table, name: string): SetDef {
    const s = this.sets.get(`${table.family} ${table.name} ${name}`);
    if (!s) throw new TraceError(`set/map @${name} does not exist in table ${table.family} ${table.name}`);
    return s;
  }

  private match(table: Table, s: Extract<Stmt, { kind: 'match' }>, details: RuleDetail[]): boolean {
    const left = this.eval(table, s.left, details);
    if (!left) return false;
    const negated = s.op === '!=';
    let found: boolean;
    const r = s.right;
    if (r.kind === 'setref') {
      const def = this.set(table, r.name);
      found = lookupElement(def, left) !== undefined;
      details.push({ kind: 'lookup', expr: printExpr(s.left), key: showKey(left), set: `@${r.name}`, found, negated });
    } else if (r.kind === 'anonset') {
      found = r.elements.some((e) => patternMatches(pattern(e), left));
    } else if (r.kind === 'const' && isWildcard(r.value) && left.length === 1 && left[0]?.t === 'sym') {
      // nft's interface-name wildcard: "veth*" matches every name starting with "veth".
      found = left[0].v.startsWith(r.value.slice(0, -1));
    } else if (r.kind === 'const') {
      found = patternMatches(pattern(r.value), left);
    } else {
      const right = this.eval(table, r, details);
      if (!right) return false;
      found = right.length === left.length && right.every((a, i) => compare(a, left[i] as Atom) === 0);
    }
    return negated ? !found : found;
  }

  /** Evaluates an expression on the packet; undefined makes the rule end (like NFT_BREAK). */
  private eval(table: Table, e: Expr, details: RuleDetail[]): Atom[] | undefined {
    const st = this.st;
    switch (e.kind) {
      case 'payload':
        if (e.protocol === 'th') return [{ t: 'num', v: e.field === 'sport' ? st.sport : st.dport, as: 'port' }];
        if ((e.protocol === 'ip') !== (st.fam === 4)) return undefined;
        return [{ t: 'ip', fam: st.fam, v: e.field === 'saddr' ? st.src : st.dst }];
      case 'meta':
        if (e.key === 'l4proto') return [{ t: 'num', v: st.proto, as: 'proto' }];
        if (e.key === 'mark') return [{ t: 'num', v: BigInt(st.mark), as: 'mark' }];
        if (e.key === 'iifname') return [{ t: 'sym', v: this.iif }];
        return [{ t: 'sym', v: st.fam === 4 ? 'ipv4' : 'ipv6' }];
      case 'ct':
        // First packet of a connection: state new, no status bits of interest.
        return [{ t: 'sym', v: e.key === 'state' ? 'new' : '' }];
      case 'fib': {
        const v = e.lookup === 'saddr' ? st.src : st.dst;
        return [{ t: 'sym', v: this.isLocal(st.fam, v) ? 'local' : 'unicast' }];
      }
      case 'numgen': {
        const value = this.chooser.choose(e.mod);
        details.push({ kind: 'numgen', mod: e.mod, value, probability: 1 / e.mod });
        return [{ t: 'num', v: BigInt(value) }];
      }
      case 'concat': {
        const out: Atom[] = [];
        for (const p of e.parts) {
          const v = this.eval(table, p, details);
          if (!v) return undefined;
          out.push(...v);
        }
        return out;
      }
      case 'const': {
        const p = pattern(e.value);
        if (!isPoint(p)) throw new TraceError(`an interval (${printExpr(e)}) cannot be used as a value`);
        return p.map((f) => f.lo);
      }
      case 'setref':
      case 'anonset':
        throw new TraceError(`a set (${printExpr(e)}) cannot be used as a value`);
      case 'maplookup': {
        const key = this.eval(table, e.key, details);
        if (!key) return undefined;
        const def = this.set(table, e.map);
        const el = lookupElement(def, key);
        const data = el?.data;
        const value = data === undefined || typeof data === 'object' ? undefined : scalarAtom(data);
        if (value?.t === 'num' && def.dataType === 'inet_service') value.as = 'port';
        if (value?.t === 'num' && def.dataType === 'mark') value.as = 'mark';
        details.push({
          kind: 'lookup',
          expr: printExpr(e.key),
          key: showKey(key),
          set: `@${e.map}`,
          found: value !== undefined,
          negated: false,
          ...(value ? { result: showAtom(value) } : {}),
          ...(el?.comment !== undefined ? { comment: el.comment } : {}),
        });
        return value ? [value] : undefined;
      }
      case 'and':
      case 'or':
      case 'xor': {
        const v = this.eval(table, e.left, details);
        const a = v?.[0];
        if (!v || v.length !== 1 || a?.t !== 'num') return undefined;
        const n = e.kind === 'and' ? a.v & BigInt(e.mask >>> 0) : e.kind === 'or' ? a.v | BigInt(e.bits >>> 0) : a.v ^ BigInt(e.bits >>> 0);
        return [{ t: 'num', v: n, ...(a.as ? { as: a.as } : {}) }];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Driver

function outcomeOf(b: Branch, t: Terminal | undefined): Omit<Outcome, 'probability' | 'paths'> {
  const st = b.st;
  const base = {
    masquerade: b.masquerade,
    dst: { addr: bigIntToIp(st.dst, st.fam), port: Number(st.dport) },
    mark: st.mark,
    remembered: b.remembered,
    steps: b.steps,
    ...(b.dnat ? { dnat: b.dnat } : {}),
  };
  if (t?.verdict === 'drop') return { verdict: 'drop', ...base };
  if (t?.verdict === 'reject') return { verdict: 'reject', reject: t.with, ...base };
  return { verdict: 'accept', delivery: b.isLocal(st.fam, st.dst) ? 'local' : 'remote', ...base };
}

function runBranch(tables: Table[], sets: Map<string, SetDef>, packet: Packet, env: TraceEnv, preset: number[]): BranchResult {
  const chooser = new Chooser(preset);
  const b = new Branch(tables, sets, packet, env, chooser);
  const t = b.run(env.sourceIsLocal);
  return { outcome: outcomeOf(b, t), chooser };
}

const outcomeKey = (o: Omit<Outcome, 'probability' | 'paths'>): string =>
  JSON.stringify([o.verdict, o.reject ?? '', o.dnat ?? null, o.masquerade, o.delivery ?? '', o.dst]);

/**
 * Every outcome of a NEW connection's first packet, with probabilities summing to 1. Branches
 * that end the same way (same verdict, same DNAT target, same masquerade) are merged.
 */
export function traceConnection(ruleset: Ruleset, packet: Packet, env: TraceEnv): Outcome[] {
  const tables = ruleset.tables.filter((t) => t.family === packet.family);
  const sets = new Map<string, SetDef>();
  for (const t of tables) for (const s of t.sets) sets.set(`${t.family} ${t.name} ${s.name}`, s);
  const merged = new Map<string, Outcome>();
  let preset: number[] = [];
  for (let n = 0; ; n++) {
    if (n >= MAX_BRANCHES) throw new TraceError(`more than ${MAX_BRANCHES} evaluation branches`);
    const { outcome, chooser } = runBranch(tables, sets, packet, env, preset);
    const key = outcomeKey(outcome);
    const prev = merged.get(key);
    if (prev) {
      prev.probability += chooser.probability;
      prev.paths++;
    } else merged.set(key, { probability: chooser.probability, paths: 1, ...outcome });
    // Depth-first enumeration of the numgen choices: advance the last fork that has choices left.
    let i = chooser.taken.length - 1;
    while (i >= 0 && (chooser.taken[i] as number) >= (chooser.sizes[i] as number) - 1) i--;
    if (i < 0) break;
    preset = [...chooser.taken.slice(0, i), (chooser.taken[i] as number) + 1];
  }
  return [...merged.values()];
}

/** Canonical "ip:port" (IPv6: "[ip]:port") of an address and port. */
export function endpointKey(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/**
 * Where accepted connections end up ("ip:port" → probability): the DNAT target, or the original
 * destination when nothing rewrote it. Dropped and rejected outcomes are not destinations.
 */
export function predictedEndpoints(outcomes: Outcome[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of outcomes) {
    if (o.verdict !== 'accept') continue;
    const k = endpointKey(o.dst.addr, o.dst.port);
    out.set(k, (out.get(k) ?? 0) + o.probability);
  }
  return out;
}

/** Probability of each verdict (accept/drop/reject), for checks that only care about the fate. */
export function verdictProbabilities(outcomes: Outcome[]): Record<TraceVerdict, number> {
  const out: Record<TraceVerdict, number> = { accept: 0, drop: 0, reject: 0 };
  for (const o of outcomes) out[o.verdict] += o.probability;
  return out;
}
