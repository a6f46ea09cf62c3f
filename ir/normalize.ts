// Canonical forms of IR values, so that the diff compares what the kernel compares: an element is
// identified by its key, and two spellings of the same key (port 80 as `80` or `"80"`) must not
// turn into a delete of a key that is about to be re-added, or into an EEXIST.

import type { Element, Rule, Scalar, SetDef, Value, Verdict } from './types.js';

const DECIMAL = /^(0|[1-9][0-9]*)$/;

function scalarKey(s: Scalar): string {
  if (typeof s === 'number') return String(s);
  // Numeric strings are the same kernel value as the number.
  if (DECIMAL.test(s)) return s;
  // IPv6 text has many spellings; lower-case covers the one compilers actually vary on
  // (the model already normalises addresses to the compressed form).
  return s.includes(':') ? s.toLowerCase() : s;
}

/** Canonical string of a set/map key (or any constant value). */
export function valueKey(v: Value): string {
  if (typeof v === 'string' || typeof v === 'number') return scalarKey(v);
  if ('prefix' in v) return `${scalarKey(v.prefix.addr)}/${v.prefix.len}`;
  if ('range' in v) return `${scalarKey(v.range[0])}-${scalarKey(v.range[1])}`;
  let out = '';
  for (let i = 0; i < v.concat.length; i++) {
    const part = v.concat[i] as Value;
    out += (i === 0 ? '' : ' . ') + valueKey(part);
  }
  return out;
}

export function verdictKey(v: Verdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.target}` : v.kind;
}

/** Canonical string of what an element carries besides its key (map data, timeout, comment). */
export function elementPayloadKey(e: Element): string {
  let out = '';
  if (e.data !== undefined) out += typeof e.data === 'object' ? `: ${verdictKey(e.data)}` : `: ${scalarKey(e.data)}`;
  if (e.timeout !== undefined) out += ` timeout ${e.timeout}`;
  if (e.comment !== undefined) out += ` comment ${JSON.stringify(e.comment)}`;
  return out;
}

function sameScalar(a: Scalar, b: Scalar): boolean {
  if (a === b) return true;
  if (typeof a === 'string' && typeof b === 'string') {
    // Only IPv6 spellings differ in case; anything else that is not === is a different value.
    return a.length === b.length && a.includes(':') && a.toLowerCase() === b.toLowerCase();
  }
  return scalarKey(a) === scalarKey(b);
}

/** Structural equality of two values without allocating (the diff's hot loop). */
export function sameValue(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object') {
    return typeof a === 'object' || typeof b === 'object' ? false : sameScalar(a, b);
  }
  if ('concat' in a) {
    if (!('concat' in b) || a.concat.length !== b.concat.length) return false;
    for (let i = 0; i < a.concat.length; i++) if (!sameValue(a.concat[i] as Value, b.concat[i] as Value)) return false;
    return true;
  }
  if ('prefix' in a) return 'prefix' in b && a.prefix.len === b.prefix.len && sameValue(a.prefix.addr, b.prefix.addr);
  return 'range' in b && sameValue(a.range[0], b.range[0]) && sameValue(a.range[1], b.range[1]);
}

function sameData(a: Element['data'], b: Element['data']): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (typeof a === 'object' || typeof b === 'object') {
    if (typeof a !== 'object' || typeof b !== 'object') return false;
    return a.kind === b.kind && (a.kind === 'jump' || a.kind === 'goto' ? a.target === (b as { target: string }).target : true);
  }
  return sameScalar(a, b);
}

/** Same key and same payload: nothing to send for this element. */
export function sameElement(a: Element, b: Element): boolean {
  return a === b || (sameValue(a.key, b.key) && sameData(a.data, b.data) && a.timeout === b.timeout && a.comment === b.comment);
}

/**
 * Stable JSON (object keys sorted) — the structural hash of rules and declarations. Optional
 * properties that are undefined are left out, so `{comment: undefined}` equals `{}`.
 */
export function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return v === undefined ? 'null' : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`;
}

const rulesHashCache = new WeakMap<Rule[], string>();

/** Structural hash of a chain's rule list, cached per array (chains are few, rule lists are reused). */
export function rulesHash(rules: Rule[]): string {
  let h = rulesHashCache.get(rules);
  if (h === undefined) {
    h = stableStringify(rules);
    rulesHashCache.set(rules, h);
  }
  return h;
}

/** What makes two set declarations the same kernel object (elements excluded). */
export function setDeclKey(s: Omit<SetDef, 'elements'>): string {
  return stableStringify({
    keyType: s.keyType,
    dataType: s.dataType,
    flags: s.flags ? [...s.flags].sort() : [],
    timeout: s.timeout,
    size: s.size,
    dynamic: s.dynamic === true,
  });
}
