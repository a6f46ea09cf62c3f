// IR → nft JSON (input format of `nft -j -f`, nft 1.0.6). Every command is validated against the
// schema before it leaves this module: 1.0.6 silently ignores or misreads much of what it does not
// understand, so a malformed command must fail here, with its index, not change the kernel state.

import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { z } from 'zod';
import type { Command, Transaction } from '../../ir/transaction.js';
import { fullTransaction } from '../../ir/transaction.js';
import type { DataType, Element, Expr, Family, Rule, Ruleset, Scalar, SetDef, Stmt, Value, Verdict } from '../../ir/types.js';
import { safeComment } from './limits.js';
import {
  NftCommandSchema,
  NftJsonRootSchema,
  describeIssues,
  type NftCommand,
  type NftElemItem,
  type NftElemValue,
  type NftExpr,
  type NftJsonRoot,
  type NftMapEntry,
  type NftStmt,
  type NftVerdict,
} from './schema.js';

/** A transaction (or one of its commands) that cannot be expressed as valid nft 1.0.6 JSON. */
export class NftJsonError extends Error {
  constructor(
    message: string,
    /** 0-based index into the transaction's commands (= index in the `nftables` array). */
    readonly commandIndex: number,
  ) {
    super(message);
    this.name = 'NftJsonError';
  }
}

/**
 * The JSON for one transaction. No metainfo item is emitted, so an nft error "Parsing command array
 * at index N" points at `tx.commands[N]`.
 */
export function transactionToJson(tx: Transaction): NftJsonRoot {
  const types = new SetTypes();
  return { nftables: tx.commands.map((cmd, i) => encodeCommand(cmd, i, types)) };
}

/** One command as validated nft JSON (`types` carries set declarations seen so far). */
function encodeCommand(cmd: Command, i: number, types: SetTypes): NftCommand {
  let json: unknown;
  try {
    types.observe(cmd);
    json = commandToJson(cmd, types);
  } catch (err) {
    throw new NftJsonError(`command ${i} (${describeCommand(cmd)}): ${(err as Error).message}`, i);
  }
  return validateCommand(json, i, describeCommand(cmd));
}

/**
 * The text of `JSON.stringify(transactionToJson(tx))`, in pieces, one command at a time: each
 * command is built, validated by the same schema (strict as ever: a command is validated before
 * any of its text is produced) and turned into text before the next one is built, so a full sync
 * (230k elements at 10k services) never holds the JSON tree of the whole transaction, only its
 * text. The appliers write the pieces to a file (CLI) or join them into one buffer (libnftables).
 * A generator: an invalid command throws when its piece is reached, before it is written.
 */
export function* transactionToJsonChunks(tx: Transaction): Generator<string> {
  const types = new SetTypes();
  yield '{"nftables":[';
  for (let i = 0; i < tx.commands.length; i++) {
    const text = JSON.stringify(encodeCommand(tx.commands[i] as Command, i, types));
    yield i === 0 ? text : ',' + text;
  }
  yield ']}';
}

/** `JSON.stringify(transactionToJson(tx))` without the JSON tree of the whole transaction. */
export function transactionToJsonText(tx: Transaction): string {
  let out = '';
  for (const piece of transactionToJsonChunks(tx)) out += piece;
  return out;
}

/** The full-sync transaction of `ruleset` (see `fullTransaction`) as JSON. */
export function rulesetToJson(ruleset: Ruleset): NftJsonRoot {
  return transactionToJson(fullTransaction(ruleset));
}

/** Validates JSON from any source (e.g. a file to be applied) against the emitted subset. */
export function validateNftJson(root: unknown): NftJsonRoot {
  const shape = NftJsonRootSchema.safeParse(root);
  if (shape.success) return shape.data;
  const items = (root as { nftables?: unknown } | null)?.nftables;
  if (Array.isArray(items)) {
    items.forEach((item, i) => {
      if (!(typeof item === 'object' && item !== null && 'metainfo' in item)) validateCommand(item, i, 'command');
    });
  }
  throw new NftJsonError(`nft JSON root: ${describeIssues(shape.error)}`, -1);
}

