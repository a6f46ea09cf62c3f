// Invariants every ruleset must hold before it goes near the kernel (issue 11):
//   - no set or map holds two elements with the same key (the kernel refuses the second with
//     EEXIST, and a diff of such sets deletes keys that are still wanted);
//   - no interval set holds overlapping intervals (the kernel refuses them too).
// The compiler resolves conflicts in the model, so a violation here is a compiler bug: it is
// reported with the set and the key, never sent to the kernel.
//
// `checkRuleset` checks everything (tests, CLI). `InvariantChecker` checks only what changed since
// the arrays it checked before: unchanged element arrays are skipped by identity, and an array
// the lowering derived from a checked one (element-delta hint) is checked by updating that
// array's key index with the hint's added and removed elements — O(change) on the daemon's path.

import { parseIp } from './ip.js';
import { elementDeltaHintOf } from './element-delta.js';
import { valueKey } from './normalize.js';
import type { Element, Ruleset, Scalar, SetDef, Value } from './types.js';

export interface InvariantViolation {
  table: string;
  set: string;
  message: string;
}

export class InvariantError extends Error {
  override readonly name = 'InvariantError';
  constructor(readonly violations: InvariantViolation[]) {
    const first = violations[0];
    super(
      `compiler invariant violated (a bug in nftproxy; nothing was sent to the kernel): ${first ? `${first.table} ${first.set}: ${first.message}` : ''}` +
        (violations.length > 1 ? ` (and ${violations.length - 1} more)` : ''),
    );
  }
}

const isInterval = (s: SetDef): boolean => s.flags?.includes('interval') === true;

/** Key counts of one element array; `dups` = keys held more than once. */
interface KeyIndex {
  counts: Map<string, number>;
  dups: Set<string>;
}

function indexAdd(ix: KeyIndex, e: Element): void {
  const k = valueKey(e.key);
  const c = (ix.counts.get(k) ?? 0) + 1;
  ix.counts.set(k, c);
  if (c > 1) ix.dups.add(k);
}

function indexRemove(ix: KeyIndex, e: Element): void {
  const k = valueKey(e.key);
  const c = (ix.counts.get(k) ?? 0) - 1;
  if (c <= 0) ix.counts.delete(k);
  else ix.counts.set(k, c);
  if (c <= 1) ix.dups.delete(k);
}

function buildIndex(elements: readonly Element[]): KeyIndex {
  const ix: KeyIndex = { counts: new Map(), dups: new Set() };
  for (const e of elements) indexAdd(ix, e);
  return ix;
}

const duplicateMessages = (ix: KeyIndex): string[] => [...ix.dups].map((k) => `key ${k} is held by ${ix.counts.get(k)} elements`);

// ---------------------------------------------------------------------------------------------
// Interval sets: every key component is a closed interval (a single value is [v, v]); two
// elements overlap when every component does.

type Interval = [bigint, bigint];

function scalarInterval(s: Scalar): Interval | string {
  if (typeof s === 'number') return [BigInt(s), BigInt(s)];
  const ip = parseIp(s);
  if (ip !== undefined) return [ip.value, ip.value];
  return /^[0-9]+$/.test(s) ? [BigInt(s), BigInt(s)] : s; // symbolic (tcp): compared as text
}

function componentInterval(v: Value): Interval | string {
  if (typeof v === 'string' || typeof v === 'number') return scalarInterval(v);
  if ('prefix' in v) {
    const ip = parseIp(v.prefix.addr);
    if (ip === undefined) return valueKey(v);
    const bits = ip.family === 4 ? 32 : 128;
    const host = (1n << BigInt(bits - v.prefix.len)) - 1n;
    const lo = ip.value & ~host;
    return [lo, lo | host];
  }
  if ('range' in v) {
    const a = scalarInterval(v.range[0]);
    const b = scalarInterval(v.range[1]);
    return typeof a === 'string' || typeof b === 'string' ? valueKey(v) : [a[0], b[1]];
  }
  return valueKey(v);
}

