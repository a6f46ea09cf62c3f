// IR → nft text syntax (`nft -f`). The text is printed from the validated JSON of the same IR, so
// both forms carry the same names, comments and values, and the JSON schema's checks (names that
// are valid identifiers, comments without quotes, literal addresses) also make the text safe: the
// text grammar has no escapes, so nothing unchecked may reach it.

import type { Transaction } from '../../ir/transaction.js';
import type { Ruleset } from '../../ir/types.js';
import { rulesetToJson, transactionToJson } from './json.js';
import { TEXT_KEYWORDS } from './limits.js';
import type {
  NftChain,
  NftCommand,
  NftElemItem,
  NftElemValue,
  NftExpr,
  NftMap,
  NftMapEntry,
  NftRule,
  NftSet,
  NftStmt,
  NftVerdict,
} from './schema.js';

/**
 * The ruleset as `nft list table` prints it (one block per table, sets before chains), loadable
 * with `nft -f` into a namespace without our tables. For a reload over an existing load use
 * `transactionToText(fullTransaction(ruleset))`.
 */
export function rulesetToText(ruleset: Ruleset): string {
  const tables = new Map<string, TableParts>();
  const partsOf = (family: string, name: string): TableParts => {
    const id = `${family} ${name}`;
    let parts = tables.get(id);
    if (!parts) {
      parts = { header: `table ${id}`, sets: [], elems: new Map(), chains: [], rules: new Map() };
      tables.set(id, parts);
    }
    return parts;
  };
  for (const cmd of rulesetToJson(ruleset).nftables) {
    assertTextNames(cmd);
    if (!('add' in cmd)) continue;
    const obj = cmd.add;
    if ('table' in obj) partsOf(obj.table.family, obj.table.name);
    else if ('set' in obj) partsOf(obj.set.family, obj.set.table).sets.push(obj.set);
    else if ('map' in obj) partsOf(obj.map.family, obj.map.table).sets.push(obj.map);
    else if ('chain' in obj) partsOf(obj.chain.family, obj.chain.table).chains.push(obj.chain);
    else if ('element' in obj) {
      const p = partsOf(obj.element.family, obj.element.table);
      p.elems.set(obj.element.name, [...(p.elems.get(obj.element.name) ?? []), ...obj.element.elem]);
    } else if ('rule' in obj) {
      const p = partsOf(obj.rule.family, obj.rule.table);
      p.rules.set(obj.rule.chain, [...(p.rules.get(obj.rule.chain) ?? []), obj.rule]);
    }
  }
  return [...tables.values()].map(tableBlock).join('');
}

/** One line per command, e.g. for `nftproxy diff --format nft`; loadable with `nft -f`. */
export function transactionToText(tx: Transaction): string {
  return transactionToJson(tx)
    .nftables.filter((cmd): cmd is NftCommand => !('metainfo' in cmd))
    .map((cmd) => {
      assertTextNames(cmd);
      return commandText(cmd) + '\n';
    })
    .join('');
}

/**
 * Text identifiers cannot be quoted, so a name that is an nft keyword cannot be printed. The JSON
 * is walked as data: every name sits under a `name`/`table`/`chain`/`target` key or in an `@ref`.
 */
function assertTextNames(cmd: unknown): void {
  const visit = (v: unknown, key: string | undefined): void => {
    if (typeof v === 'string' && key !== 'comment') {
      const name = v.startsWith('@') ? v.slice(1) : ['name', 'table', 'chain', 'target'].includes(key ?? '') ? v : undefined;
      if (name !== undefined && TEXT_KEYWORDS.has(name)) {
        throw new Error(`"${name}" is an nft keyword and cannot be used as a name in nft text syntax`);
      }
    } else if (Array.isArray(v)) v.forEach((x) => visit(x, undefined));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) visit(x, k);
  };
  visit(cmd, undefined);
}

// ---------------------------------------------------------------------------------------------
// Blocks

type ElemEntry = NftElemItem | NftMapEntry;

interface TableParts {
  header: string;
  sets: (NftSet | NftMap)[];
  elems: Map<string, ElemEntry[]>;
  chains: NftChain[];
  rules: Map<string, NftRule[]>;
}

