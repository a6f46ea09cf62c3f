// A compact nft-like rendering of IR expressions, statements and values, for humans (the packet
// trace). Not an emitter: the kernel never reads this text, so it favours readability over exact
// nft grammar (e.g. set elements are not quoted, long anonymous maps are shown whole).

import type { Expr, Rule, Stmt, Value, Verdict } from './types.js';

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

export function printValue(v: Value): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if ('prefix' in v) return `${v.prefix.addr}/${v.prefix.len}`;
  if ('range' in v) return `${v.range[0]}-${v.range[1]}`;
  return v.concat.map(printValue).join(' . ');
}

export function printVerdict(v: Verdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.target}` : v.kind;
}

export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'payload':
      return `${e.protocol} ${e.field}`;
    case 'meta':
      return `meta ${e.key}`;
    case 'ct':
      return `ct ${e.key}`;
    case 'fib':
      return `fib ${e.lookup} ${e.result}`;
    case 'numgen':
      return `numgen random mod ${e.mod}`;
    case 'concat':
      return e.parts.map(printExpr).join(' . ');
    case 'const':
      return printValue(e.value);
    case 'setref':
      return `@${e.name}`;
    case 'anonset':
      return `{ ${e.elements.map(printValue).join(', ')} }`;
    case 'maplookup':
      return `${printExpr(e.key)} map @${e.map}`;
    case 'and':
      return `${printExpr(e.left)} & ${hex(e.mask)}`;
    case 'or':
      return `${printExpr(e.left)} | ${hex(e.bits)}`;
    case 'xor':
      return `${printExpr(e.left)} ^ ${hex(e.bits)}`;
  }
}

export function printStmt(s: Stmt): string {
  switch (s.kind) {
    case 'match': {
      // nft's own listing style: equality and membership have no operator.
      if (s.op === '==' || s.op === 'in') return `${printExpr(s.left)} ${printExpr(s.right)}`;
      return `${printExpr(s.left)} != ${printExpr(s.right)}`;
    }
    case 'verdict':
      return printVerdict(s.verdict);
    case 'vmap':
      return `${printExpr(s.key)} vmap @${s.map}`;
    case 'anonvmap':
      return `${printExpr(s.key)} vmap { ${s.entries.map(([k, v]) => `${printValue(k)} : ${printVerdict(v)}`).join(', ')} }`;
    case 'counter':
      return 'counter';
    case 'setmark':
      return `meta mark set ${printExpr(s.value)}`;
    case 'dnat':
      return `dnat ${s.family} to ${printExpr(s.addr)}${s.port ? ` : ${printExpr(s.port)}` : ''}`;
    case 'masquerade':
      return s.fullyRandom ? 'masquerade fully-random' : 'masquerade';
    case 'reject':
      return s.with === 'tcp-reset' ? 'reject with tcp reset' : 'reject with icmpx port-unreachable';
    case 'setupdate':
      return `update @${s.set} { ${printExpr(s.elem)}${s.timeout !== undefined ? ` timeout ${s.timeout}s` : ''} }`;
  }
}

export function printRule(r: Rule): string {
  return r.stmts.map(printStmt).join(' ');
}
