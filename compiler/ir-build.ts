// Small constructors for IR expressions and statements, so the lowering reads like the ruleset.

import type { Expr, Family, Rule, Stmt, Value, Verdict } from '../ir/types.js';
import { keyedByAddress, type EndpointNamespace } from './layout.js';

export const daddr = (f: Family): Expr => ({ kind: 'payload', protocol: f, field: 'daddr' });
export const saddr = (f: Family): Expr => ({ kind: 'payload', protocol: f, field: 'saddr' });
export const l4proto: Expr = { kind: 'meta', key: 'l4proto' };
export const dport: Expr = { kind: 'payload', protocol: 'th', field: 'dport' };
export const mark: Expr = { kind: 'meta', key: 'mark' };
export const set = (name: string): Expr => ({ kind: 'setref', name });
export const konst = (value: Value): Expr => ({ kind: 'const', value });
export const match = (left: Expr, op: '==' | '!=' | 'in', right: Expr): Stmt => ({ kind: 'match', left, op, right });
export const verdict = (v: Verdict): Stmt => ({ kind: 'verdict', verdict: v });
export const jump = (target: string): Stmt => verdict({ kind: 'jump', target });
export const goto = (target: string): Verdict => ({ kind: 'goto', target });
export const gotoStmt = (target: string): Stmt => verdict({ kind: 'goto', target });
export const fibType = (lookup: 'saddr' | 'daddr'): Expr => ({ kind: 'fib', lookup, result: 'type' });
export const rule = (stmts: Stmt[], comment?: string): Rule => (comment ? { stmts, comment } : { stmts });

/** The lookup key of an endpoint namespace, read from the packet. */
export const packetKey = (f: Family, ns: EndpointNamespace): Expr =>
  keyedByAddress(ns) ? { kind: 'concat', parts: [daddr(f), l4proto, dport] } : { kind: 'concat', parts: [l4proto, dport] };
