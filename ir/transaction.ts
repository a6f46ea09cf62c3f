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
