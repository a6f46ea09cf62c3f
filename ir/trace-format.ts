// Human rendering of a packet trace: the steps all outcomes share once, then each outcome's own
// tail (after the first random choice), then a summary of outcomes with their probabilities.

import type { Outcome, Packet, RuleDetail, TraceEnv, TraceStep } from './interpret.js';
import { endpointKey } from './interpret.js';
import { stableStringify } from './normalize.js';

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const pct = (p: number): string => `${(p * 100).toFixed(1)}%`;

function fraction(p: number): string {
  const inv = 1 / p;
  return Math.abs(inv - Math.round(inv)) < 1e-9 ? `1/${Math.round(inv)}` : p.toFixed(4);
}

export function describePacket(packet: Packet, env: TraceEnv): string {
  const src = endpointKey(packet.src, packet.sport ?? 40000);
  const dst = endpointKey(packet.dst, packet.dport);
  const where = env.sourceIsLocal ? 'from the node itself' : 'from outside the node';
  return `packet ${src} -> ${dst}/${packet.proto} (${packet.family}), ${where}${packet.mark ? `, mark ${hex(packet.mark)}` : ''}`;
}

function detailLine(d: RuleDetail): string {
  switch (d.kind) {
    case 'lookup': {
      const head = `lookup ${d.expr} = ${d.key} in ${d.set}`;
      const res = d.found ? (d.result !== undefined ? ` -> ${d.result}` : ': found') : ': not found';
      const neg = d.negated ? ` (rule wants "not in": ${d.found ? 'no match' : 'match'})` : '';
      return `${head}${res}${neg}${d.comment ? `   # ${d.comment}` : ''}`;
    }
    case 'numgen':
      return `numgen random mod ${d.mod} = ${d.value} (p=${fraction(d.probability)})`;
    case 'mark':
      return `meta mark ${hex(d.from)} -> ${hex(d.to)}`;
    case 'dnat':
      return `DNAT to ${d.port !== undefined ? endpointKey(d.addr, d.port) : d.addr}`;
    case 'masquerade':
      return 'masquerade (SNAT to the address of the outgoing interface)';
    case 'affinity':
      return `affinity: ${d.elem} remembered in @${d.set}${d.timeout !== undefined ? ` for ${d.timeout}s` : ''}`;
    case 'reject':
      return `reject (${d.with === 'tcp-reset' ? 'TCP reset' : 'ICMP port unreachable'})`;
    case 'verdict':
      return `-> ${d.verdict}`;
  }
}

function stepLines(s: TraceStep): string[] {
  switch (s.kind) {
    case 'chain':
      return [`${s.hook.padEnd(11)} ${s.chain} (${s.family} ${s.table}, ${s.type}, prio ${s.prio})${s.loopback ? ' [via lo]' : ''}`];
    case 'nat-skipped':
      return [`${s.hook.padEnd(11)} nat chains not run, the connection already has its NAT binding: ${s.chains.join(', ')}`];
    case 'rule': {
      const head = `  ${s.chain} rule ${s.index}: ${s.text}${s.matched ? '' : '   (no match)'}${s.comment ? `   # ${s.comment}` : ''}`;
      return [head, ...s.details.filter((d) => d.kind !== 'verdict').map((d) => `      ${detailLine(d)}`)];
    }
    case 'return':
      return [`  ${s.chain}: end of chain, back to ${s.to}`];
    case 'verdict':
      return [`  -> ${s.verdict}${s.by === 'policy' ? ' (policy)' : ''}`];
    case 'route': {
      const what = {
        input: 'is local: input',
        forward: 'is not local: forward',
        output: 'is not local: sent out',
        loopback: 'is local: back in through lo',
      }[s.to];
      return [`routing     daddr ${s.daddr} ${what}`];
    }
  }
}