function validateCommand(json: unknown, index: number, what: string): NftCommand {
  const parsed = NftCommandSchema.safeParse(json);
  if (!parsed.success) {
    throw new NftJsonError(`command ${index} (${what}): ${describeIssues(parsed.error as z.ZodError)}`, index);
  }
  return parsed.data;
}

export function describeCommand(cmd: Command): string {
  const where = `${cmd.family} ${cmd.table}`;
  switch (cmd.what) {
    case 'table':
      return `${cmd.op} table ${where}`;
    case 'chain':
      return `${cmd.op} chain ${where} ${cmd.op === 'add' ? cmd.chain.name : cmd.name}`;
    case 'rule':
      return `add rule ${where} ${cmd.chain}`;
    case 'set':
      return cmd.op === 'add'
        ? `add ${cmd.set.dataType ? 'map' : 'set'} ${where} ${cmd.set.name}`
        : `${cmd.op} ${cmd.isMap ? 'map' : 'set'} ${where} ${cmd.name}`;
    case 'element':
      return `${cmd.op} element ${where} ${cmd.set} (${cmd.elements.length} elements)`;
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

function commandToJson(cmd: Command, types: SetTypes): unknown {
  const { family, table } = cmd;
  switch (cmd.what) {
    case 'table':
      return { [cmd.op]: { table: { family, name: table } } };
    case 'chain': {
      if (cmd.op !== 'add') return { [cmd.op]: { chain: { family, table, name: cmd.name } } };
      const base = cmd.chain.base;
      const chain = base
        ? { family, table, name: cmd.chain.name, type: base.type, hook: base.hook, prio: base.prio, ...(base.policy ? { policy: base.policy } : {}) }
        : { family, table, name: cmd.chain.name };
      return { add: { chain } };
    }
    case 'rule':
      return { add: { rule: ruleToJson(family, table, cmd.chain, cmd.rule) } };
    case 'set': {
      if (cmd.op !== 'add') return { [cmd.op]: { [cmd.isMap ? 'map' : 'set']: { family, table, name: cmd.name } } };
      return { add: setDeclToJson(family, table, cmd.set) };
    }
    case 'element': {
      const known = types.get(family, table, cmd.set);
      const elem = cmd.elements.map((e) => (cmd.op === 'add' ? elementToJson(e, known) : keyToJson(e.key, known?.key)));
      return { [cmd.op]: { element: { family, table, name: cmd.set, elem } } };
    }
  }
}

/** `{set: ...}` or `{map: ...}` with the declaration only (no elements). */
export function setDeclToJson(family: Family, table: string, set: Omit<SetDef, 'elements'>): unknown {
  const flags = new Set(set.flags ?? []);
  // nft makes a set targeted by an update statement `dynamic` itself (and 1.0.6 rejects the flag
  // in JSON); per-element timeouts from the packet path still need `timeout`.
  if (set.dynamic && set.timeout !== undefined) flags.add('timeout');
  const decl = {
    family,
    table,
    name: set.name,
    type: set.keyType.length === 1 ? set.keyType[0] : set.keyType,
    ...(set.dataType ? { map: set.dataType } : {}),
    ...(flags.size > 0 ? { flags: [...flags] } : {}),
    ...(set.timeout !== undefined ? { timeout: set.timeout } : {}),
    ...(set.size !== undefined ? { size: set.size } : {}),
  };
  return set.dataType ? { map: decl } : { set: decl };
}

export function ruleToJson(family: Family, table: string, chain: string, rule: Rule): unknown {
  return {
    family,
    table,
    chain,
    expr: rule.stmts.map((s) => stmtToJson(s, family)),
    ...(rule.comment !== undefined ? { comment: safeComment(rule.comment) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Elements and values

interface KnownTypes {
  key: DataType[];
  data?: DataType;
}

/** Declarations seen earlier in the transaction, to type-check element values when possible. */
class SetTypes {
  private readonly byName = new Map<string, KnownTypes>();

  observe(cmd: Command): void {
    if (cmd.what === 'set' && cmd.op === 'add') {
      this.byName.set(this.id(cmd.family, cmd.table, cmd.set.name), { key: cmd.set.keyType, data: cmd.set.dataType });
    }
  }

  get(family: Family, table: string, name: string): KnownTypes | undefined {
    return this.byName.get(this.id(family, table, name));
  }

  private id(family: Family, table: string, name: string): string {
    return `${family} ${table} ${name}`;
  }
}

export function elementToJson(e: Element, types?: KnownTypes): NftElemItem | NftMapEntry {
  const val = keyToJson(e.key, types?.key);
  const item: NftElemItem =
    e.timeout !== undefined || e.comment !== undefined
      ? {
          elem: {
            val,
            ...(e.timeout !== undefined ? { timeout: e.timeout } : {}),
            ...(e.comment !== undefined ? { comment: safeComment(e.comment) } : {}),
          },
        }
      : val;
  if (e.data === undefined) return item;
  return [item, mapDataToJson(e.data, types?.data)];
}

function mapDataToJson(data: Scalar | Verdict, type?: DataType): NftElemValue | NftVerdict {
  if (typeof data === 'object') return verdictToJson(data);
  if (type !== undefined) checkScalar(data, type);
  return data;
}

function keyToJson(key: Value, types?: DataType[]): NftElemValue {
  if (types !== undefined) checkValue(key, types);
  return valueToJson(key);
}

export function valueToJson(v: Value): NftElemValue {
  if (typeof v !== 'object') return v;
  if ('prefix' in v) return { prefix: { addr: v.prefix.addr, len: v.prefix.len } };
  if ('range' in v) return { range: [v.range[0], v.range[1]] };
  return {
    concat: v.concat.map((part) => {
      if (typeof part === 'object' && 'concat' in part) throw new Error('nested concatenation in a value');
      return valueToJson(part) as Exclude<NftElemValue, { concat: unknown }>;
    }),
  };
}

/** Checks a value against the declared key type(s); addresses must be literals of the right family. */
function checkValue(v: Value, types: DataType[]): void {
  if (typeof v === 'object' && 'concat' in v) {
    if (v.concat.length !== types.length) {
      throw new Error(`value has ${v.concat.length} components, the set key has ${types.length} (${types.join(' . ')})`);
    }
    v.concat.forEach((part, i) => checkValue(part, [types[i] as DataType]));
    return;
  }
  if (types.length !== 1) throw new Error(`a ${types.join(' . ')} key needs a concatenation`);
  const type = types[0] as DataType;
  if (typeof v !== 'object') return checkScalar(v, type);
  if ('prefix' in v) return checkScalar(v.prefix.addr, type);
  checkScalar(v.range[0], type);
  checkScalar(v.range[1], type);
}

function checkScalar(s: Scalar, type: DataType): void {
  const bad = (what: string): never => {
    throw new Error(`${JSON.stringify(s)} is not ${what} (${type})`);
  };
  switch (type) {
    case 'ipv4_addr':
      if (typeof s !== 'string' || !isIPv4(s)) bad('a literal IPv4 address');
      return;
    case 'ipv6_addr':
      if (typeof s !== 'string' || !isIPv6(s)) bad('a literal IPv6 address');
      return;
    case 'inet_service':
      if (typeof s !== 'number' || s > 65535) bad('a port number');
      return;
    case 'inet_proto':
      if (typeof s === 'number' ? s > 255 : !['tcp', 'udp', 'sctp'].includes(s)) bad('a protocol');
      return;
    case 'mark':
      if (typeof s !== 'number') bad('a numeric mark');
      return;
    case 'verdict':
      bad('a verdict');
  }
}

export function verdictToJson(v: Verdict): NftVerdict {
  switch (v.kind) {
    case 'jump':
      return { jump: { target: v.target } };
    case 'goto':
      return { goto: { target: v.target } };
    case 'accept':
      return { accept: null };
    case 'drop':
      return { drop: null };
    case 'return':
      return { return: null };
    case 'continue':
      return { continue: null };
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions and statements

export function exprToJson(e: Expr): NftExpr {
  switch (e.kind) {
    case 'payload':
      return { payload: { protocol: e.protocol, field: e.field } };
    case 'meta':
      return { meta: { key: e.key } };
    case 'ct':
      return { ct: { key: e.key } };
    case 'fib':
      return { fib: { result: e.result, flags: [e.lookup] } };
    case 'numgen':
      return { numgen: { mode: 'random', mod: e.mod, offset: 0 } };
    case 'concat':
      return { concat: e.parts.map(exprToJson) };
    case 'const':
      return valueToJson(e.value);
    case 'setref':
      return `@${e.name}`;
    case 'anonset':
      return { set: e.elements.map(valueToJson) };
    case 'maplookup':
      return { map: { key: exprToJson(e.key), data: `@${e.map}` } };
    case 'and':
      return { '&': [exprToJson(e.left), e.mask] };
    case 'or':
      return { '|': [exprToJson(e.left), e.bits] };
    case 'xor':
      return { '^': [exprToJson(e.left), e.bits] };
  }
}

/** The address type a packet expression yields, when it is one (to check constants against it). */
function addressType(e: Expr): DataType | undefined {
  if (e.kind === 'payload' && e.protocol === 'ip') return 'ipv4_addr';
  if (e.kind === 'payload' && e.protocol === 'ip6') return 'ipv6_addr';
  return undefined;
}

function checkAddressOperand(left: Expr, right: Expr): void {
  const type = addressType(left);
  if (type === undefined) return;
  if (right.kind === 'const') checkValue(right.value, [type]);
  if (right.kind === 'anonset') right.elements.forEach((v) => checkValue(v, [type]));
}

export function stmtToJson(s: Stmt, family: Family): NftStmt {
  switch (s.kind) {
    case 'match':
      checkAddressOperand(s.left, s.right);
      return { match: { op: s.op, left: exprToJson(s.left), right: exprToJson(s.right) } };
    case 'verdict':
      return verdictToJson(s.verdict);
    case 'vmap':
      return { vmap: { key: exprToJson(s.key), data: `@${s.map}` } };
    case 'anonvmap':
      return {
        vmap: {
          key: exprToJson(s.key),
          data: { set: s.entries.map(([k, v]): [NftElemValue, NftVerdict] => [valueToJson(k), verdictToJson(v)]) },
        },
      };
    case 'counter':
      return { counter: null };
    case 'setmark':
      return { mangle: { key: { meta: { key: 'mark' } }, value: exprToJson(s.value) } };
    case 'dnat': {
      if (s.family !== family) throw new Error(`dnat ${s.family} in an ${family} table`);
      if (s.addr.kind === 'const' && (typeof s.addr.value !== 'string' || isIP(s.addr.value) !== (family === 'ip' ? 4 : 6))) {
        throw new Error(`dnat address ${JSON.stringify(s.addr.value)} is not a literal ${family} address`);
      }
      return {
        dnat: {
          family: s.family,
          addr: exprToJson(s.addr),
          ...(s.port !== undefined ? { port: exprToJson(s.port) } : {}),
        },
      };
    }
    case 'masquerade':
      return { masquerade: s.fullyRandom ? { flags: 'fully-random' } : null };
    case 'reject':
      // `icmpx` only exists in inet/bridge/netdev tables; in ip/ip6 the per-family ICMP type is the
      // same reply (and what `reject` without arguments sends).
      return s.with === 'tcp-reset'
        ? { reject: { type: 'tcp reset' } }
        : { reject: { type: family === 'ip' ? 'icmp' : 'icmpv6', expr: 'port-unreachable' } };
    case 'setupdate': {
      const val = exprToJson(s.elem);
      return {
        set: {
          op: 'update',
          elem: s.timeout !== undefined ? { elem: { val, timeout: s.timeout } } : val,
          set: `@${s.set}`,
        },
      };
    }
  }
}