/** Overlapping intervals of one interval set, as messages. O(n log n) for our shapes. */
export function intervalOverlaps(elements: readonly Element[]): string[] {
  const partsOf = (e: Element): Value[] => (typeof e.key === 'object' && 'concat' in e.key ? e.key.concat : [e.key]);
  // Positions where some element holds a prefix or range are intervals for every element; the
  // others are single values, which group the elements (only a group can overlap).
  const intervalAt = new Set<number>();
  for (const e of elements) partsOf(e).forEach((p, i) => typeof p === 'object' && ('prefix' in p || 'range' in p) && intervalAt.add(i));
  const groups = new Map<string, { e: Element; ivs: Interval[] }[]>();
  for (const e of elements) {
    const exact: string[] = [];
    const ivs: Interval[] = [];
    partsOf(e).forEach((p, i) => {
      const iv = intervalAt.has(i) ? componentInterval(p) : valueKey(p);
      if (typeof iv === 'string') exact.push(iv);
      else ivs.push(iv);
    });
    const g = exact.join(' . ') + ` #${ivs.length}`;
    const l = groups.get(g);
    if (l) l.push({ e, ivs });
    else groups.set(g, [{ e, ivs }]);
  }
  const out: string[] = [];
  const overlap = (a: Interval[], b: Interval[]): boolean => a.every((x, i) => x[0] <= (b[i] as Interval)[1] && (b[i] as Interval)[0] <= x[1]);
  for (const list of groups.values()) {
    if (list.length < 2) continue;
    const first = list[0] as { ivs: Interval[] };
    if (first.ivs.length === 1) {
      const sorted = [...list].sort((a, b) => ((a.ivs[0] as Interval)[0] < (b.ivs[0] as Interval)[0] ? -1 : 1));
      let reach = sorted[0] as { e: Element; ivs: Interval[] };
      for (const cur of sorted.slice(1)) {
        if ((cur.ivs[0] as Interval)[0] <= (reach.ivs[0] as Interval)[1]) out.push(`${valueKey(cur.e.key)} overlaps ${valueKey(reach.e.key)}`);
        if ((cur.ivs[0] as Interval)[1] > (reach.ivs[0] as Interval)[1]) reach = cur;
      }
    } else {
      for (let i = 0; i < list.length; i++) {
        for (let j = i + 1; j < list.length; j++) {
          const a = list[i] as { e: Element; ivs: Interval[] };
          const b = list[j] as { e: Element; ivs: Interval[] };
          if (overlap(a.ivs, b.ivs)) out.push(`${valueKey(b.e.key)} overlaps ${valueKey(a.e.key)}`);
        }
      }
    }
  }
  return out;
}

function setViolations(table: string, s: SetDef, ix: KeyIndex): InvariantViolation[] {
  const msgs = duplicateMessages(ix);
  if (isInterval(s)) msgs.push(...intervalOverlaps(s.elements));
  return msgs.map((message) => ({ table, set: s.name, message }));
}

const tableName = (t: { family: string; name: string }): string => `${t.family} ${t.name}`;

/** Every violation in the ruleset (dynamic sets, filled by the packet path, excluded). */
export function checkRuleset(ruleset: Ruleset): InvariantViolation[] {
  const out: InvariantViolation[] = [];
  for (const t of ruleset.tables) {
    for (const s of t.sets) if (!s.dynamic) out.push(...setViolations(tableName(t), s, buildIndex(s.elements)));
  }
  return out;
}

/**
 * Checks rulesets as they are compiled one after the other, looking only at what changed. Element
 * arrays must not be mutated once checked (the lowering copies on write).
 */
export class InvariantChecker {
  /** Key index of each checked array; moved to the array derived from it by a hint. */
  private indexes = new WeakMap<readonly Element[], KeyIndex>();
  /** Violations of each checked array (most are clean: the empty list is shared). */
  private results = new WeakMap<readonly Element[], InvariantViolation[]>();

  check(ruleset: Ruleset): InvariantViolation[] {
    const out: InvariantViolation[] = [];
    for (const t of ruleset.tables) {
      for (const s of t.sets) {
        if (s.dynamic) continue;
        let r = this.results.get(s.elements);
        if (r === undefined) {
          r = setViolations(tableName(t), s, this.indexFor(s.elements));
          this.results.set(s.elements, r);
        }
        out.push(...r);
      }
    }
    return out;
  }

  private indexFor(elements: readonly Element[]): KeyIndex {
    const hint = elementDeltaHintOf(elements);
    const base = hint === undefined ? undefined : this.indexes.get(hint.base);
    let ix: KeyIndex;
    if (hint !== undefined && base !== undefined) {
      // The base array's index becomes this one's: the base is not checked again.
      this.indexes.delete(hint.base);
      for (const e of hint.removed) indexRemove(base, e);
      for (const e of hint.added) indexAdd(base, e);
      ix = base;
    } else ix = buildIndex(elements);
    this.indexes.set(elements, ix);
    return ix;
  }
}

/** Throws InvariantError when the checker finds a violation. */
export function assertInvariants(ruleset: Ruleset, checker?: InvariantChecker): void {
  const v = checker ? checker.check(ruleset) : checkRuleset(ruleset);
  if (v.length > 0) throw new InvariantError(v);
}