export function describeOutcome(o: Outcome): string {
  const parts: string[] = [];
  if (o.verdict === 'drop') parts.push('DROP');
  else if (o.verdict === 'reject') parts.push(`REJECT (${o.reject === 'tcp-reset' ? 'TCP reset' : 'ICMP port unreachable'})`);
  else {
    parts.push(o.dnat ? `DNAT ${o.dnat.port !== undefined ? endpointKey(o.dnat.addr, o.dnat.port) : o.dnat.addr}` : `ACCEPT ${endpointKey(o.dst.addr, o.dst.port)} (no DNAT)`);
    parts.push(`masquerade: ${o.masquerade ? 'yes' : 'no'}`);
    if (o.delivery === 'local') parts.push('delivered locally');
  }
  for (const r of o.remembered) parts.push(`affinity: ${r.elem} remembered${r.timeout !== undefined ? ` for ${r.timeout}s` : ''}`);
  return parts.join('   ');
}

/** Index of the first step after the hook the tail starts in (the next base chain or routing decision). */
function endOfFirstHook(tail: TraceStep[]): number {
  const i = tail.findIndex((s) => s.kind === 'chain' || s.kind === 'route' || s.kind === 'nat-skipped');
  return i < 0 ? tail.length : i;
}

/** Same chains, rules and verdicts in the same order, whatever the addresses. */
function sameShape(a: TraceStep[], b: TraceStep[]): boolean {
  const shape = (s: TraceStep): string =>
    s.kind === 'rule' ? `rule ${s.chain} ${s.index} ${s.matched} ${s.details.map((d) => d.kind).join(',')}`
    : s.kind === 'chain' ? `chain ${s.hook} ${s.table} ${s.chain}`
    : s.kind === 'route' ? `route ${s.to}`
    : stableStringify(s);
  return a.length === b.length && a.every((s, i) => shape(s) === shape(b[i] as TraceStep));
}

export interface FormatOptions {
  /** Show at most this many per-outcome tails (the summary always lists every outcome). */
  maxBranches?: number;
}

export function formatTrace(packet: Packet, env: TraceEnv, outcomes: Outcome[], opts: FormatOptions = {}): string {
  const lines: string[] = [describePacket(packet, env)];
  const first = outcomes[0];
  if (!first) return lines.concat('no outcome').join('\n') + '\n';
  const keys = outcomes.map((o) => o.steps.map(stableStringify));
  let common = 0;
  while (common < first.steps.length && keys.every((k) => k[common] !== undefined && k[common] === keys[0]?.[common])) common++;
  for (const s of first.steps.slice(0, common)) lines.push(...stepLines(s));

  if (outcomes.length > 1) {
    // The first differing step is usually the rule that drew the random number: summarise it.
    const forks = outcomes.map((o) => o.steps[common]);
    const f0 = forks[0];
    if (f0?.kind === 'rule' && forks.every((f) => f?.kind === 'rule' && f.chain === f0.chain && f.index === f0.index)) {
      const choices = outcomes.map((o) => {
        const s = o.steps[common];
        const n = s?.kind === 'rule' ? s.details.find((d) => d.kind === 'numgen') : undefined;
        return n?.kind === 'numgen' ? `${n.value} (p=${fraction(o.probability)})` : '?';
      });
      lines.push(`  ${f0.chain} rule ${f0.index}: ${f0.text.split(' vmap ')[0] ?? f0.text} -> ${choices.join(' | ')}`);
    }
    const max = opts.maxBranches ?? Infinity;
    const firstTail = first.steps.slice(common);
    outcomes.slice(0, max).forEach((o, i) => {
      lines.push(`branch ${i + 1} (${pct(o.probability)}): ${describeOutcome(o)}`);
      const tail = o.steps.slice(common);
      // After the hook where the branches split, they usually walk the same rules with another
      // address: show that walk once (first branch) and only say so for the others.
      const cut = i === 0 ? tail.length : endOfFirstHook(tail);
      const sameRest = i > 0 && sameShape(tail.slice(cut), firstTail.slice(endOfFirstHook(firstTail)));
      for (const s of sameRest ? tail.slice(0, cut) : tail) lines.push(...stepLines(s).map((l) => `    ${l}`));
      if (sameRest && cut < tail.length) lines.push('    ... then the same rules as branch 1');
    });
    if (outcomes.length > max) lines.push(`... ${outcomes.length - max} more branches (see the outcomes below)`);
  }
  lines.push('outcomes:');
  for (const o of outcomes) lines.push(`  ${pct(o.probability).padStart(6)}  ${describeOutcome(o)}`);
  return lines.join('\n') + '\n';
}
