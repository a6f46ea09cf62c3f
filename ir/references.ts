// Which named sets and chains a rule refers to. The kernel counts these references and refuses to
// delete a set or chain that is still referenced (EBUSY), so the diff must know them to order
// its commands.

import type { Expr, Rule, Stmt, Verdict } from './types.js';

export interface RuleRefs {
  sets: Set<string>;
  chains: Set<string>;
}

function exprRefs(e: Expr, out: RuleRefs): void {
  switch (e.kind) {
    case 'setref':
      out.sets.add(e.name);
      return;
    case 'maplookup':
      out.sets.add(e.map);
      exprRefs(e.key, out);
      return;
    case 'concat':
      for (const p of e.parts) exprRefs(p, out);
      return;
    case 'and':
    case 'or':
    case 'xor':
      exprRefs(e.left, out);
      return;
    default:
      return;
  }
}

function verdictRefs(v: Verdict, out: RuleRefs): void {
  if (v.kind === 'jump' || v.kind === 'goto') out.chains.add(v.target);
}

function stmtRefs(s: Stmt, out: RuleRefs): void {
  switch (s.kind) {
    case 'match':
      exprRefs(s.left, out);
      exprRefs(s.right, out);
      return;
    case 'verdict':
      verdictRefs(s.verdict, out);
      return;
    case 'vmap':
      out.sets.add(s.map);
      exprRefs(s.key, out);
      return;
    case 'anonvmap':
      exprRefs(s.key, out);
      for (const [, v] of s.entries) verdictRefs(v, out);
      return;
    case 'setmark':
      exprRefs(s.value, out);
      return;
    case 'dnat':
      exprRefs(s.addr, out);
      if (s.port) exprRefs(s.port, out);
      return;
    case 'setupdate':
      out.sets.add(s.set);
      exprRefs(s.elem, out);
      return;
    default:
      return;
  }
}

const cache = new WeakMap<Rule[], RuleRefs>();

/** Union of the references of a chain's rules, cached per rules array. */
export function rulesRefs(rules: Rule[]): RuleRefs {
  let refs = cache.get(rules);
  if (!refs) {
    refs = { sets: new Set(), chains: new Set() };
    for (const r of rules) for (const s of r.stmts) stmtRefs(s, refs);
    cache.set(rules, refs);
  }
  return refs;
}
