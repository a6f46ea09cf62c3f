// A transaction: the ordered list of commands one sync sends to the kernel, as IR.
// Emitters turn it into nft JSON (`nft -j -f`) or text; the kernel applies it all or nothing.

import type { Chain, Element, Family, Rule, Ruleset, SetDef } from './types.js';

export type Command =
  | { op: 'add' | 'delete'; what: 'table'; family: Family; table: string }
  /** `add chain` carries the chain header only (name, base spec); rules are separate commands. */
  | { op: 'add'; what: 'chain'; family: Family; table: string; chain: Omit<Chain, 'rules'> }
  | { op: 'delete' | 'flush'; what: 'chain'; family: Family; table: string; name: string }
  | { op: 'add'; what: 'rule'; family: Family; table: string; chain: string; rule: Rule }
  /** `add set/map` carries the declaration only; elements are separate commands. */
  | { op: 'add'; what: 'set'; family: Family; table: string; set: Omit<SetDef, 'elements'> }
  | { op: 'delete' | 'flush'; what: 'set'; family: Family; table: string; name: string; isMap: boolean }
  | { op: 'add' | 'delete'; what: 'element'; family: Family; table: string; set: string; elements: Element[] };

export interface Transaction {
  commands: Command[];
}

/**
 * The full sync: loaded into an empty namespace or over any previous load of ours, it leaves
 * exactly `ruleset`. `add table` + `delete table` + rebuild, all in one kernel transaction, so
 * there is no moment where the old table is gone and the new one not yet there.
 */
export function fullTransaction(ruleset: Ruleset): Transaction {
  const commands: Command[] = [];
  for (const t of ruleset.tables) {
    const base = { family: t.family, table: t.name };
    commands.push({ op: 'add', what: 'table', ...base });
    commands.push({ op: 'delete', what: 'table', ...base });
    commands.push({ op: 'add', what: 'table', ...base });
    for (const s of t.sets) {
      const { elements: _elements, ...decl } = s;
      commands.push({ op: 'add', what: 'set', ...base, set: decl });
    }
    // All chains first (verdict map elements and jumps may point at any of them), then elements,
    // then rules (rules may reference sets and chains).
    for (const c of t.chains) {
      const { rules: _rules, ...header } = c;
      commands.push({ op: 'add', what: 'chain', ...base, chain: header });
    }
    for (const s of t.sets) {
      if (s.elements.length > 0 && !s.dynamic) {
        commands.push({ op: 'add', what: 'element', ...base, set: s.name, elements: s.elements });
      }
    }
    for (const c of t.chains) {
      for (const r of c.rules) commands.push({ op: 'add', what: 'rule', ...base, chain: c.name, rule: r });
    }
  }
  return { commands };
}

/**
 * A full rewrite over a kernel known to hold `previous` (our mirror): every chain flushed and
 * refilled, every compiler-owned set flushed and refilled, stale objects deleted — all in one
 * transaction — while the tables themselves and the packet-path (dynamic) sets stay, so
 * session-affinity state survives periodic full syncs (kube-proxy keeps it too). If the kernel
 * does not hold what `previous` says (drift), the transaction fails as a whole and the caller
 * falls back to `fullTransaction`.
 */
export function rewriteTransaction(previous: Ruleset, ruleset: Ruleset): Transaction {
  const commands: Command[] = [];
  const declKey = (s: Omit<SetDef, 'elements'>): string =>
    JSON.stringify([s.keyType, s.dataType ?? null, s.flags ?? [], s.timeout ?? null, s.size ?? null]);
  const chainKey = (c: Chain): string => JSON.stringify(c.base ?? null);
  const before = new Map(previous.tables.map((t) => [`${t.family} ${t.name}`, t]));
  const late: Command[] = [];
  const tail: Command[] = [];
  for (const t of ruleset.tables) {
    const base = { family: t.family, table: t.name };
    const old = before.get(`${t.family} ${t.name}`);
    before.delete(`${t.family} ${t.name}`);
    if (!old) {
      // A table the kernel does not have yet: add it (the `delete table` of a full load would fail).
      const full = fullTransaction({ tables: [t] }).commands;
      commands.push(...full.slice(0, 1), ...full.slice(3));
      continue;
    }
    const oldSets = new Map(old.sets.map((s) => [s.name, s]));
    const oldChains = new Map(old.chains.map((c) => [c.name, c]));
    const newSets = new Set(t.sets.map((s) => s.name));
    const newChains = new Set(t.chains.map((c) => c.name));
    const recreatedSets = t.sets.filter((s) => oldSets.has(s.name) && declKey(oldSets.get(s.name) as SetDef) !== declKey(s));
    const recreatedChains = t.chains.filter((c) => oldChains.has(c.name) && chainKey(oldChains.get(c.name) as Chain) !== chainKey(c));
    // 1. Drop every reference: flush all old chains and all old compiler-owned sets.
    for (const c of old.chains) commands.push({ op: 'flush', what: 'chain', ...base, name: c.name });
    for (const s of old.sets) if (!s.dynamic) commands.push({ op: 'flush', what: 'set', ...base, name: s.name, isMap: !!s.dataType });
    // 2. Delete what goes away or changes shape.
    for (const s of old.sets) {
      if (!newSets.has(s.name) || recreatedSets.some((r) => r.name === s.name)) {
        commands.push({ op: 'delete', what: 'set', ...base, name: s.name, isMap: !!s.dataType });
      }
    }
    for (const c of old.chains) {
      if (!newChains.has(c.name) || recreatedChains.some((r) => r.name === c.name)) {
        commands.push({ op: 'delete', what: 'chain', ...base, name: c.name });
      }
    }
    // 3. Declare what is new or re-created (existing dynamic sets are never re-added: nft 1.0.6
    //    JSON cannot re-add a set an update statement made dynamic).
    for (const s of t.sets) {
      const kept = oldSets.has(s.name) && !recreatedSets.includes(s);
      if (kept && s.dynamic) continue;
      const { elements: _e, ...decl } = s;
      commands.push({ op: 'add', what: 'set', ...base, set: decl });
    }
    for (const c of t.chains) {
      const { rules: _r, ...header } = c;
      commands.push({ op: 'add', what: 'chain', ...base, chain: header });
    }
    // 4. Refill.
    for (const s of t.sets) {
      if (s.elements.length > 0 && !s.dynamic) late.push({ op: 'add', what: 'element', ...base, set: s.name, elements: s.elements });
    }
    for (const c of t.chains) for (const r of c.rules) tail.push({ op: 'add', what: 'rule', ...base, chain: c.name, rule: r });
  }
  for (const t of before.values()) commands.push({ op: 'delete', what: 'table', family: t.family, table: t.name });
  return { commands: [...commands, ...late, ...tail] };
}
