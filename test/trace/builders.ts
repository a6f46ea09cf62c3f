// Terse IR builders for the interpreter tests (ip family), on top of compiler/ir-build.

import { daddr as daddrOf, saddr as saddrOf, dport, l4proto, mark, konst, match, verdict } from '../../compiler/ir-build.js';
import type { Chain, Expr, Rule, Stmt } from '../../ir/types.js';

export { dport, l4proto, mark };
export const daddr: Expr = daddrOf('ip');
export const saddr: Expr = saddrOf('ip');
export const c = konst;
export const eq = (left: Expr, right: Expr): Stmt => match(left, '==', right);
export const ne = (left: Expr, right: Expr): Stmt => match(left, '!=', right);
export const v = verdict;
export const r = (...stmts: Stmt[]): Rule => ({ stmts });
export const chain = (name: string, rules: Rule[], base?: Chain['base']): Chain => (base ? { name, base, rules } : { name, rules });
