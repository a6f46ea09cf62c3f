// A minimal IR → nft JSON encoder used by the diff/apply/sync tests only while
// compiler/nft/json.ts (owned by another engineer) does not exist yet. `encoder.ts` prefers the
// real one as soon as it is there; this file can then be deleted.

import type { Command, Transaction } from '../../ir/transaction.js';
import type { Element, Expr, Rule, Scalar, Stmt, Value, Verdict } from '../../ir/types.js';

type J = unknown;

const value = (v: Value): J => v as J;

function verdict(v: Verdict): J {
  return v.kind === 'jump' || v.kind === 'goto' ? { [v.kind]: { target: v.target } } : { [v.kind]: null };
}

function expr(e: Expr): J {
  switch (e.kind) {
    case 'payload': return { payload: { protocol: e.protocol, field: e.field } };
    case 'meta': return { meta: { key: e.key } };
    case 'ct': return { ct: { key: e.key } };
    case 'fib': return { fib: { result: e.result, flags: [e.lookup] } };
    case 'numgen': return { numgen: { mode: 'random', mod: e.mod, offset: 0 } };
    case 'concat': return { concat: e.parts.map(expr) };
    case 'const': return value(e.value);
    case 'setref': return `@${e.name}`;
    case 'anonset': return { set: e.elements.map(value) };
    case 'maplookup': return { map: { key: expr(e.key), data: `@${e.map}` } };
    case 'and': return { '&': [expr(e.left), e.mask] };
    case 'or': return { '|': [expr(e.left), e.bits] };
    case 'xor': return { '^': [expr(e.left), e.bits] };
  }
}

function stmt(s: Stmt): J {
  switch (s.kind) {
    case 'match': return { match: { op: s.op, left: expr(s.left), right: expr(s.right) } };
    case 'verdict': return verdict(s.verdict);
    case 'vmap': return { vmap: { key: expr(s.key), data: `@${s.map}` } };
    case 'anonvmap': return { vmap: { key: expr(s.key), data: { set: s.entries.map(([k, v]) => [value(k), verdict(v)]) } } };
    case 'counter': return { counter: null };
    case 'setmark': return { mangle: { key: { meta: { key: 'mark' } }, value: expr(s.value) } };
    case 'dnat': return { dnat: { family: s.family, addr: expr(s.addr), ...(s.port ? { port: expr(s.port) } : {}) } };
    case 'masquerade': return { masquerade: s.fullyRandom ? { flags: ['fully-random'] } : null };
    case 'reject': return { reject: s.with === 'tcp-reset' ? { type: 'tcp reset' } : { type: 'icmpx', expr: 'port-unreachable' } };
    case 'setupdate': {
      const elem = s.timeout !== undefined ? { elem: { val: expr(s.elem), timeout: s.timeout } } : expr(s.elem);
      return { set: { op: 'update', elem, set: `@${s.set}` } };
    }
  }
}

function rule(r: Rule): J {
  return { expr: r.stmts.map(stmt), ...(r.comment !== undefined ? { comment: r.comment } : {}) };
}

function element(e: Element): J {
  const key = e.timeout !== undefined || e.comment !== undefined
    ? { elem: { val: value(e.key), ...(e.timeout !== undefined ? { timeout: e.timeout } : {}), ...(e.comment !== undefined ? { comment: e.comment } : {}) } }
    : value(e.key);
  if (e.data === undefined) return key;
  return [key, typeof e.data === 'object' ? verdict(e.data) : (e.data as Scalar)];
}

function command(c: Command): J {
  const t = { family: c.family, table: c.table };
  switch (c.what) {
    case 'table': return { [c.op]: { table: { family: c.family, name: c.table } } };
    case 'chain':
      if (c.op === 'add') {
        const b = c.chain.base;
        return { add: { chain: { ...t, name: c.chain.name, ...(b ? { type: b.type, hook: b.hook, prio: b.prio, ...(b.policy ? { policy: b.policy } : {}) } : {}) } } };
      }
      return { [c.op]: { chain: { ...t, name: c.name } } };
    case 'rule': return { add: { rule: { ...t, chain: c.chain, ...(rule(c.rule) as object) } } };
    case 'set':
      if (c.op === 'add') {
        const s = c.set;
        const kind = s.dataType ? 'map' : 'set';
        return { add: { [kind]: { ...t, name: s.name, type: s.keyType.length === 1 ? s.keyType[0] : s.keyType,
          ...(s.dataType ? { map: s.dataType } : {}), ...(s.flags?.length ? { flags: s.flags } : {}),
          ...(s.timeout !== undefined ? { timeout: s.timeout } : {}), ...(s.size !== undefined ? { size: s.size } : {}) } } };
      }
      return { [c.op]: { [c.isMap ? 'map' : 'set']: { ...t, name: c.name } } };
    case 'element': return { [c.op]: { element: { ...t, name: c.set, elem: c.elements.map(element) } } };
  }
}

export function fallbackTransactionToJson(tx: Transaction): { nftables: J[] } {
  return { nftables: [{ metainfo: { json_schema_version: 1 } }, ...tx.commands.map(command)] };
}
