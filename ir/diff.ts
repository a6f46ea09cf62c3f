// IR(before) × IR(after) → the minimal transaction that turns a kernel holding `before` into one
// holding `after`, in an order nft 1.0.6 and the kernel accept inside ONE batch:
//
//   1. add new sets and chains (declarations only) — nothing references them yet
//   2. flush every chain whose rules change or that is about to be deleted/re-created, and every
//      chain whose unchanged rules reference a set/chain that is re-created: this drops rule
//      references that would make a later delete fail with EBUSY
//   3. delete elements of surviving sets (removed keys, and the old value of changed keys) —
//      this also drops verdict-map references to chains that go away
//   4. delete removed and re-created sets, then removed and re-created chains
//   5. add re-created sets and chains
//   6. add elements (new keys, new value of changed keys, all elements of new/re-created sets)
//   7. add the rules of every new, re-created or flushed chain, in order
//
// Nothing is deleted that `before` does not have (nft 1.0.6 has no `destroy`). Elements of
// dynamic sets belong to the packet path and are never touched. Cost is O(changed elements)
// when unchanged elements are shared between the two rulesets (same objects), O(elements) with a
// small constant otherwise; chains and sets are few by design and compared by structural hash.

import type { Command, Transaction } from './transaction.js';
import type { Chain, Element, Family, SetDef, Table } from './types.js';
import { elementPayloadKey, rulesHash, sameElement, setDeclKey, stableStringify, valueKey } from './normalize.js';
import { rulesRefs } from './references.js';
import { elementDeltaHint } from './element-delta.js';

interface ElementDelta {
  removed: Element[];
  added: Element[];
}

/** How far ahead to look for the next common element after a mismatch in the aligned walk. */
const LOOKAHEAD = 16;

/**
 * Elements of `before` not in `after` and vice versa, a changed payload counting as one of each.
 * Walks both arrays in order — compilers emit elements in a stable order and reuse unchanged
 * element objects — and resolves only the mismatches by canonical key.
 */
export function diffElements(before: readonly Element[], after: readonly Element[]): ElementDelta {
  if (before === after) return { removed: [], added: [] };
  const hint = elementDeltaHint(before, after);
  if (hint) return resolveCandidates([...hint.removed], [...hint.added]);
  const candRemoved: Element[] = [];
  const candAdded: Element[] = [];
  let i = 0;
  let j = 0;
  const nb = before.length;
  const na = after.length;
  while (i < nb && j < na) {
    const b = before[i] as Element;
    const a = after[j] as Element;
    if (b === a || sameElement(b, a)) {
      i++;
      j++;
      continue;
    }
    // Resynchronise: an insertion in `after` or a deletion from `before` shifts the rest.
    let shifted = false;
    for (let d = 1; d <= LOOKAHEAD; d++) {
      const a2 = after[j + d];
      if (a2 !== undefined && (a2 === b || sameElement(b, a2))) {
        for (let k = j; k < j + d; k++) candAdded.push(after[k] as Element);
        j += d;
        shifted = true;
        break;
      }
      const b2 = before[i + d];
      if (b2 !== undefined && (b2 === a || sameElement(b2, a))) {
        for (let k = i; k < i + d; k++) candRemoved.push(before[k] as Element);
        i += d;
        shifted = true;
        break;
      }
    }
    if (!shifted) {
      candRemoved.push(b);
      candAdded.push(a);
      i++;
      j++;
    }
  }
  for (; i < nb; i++) candRemoved.push(before[i] as Element);
  for (; j < na; j++) candAdded.push(after[j] as Element);
  return resolveCandidates(candRemoved, candAdded);
}

/**
 * Turns candidates into the element commands, on keys: the kernel identifies an element by its key
 * alone, so a key is deleted at most once, added at most once, and not touched at all when it
 * stays with the same payload (an element seen out of order, or a key that moved from one owner's
 * element object to another's). Sets hold each key once (ir/invariants.ts), so a removed candidate
 * whose key is not re-added is truly gone from `after`.
 */