function tableBlock(t: TableParts): string {
  const out = [`${t.header} {`];
  for (const s of t.sets) {
    out.push(`\t${'map' in s ? 'map' : 'set'} ${s.name} {`);
    for (const line of setDeclLines(s)) out.push(`\t\t${line}`);
    const elems = t.elems.get(s.name) ?? [];
    if (elems.length > 0) out.push(`\t\telements = { ${elems.map(elemEntryText).join(',\n\t\t\t     ')} }`);
    out.push('\t}');
  }
  for (const c of t.chains) {
    out.push(`\tchain ${c.name} {`);
    const header = baseChainText(c);
    if (header) out.push(`\t\t${header}`);
    for (const r of t.rules.get(c.name) ?? []) out.push(`\t\t${ruleBody(r)}`);
    out.push('\t}');
  }
  out.push('}');
  return out.join('\n') + '\n';
}

function setDeclLines(s: NftSet | NftMap): string[] {
  const key = Array.isArray(s.type) ? s.type.join(' . ') : s.type;
  const lines = [`type ${key}${'map' in s ? ` : ${s.map}` : ''}`];
  if (s.flags) lines.push(`flags ${s.flags.join(',')}`);
  if (s.timeout !== undefined) lines.push(`timeout ${s.timeout}s`);
  if (s.size !== undefined) lines.push(`size ${s.size}`);
  return lines;
}

function baseChainText(c: NftChain): string | undefined {
  if (c.type === undefined) return undefined;
  return `type ${c.type} hook ${c.hook} priority ${c.prio};${c.policy ? ` policy ${c.policy};` : ''}`;
}

function ruleBody(r: NftRule): string {
  return r.expr.map(stmtText).join(' ') + (r.comment !== undefined ? ` comment "${r.comment}"` : '');
}

// ---------------------------------------------------------------------------------------------
// Commands

function commandText(cmd: NftCommand): string {
  if ('add' in cmd) {
    const o = cmd.add;
    if ('table' in o) return `add table ${o.table.family} ${o.table.name}`;
    if ('chain' in o) {
      const c = o.chain;
      const header = baseChainText(c);
      return `add chain ${c.family} ${c.table} ${c.name}${header ? ` { ${header} }` : ''}`;
    }
    if ('rule' in o) return `add rule ${o.rule.family} ${o.rule.table} ${o.rule.chain} ${ruleBody(o.rule)}`;
    if ('set' in o) return `add set ${o.set.family} ${o.set.table} ${o.set.name} { ${setDeclLines(o.set).join('; ')}; }`;
    if ('map' in o) return `add map ${o.map.family} ${o.map.table} ${o.map.name} { ${setDeclLines(o.map).join('; ')}; }`;
    const e = o.element;
    return `add element ${e.family} ${e.table} ${e.name} { ${e.elem.map(elemEntryText).join(', ')} }`;
  }
  const [verb, o] = 'delete' in cmd ? (['delete', cmd.delete] as const) : (['flush', cmd.flush] as const);
  if ('table' in o) return `${verb} table ${o.table.family} ${o.table.name}`;
  if ('chain' in o) return `${verb} chain ${o.chain.family} ${o.chain.table} ${o.chain.name}`;
  if ('set' in o) return `${verb} set ${o.set.family} ${o.set.table} ${o.set.name}`;
  if ('map' in o) return `${verb} map ${o.map.family} ${o.map.table} ${o.map.name}`;
  const e = o.element;
  return `${verb} element ${e.family} ${e.table} ${e.name} { ${e.elem.map(elemEntryText).join(', ')} }`;
}

// ---------------------------------------------------------------------------------------------
// Elements, values, verdicts

function elemEntryText(entry: ElemEntry): string {
  if (Array.isArray(entry)) {
    const [key, data] = entry;
    return `${elemItemText(key)} : ${isVerdict(data) ? verdictText(data) : valueText(data)}`;
  }
  return elemItemText(entry);
}

function elemItemText(item: NftElemItem): string {
  if (typeof item !== 'object' || !('elem' in item)) return valueText(item);
  const { val, timeout, comment } = item.elem;
  return (
    valueText(val) + (timeout !== undefined ? ` timeout ${timeout}s` : '') + (comment !== undefined ? ` comment "${comment}"` : '')
  );
}

function valueText(v: NftElemValue): string {
  if (typeof v !== 'object') return String(v);
  if ('prefix' in v) return `${v.prefix.addr}/${v.prefix.len}`;
  if ('range' in v) return `${v.range[0]}-${v.range[1]}`;
  return v.concat.map(valueText).join(' . ');
}

function isVerdict(v: NftElemValue | NftVerdict): v is NftVerdict {
  return typeof v === 'object' && ['accept', 'drop', 'continue', 'return', 'jump', 'goto'].some((k) => k in v);
}

