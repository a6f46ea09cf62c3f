// The IR: an nftables ruleset as typed data. Backend-neutral in the sense that nothing here knows
// about JSON or text syntax; emitters (compiler/nft), the diff (ir/diff) and the interpreter
// (ir/interpret) all consume exactly these types. Everything is plain data (no classes) so it
// can be compared, hashed and serialised.

export type Family = 'ip' | 'ip6';

/** Datatypes we use in set/map declarations (nft type names). */
export type DataType =
  | 'ipv4_addr'
  | 'ipv6_addr'
  | 'inet_proto'
  | 'inet_service'
  | 'mark'
  | 'verdict';

// ---------------------------------------------------------------------------------------------
// Values (constants, set/map element keys and data)

export type Scalar = string | number;
export type Value =
  | Scalar
  | { prefix: { addr: string; len: number } }
  | { range: [Scalar, Scalar] }
  | { concat: Value[] };

export type Verdict =
  | { kind: 'accept' }
  | { kind: 'drop' }
  | { kind: 'return' }
  | { kind: 'continue' }
  | { kind: 'jump'; target: string }
  | { kind: 'goto'; target: string };

// ---------------------------------------------------------------------------------------------
// Expressions (produce a value from the packet or constants)

export type PayloadField =
  | { protocol: 'ip' | 'ip6'; field: 'saddr' | 'daddr' }
  | { protocol: 'th'; field: 'sport' | 'dport' };

export type Expr =
  | { kind: 'payload'; protocol: PayloadField['protocol']; field: PayloadField['field'] }
  /** iifname: the input interface's name ("" on the output path); a constant ending in `*` is a prefix match. */
  | { kind: 'meta'; key: 'l4proto' | 'mark' | 'nfproto' | 'iifname' }
  | { kind: 'ct'; key: 'state' | 'status' }
  /** fib lookup of saddr/daddr returning the address type (local, unicast, ...). */
  | { kind: 'fib'; lookup: 'saddr' | 'daddr'; result: 'type' }
  | { kind: 'numgen'; mod: number }
  | { kind: 'concat'; parts: Expr[] }
  | { kind: 'const'; value: Value }
  /** Reference to a named set (membership) by name. */
  | { kind: 'setref'; name: string }
  /** Anonymous set of constants, for membership tests. */
  | { kind: 'anonset'; elements: Value[] }
  /** Named map lookup used as a value (e.g. the DNAT address). */
  | { kind: 'maplookup'; key: Expr; map: string }
  /** Bitwise AND of an expression with a constant mask (mark tests). */
  | { kind: 'and'; left: Expr; mask: number }
  | { kind: 'or'; left: Expr; bits: number }
  | { kind: 'xor'; left: Expr; bits: number };

export type MatchOp = '==' | '!=' | 'in';

// ---------------------------------------------------------------------------------------------
// Statements (a rule is a list of statements; the first non-matching match ends the rule)

export type Stmt =
  | { kind: 'match'; left: Expr; op: MatchOp; right: Expr }
  | { kind: 'verdict'; verdict: Verdict }
  /** Verdict map dispatch: named map, or an anonymous one of [key, verdict] pairs. */
  | { kind: 'vmap'; key: Expr; map: string }
  | { kind: 'anonvmap'; key: Expr; entries: [Value, Verdict][] }
  | { kind: 'counter' }
  /** meta mark set <expr> */
  | { kind: 'setmark'; value: Expr }
  | { kind: 'dnat'; family: Family; addr: Expr; port?: Expr }
  | { kind: 'masquerade'; fullyRandom: boolean }
  | { kind: 'reject'; with: 'tcp-reset' | 'icmpx-port-unreachable' }
  /** Packet-path set update (session affinity): add/refresh elem in a dynamic set. */
  | { kind: 'setupdate'; set: string; elem: Expr; timeout?: number };

export interface Rule {
  stmts: Stmt[];
  /** Shown in listings; Kubernetes names go here, never into identifiers. <= 128 bytes. */
  comment?: string;
}

export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export interface BaseChainSpec {
  type: 'filter' | 'nat';
  hook: Hook;
  prio: number;
  policy?: 'accept' | 'drop';
}

export interface Chain {
  name: string;
  base?: BaseChainSpec;
  rules: Rule[];
}

export interface Element {
  key: Value;
  /** Map data: a scalar for data maps, a verdict for verdict maps. */
  data?: Scalar | Verdict;
  /** Per-element timeout in seconds (dynamic sets). */
  timeout?: number;
  comment?: string;
}

export interface SetDef {
  name: string;
  /** One type, or several for a concatenation. */
  keyType: DataType[];
  /** Present for maps: the data type (verdict for verdict maps). */
  dataType?: DataType;
  flags?: ('interval' | 'timeout' | 'constant')[];
  /** Default element timeout in seconds (dynamic sets). */
  timeout?: number;
  size?: number;
  /**
   * Elements the compiler owns. For dynamic sets filled from the packet path (affinity),
   * `dynamic` is true and the elements are not part of the compiled state.
   */
  elements: Element[];
  dynamic?: boolean;
}

export interface Table {
  family: Family;
  name: string;
  /** Declaration order matters for emitters: sets before chains, chains before rules. */
  sets: SetDef[];
  chains: Chain[];
}

export interface Ruleset {
  tables: Table[];
}