function resolveCandidates(candRemoved: Element[], candAdded: Element[]): ElementDelta {
  // Only additions or only removals: each candidate is a distinct key already (one key per set).
  if (candRemoved.length === 0 || candAdded.length === 0) return { removed: candRemoved, added: candAdded };
  const addedByKey = new Map<string, Element>();
  for (const e of candAdded) addedByKey.set(valueKey(e.key), e);
  const removedKeys = new Set<string>();
  const removed: Element[] = [];
  const unchangedKeys = new Set<string>();
  for (const e of candRemoved) {
    const k = valueKey(e.key);
    if (removedKeys.has(k)) continue;
    removedKeys.add(k);
    const a = addedByKey.get(k);
    if (a !== undefined && elementPayloadKey(a) === elementPayloadKey(e)) unchangedKeys.add(k);
    else removed.push(e);
  }
  const added: Element[] = [];
  if (addedByKey.size === candAdded.length && unchangedKeys.size === 0) added.push(...candAdded);
  else for (const [k, e] of addedByKey) if (!unchangedKeys.has(k)) added.push(e);
  return { removed, added };
}

function byName<T extends { name: string }>(items: readonly T[]): Map<string, T> {
  const m = new Map<string, T>();
  for (const it of items) m.set(it.name, it);
  return m;
}

function chainHeader(c: Chain): Omit<Chain, 'rules'> {
  return c.base ? { name: c.name, base: c.base } : { name: c.name };
}

function setDecl(s: SetDef): Omit<SetDef, 'elements'> {
  const { elements: _elements, ...decl } = s;
  return decl;
}

const isMap = (s: SetDef): boolean => s.dataType !== undefined;

/** All commands that create `t` from nothing (the table does not exist in the kernel). */
function createTable(t: Table): Command[] {
  const base = { family: t.family, table: t.name };
  const out: Command[] = [{ op: 'add', what: 'table', ...base }];
  for (const s of t.sets) out.push({ op: 'add', what: 'set', ...base, set: setDecl(s) });
  for (const c of t.chains) out.push({ op: 'add', what: 'chain', ...base, chain: chainHeader(c) });
  for (const s of t.sets) {
    if (!s.dynamic && s.elements.length > 0) out.push({ op: 'add', what: 'element', ...base, set: s.name, elements: s.elements });
  }
  for (const c of t.chains) for (const r of c.rules) out.push({ op: 'add', what: 'rule', ...base, chain: c.name, rule: r });
  return out;
}