function verdictText(v: NftVerdict): string {
  if ('jump' in v) return `jump ${v.jump.target}`;
  if ('goto' in v) return `goto ${v.goto.target}`;
  return Object.keys(v)[0] as string;
}

// ---------------------------------------------------------------------------------------------
// Expressions and statements

function exprText(e: NftExpr): string {
  if (typeof e !== 'object') return String(e);
  if ('payload' in e) return `${e.payload.protocol} ${e.payload.field}`;
  if ('meta' in e) return `meta ${e.meta.key}`;
  if ('ct' in e) return `ct ${e.ct.key}`;
  if ('fib' in e) return `fib ${e.fib.flags.join(' . ')} ${e.fib.result}`;
  if ('numgen' in e) {
    const { mode, mod, offset } = e.numgen;
    return `numgen ${mode} mod ${mod}${offset ? ` offset ${offset}` : ''}`;
  }
  if ('concat' in e) return e.concat.map(exprText).join(' . ');
  if ('set' in e) return `{ ${e.set.map(elemItemText).join(', ')} }`;
  if ('map' in e) return `${exprText(e.map.key)} map ${e.map.data}`;
  if ('&' in e) return `${exprText(e['&'][0])} & ${exprText(e['&'][1])}`;
  if ('|' in e) return `${exprText(e['|'][0])} | ${exprText(e['|'][1])}`;
  if ('^' in e) return `${exprText(e['^'][0])} ^ ${exprText(e['^'][1])}`;
  return valueText(e);
}

function isSetOperand(e: NftExpr): boolean {
  return (typeof e === 'string' && e.startsWith('@')) || (typeof e === 'object' && 'set' in e);
}

function stmtText(s: NftStmt): string {
  if ('match' in s) {
    const { op, left, right } = s.match;
    // JSON `in` is the text grammar's implicit operator (a bitmask test for flag types, a lookup
    // for sets); `==` must stay explicit for constants, where implicit would mean "any bit set".
    const implicit = op === 'in' || (op === '==' && isSetOperand(right));
    return `${exprText(left)} ${implicit ? '' : `${op} `}${exprText(right)}`;
  }
  if ('vmap' in s) {
    const { key, data } = s.vmap;
    const map =
      typeof data === 'string'
        ? data
        : `{ ${data.set.map(([k, v]) => `${valueText(k)} : ${verdictText(v)}`).join(', ')} }`;
    return `${exprText(key)} vmap ${map}`;
  }
  if ('counter' in s) return 'counter';
  if ('mangle' in s) {
    const key = 'meta' in s.mangle.key ? 'meta mark' : 'ct mark';
    return `${key} set ${exprText(s.mangle.value)}`;
  }
  if ('dnat' in s) return dnatText(s.dnat);
  if ('masquerade' in s) {
    const flags = s.masquerade?.flags;
    return flags === undefined ? 'masquerade' : `masquerade ${Array.isArray(flags) ? flags.join(',') : flags}`;
  }
  if ('reject' in s) {
    const r = s.reject;
    if (r === null) return 'reject';
    return r.type === 'tcp reset' ? 'reject with tcp reset' : `reject with ${r.type} type ${r.expr}`;
  }
  if ('set' in s) {
    const { op, elem, set } = s.set;
    const inner =
      typeof elem === 'object' && 'elem' in elem
        ? `${exprText(elem.elem.val)}${elem.elem.timeout !== undefined ? ` timeout ${elem.elem.timeout}s` : ''}`
        : exprText(elem);
    return `${op} ${set} { ${inner} }`;
  }
  return verdictText(s);
}

function dnatText(d: { family?: string; addr?: NftExpr; port?: NftExpr }): string {
  const family = d.family ? `${d.family} ` : '';
  const literal = (e: NftExpr | undefined): e is string | number => typeof e === 'string' || typeof e === 'number';
  let target: string;
  if (d.addr === undefined) target = `:${exprText(d.port as NftExpr)}`;
  else if (d.port === undefined) target = exprText(d.addr);
  else if (literal(d.addr) && literal(d.port)) {
    // A literal IPv6 address needs brackets before the port separator.
    const addr = String(d.addr).includes(':') ? `[${d.addr}]` : String(d.addr);
    target = `${addr}:${d.port}`;
  } else target = `${exprText(d.addr)} : ${exprText(d.port)}`;
  return `dnat ${family}to ${target}`;
}