function diffTable(before: Table, after: Table): Command[] {
  const base: { family: Family; table: string } = { family: after.family, table: after.name };
  const bSets = byName(before.sets);
  const aSets = byName(after.sets);
  const bChains = byName(before.chains);
  const aChains = byName(after.chains);

  // Classify sets.
  const newSets: SetDef[] = [];
  const recreatedSets: SetDef[] = [];
  const keptSets: [SetDef, SetDef][] = [];
  const removedSets: SetDef[] = [];
  for (const s of after.sets) {
    const old = bSets.get(s.name);
    if (!old) newSets.push(s);
    else if (old === s || setDeclKey(old) === setDeclKey(s)) keptSets.push([old, s]);
    else recreatedSets.push(s);
  }
  for (const s of before.sets) if (!aSets.has(s.name)) removedSets.push(s);

  // Classify chains.
  const newChains: Chain[] = [];
  const recreatedChains: Chain[] = [];
  const keptChains: [Chain, Chain][] = [];
  const removedChains: Chain[] = [];
  for (const c of after.chains) {
    const old = bChains.get(c.name);
    if (!old) newChains.push(c);
    else if (old === c || stableStringify(old.base ?? null) === stableStringify(c.base ?? null)) keptChains.push([old, c]);
    else recreatedChains.push(c);
  }
  for (const c of before.chains) if (!aChains.has(c.name)) removedChains.push(c);

  // Objects whose kernel identity goes away: rules referring to them must be flushed first.
  const doomedSets = new Set<string>([...removedSets, ...recreatedSets].map((s) => s.name));
  const doomedChains = new Set<string>([...removedChains, ...recreatedChains].map((c) => c.name));

  const flushed: Chain[] = []; // kept chains whose rules are re-added
  const flushCmds: Command[] = [];
  for (const [old, cur] of keptChains) {
    let flush = old.rules !== cur.rules && rulesHash(old.rules) !== rulesHash(cur.rules);
    if (!flush && (doomedSets.size > 0 || doomedChains.size > 0)) {
      const refs = rulesRefs(old.rules);
      for (const n of refs.sets) if (doomedSets.has(n)) flush = true;
      for (const n of refs.chains) if (doomedChains.has(n)) flush = true;
    }
    if (flush) {
      if (old.rules.length > 0) flushCmds.push({ op: 'flush', what: 'chain', ...base, name: cur.name });
      flushed.push(cur);
    }
  }
  // Chains that go away lose their rules first, so the sets and chains those rules reference
  // can be deleted in any order afterwards.
  for (const c of before.chains) {
    if (doomedChains.has(c.name) && c.rules.length > 0) flushCmds.push({ op: 'flush', what: 'chain', ...base, name: c.name });
  }

  const elementDeletes: Command[] = [];
  const elementAdds: Command[] = [];
  for (const [old, cur] of keptSets) {
    if (cur.dynamic) continue;
    const { removed, added } = diffElements(old.elements, cur.elements);
    if (removed.length > 0) elementDeletes.push({ op: 'delete', what: 'element', ...base, set: cur.name, elements: removed });
    if (added.length > 0) elementAdds.push({ op: 'add', what: 'element', ...base, set: cur.name, elements: added });
  }
  for (const s of [...newSets, ...recreatedSets]) {
    if (!s.dynamic && s.elements.length > 0) elementAdds.push({ op: 'add', what: 'element', ...base, set: s.name, elements: s.elements });
  }

  const out: Command[] = [];
  for (const s of newSets) out.push({ op: 'add', what: 'set', ...base, set: setDecl(s) });
  for (const c of newChains) out.push({ op: 'add', what: 'chain', ...base, chain: chainHeader(c) });
  out.push(...flushCmds);
  out.push(...elementDeletes);
  for (const s of before.sets) {
    if (doomedSets.has(s.name)) out.push({ op: 'delete', what: 'set', ...base, name: s.name, isMap: isMap(s) });
  }
  for (const c of before.chains) {
    if (doomedChains.has(c.name)) out.push({ op: 'delete', what: 'chain', ...base, name: c.name });
  }
  for (const s of recreatedSets) out.push({ op: 'add', what: 'set', ...base, set: setDecl(s) });
  for (const c of recreatedChains) out.push({ op: 'add', what: 'chain', ...base, chain: chainHeader(c) });
  out.push(...elementAdds);
  const withRules = new Set<string>([...newChains, ...recreatedChains, ...flushed].map((c) => c.name));
  // Rules in `after`'s chain order, so a listing of the result matches a fresh full load.
  for (const c of after.chains) {
    if (!withRules.has(c.name)) continue;
    for (const r of c.rules) out.push({ op: 'add', what: 'rule', ...base, chain: c.name, rule: r });
  }
  return out;
}

const tableId = (t: { family: Family; name: string }): string => `${t.family} ${t.name}`;

/**
 * The ordered, minimal transaction from `before` (what the kernel holds) to `after`.
 * Empty `commands` means there is nothing to do.
 */
export function diffRulesets(before: { tables: Table[] }, after: { tables: Table[] }): Transaction {
  const commands: Command[] = [];
  const bTables = new Map(before.tables.map((t) => [tableId(t), t] as const));
  const aIds = new Set(after.tables.map(tableId));
  for (const t of after.tables) {
    const old = bTables.get(tableId(t));
    if (old === t) continue;
    commands.push(...(old ? diffTable(old, t) : createTable(t)));
  }
  // A table takes everything in it along, and nothing outside a table refers into it.
  for (const t of before.tables) {
    if (!aIds.has(tableId(t))) commands.push({ op: 'delete', what: 'table', family: t.family, table: t.name });
  }
  return { commands };
}
