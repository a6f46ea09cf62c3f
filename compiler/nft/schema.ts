// zod schemas of exactly the subset of nft 1.0.6 JSON input that nftproxy emits. Objects are strict
// everywhere because 1.0.6 silently ignores unknown properties (a typo would change the ruleset, not
// fail), and the limits that 1.0.6 does not check itself (or crashes on) are enforced here.

import { isIP, isIPv4 } from 'node:net';
import { z } from 'zod';
import { formatPath } from '../model/build.js';
import { fastElementOk } from './fast-elements.js';
import {
  IMMEDIATE_PATTERN,
  MAX_MARK,
  MAX_PREFIX_LEN,
  isValidComment,
  isValidName,
  MAX_COMMENT_BYTES,
  MAX_NAME_BYTES,
} from './limits.js';

// ---------------------------------------------------------------------------------------------
// Scalars

export const NftFamilySchema = z.enum(['ip', 'ip6']);

export const NftNameSchema = z
  .string()
  .refine(isValidName, `name must match [A-Za-z_.][A-Za-z0-9/_.-]* and be at most ${MAX_NAME_BYTES} bytes`);

/** Jump/goto targets: a chain name, never empty (an empty target crashes 1.0.6). */
export const NftChainTargetSchema = NftNameSchema;

export const NftCommentSchema = z
  .string()
  .refine(
    isValidComment,
    `comment must be printable ASCII without '"' and at most ${MAX_COMMENT_BYTES} bytes`,
  );

/** `@name`: a named set or map used as an expression. */
export const NftSetRefSchema = z
  .string()
  .refine((s) => s.startsWith('@') && isValidName(s.slice(1)), 'set reference must be "@" followed by a valid name');

export const NftImmediateSchema = z.union([
  z.number().int().min(0).max(MAX_MARK),
  z
    .string()
    .regex(IMMEDIATE_PATTERN, 'immediate string must be a literal (no "/", spaces or quotes); use prefix/range objects')
    .refine((s) => !s.startsWith('@'), 'a "@" string is a set reference, not an immediate')
    // None of the symbolic constants we use (tcp, established, local, ...) contains "." or ":", so
    // such a string is meant as an address and must be a literal: anything else goes to DNS.
    .refine((s) => !/[.:]/.test(s) || isIP(s) !== 0, 'address immediates must be literal IPv4/IPv6 addresses'),
]);
export type NftImmediate = z.infer<typeof NftImmediateSchema>;

export const NftPrefixSchema = z
  .strictObject({
    prefix: z.strictObject({
      addr: z.string().refine((a) => isIP(a) !== 0, 'prefix address must be a literal IPv4/IPv6 address'),
      len: z.number().int().min(0).max(MAX_PREFIX_LEN.ip6),
    }),
  })
  .refine((p) => !isIPv4(p.prefix.addr) || p.prefix.len <= MAX_PREFIX_LEN.ip, 'IPv4 prefix length must be <= 32');
export type NftPrefix = z.infer<typeof NftPrefixSchema>;

export const NftRangeSchema = z.strictObject({ range: z.tuple([NftImmediateSchema, NftImmediateSchema]) });
export type NftRange = z.infer<typeof NftRangeSchema>;

const NftElemAtomSchema = z.union([NftImmediateSchema, NftPrefixSchema, NftRangeSchema]);

/** A set/map element key or a data-map value: scalar, prefix, range, or a concatenation of those. */
export const NftElemValueSchema = z.union([
  NftElemAtomSchema,
  z.strictObject({ concat: z.array(NftElemAtomSchema).min(2) }),
]);
export type NftElemValue = z.infer<typeof NftElemValueSchema>;

// ---------------------------------------------------------------------------------------------
// Verdicts

const target = z.strictObject({ target: NftChainTargetSchema });
export const NftVerdictSchema = z.union([
  z.strictObject({ accept: z.null() }),
  z.strictObject({ drop: z.null() }),
  z.strictObject({ continue: z.null() }),
  z.strictObject({ return: z.null() }),
  z.strictObject({ jump: target }),
  z.strictObject({ goto: target }),
]);
export type NftVerdict = z.infer<typeof NftVerdictSchema>;

// ---------------------------------------------------------------------------------------------
// Elements

/** An element with per-element attributes uses the `elem` wrapper. */
export const NftElemItemSchema = z.union([
  NftElemValueSchema,
  z.strictObject({
    elem: z.strictObject({
      val: NftElemValueSchema,
      timeout: z.number().int().positive().optional(),
      comment: NftCommentSchema.optional(),
    }),
  }),
]);
export type NftElemItem = z.infer<typeof NftElemItemSchema>;

/** Map entries are `[key, value]` pairs; the value is a scalar (data maps) or a verdict. */
export const NftMapEntrySchema = z.tuple([NftElemItemSchema, z.union([NftElemValueSchema, NftVerdictSchema])]);
export type NftMapEntry = z.infer<typeof NftMapEntrySchema>;

// ---------------------------------------------------------------------------------------------
// Expressions (recursive: concatenations, binary operations and map keys contain expressions)

export type NftPayloadProtocol = 'ip' | 'ip6' | 'th' | 'tcp' | 'udp' | 'sctp';
export type NftMetaKey = 'l4proto' | 'mark' | 'nfproto' | 'iifname' | 'oifname';
export type NftCtKey = 'state' | 'status' | 'mark';
export type NftFibFlag = 'saddr' | 'daddr' | 'mark' | 'iif' | 'oif';

export type NftExpr =
  | NftImmediate
  | string // "@set" references; validated by the schema
  | { payload: { protocol: NftPayloadProtocol; field: 'saddr' | 'daddr' | 'sport' | 'dport' } }
  | { meta: { key: NftMetaKey } }
  | { ct: { key: NftCtKey } }
  | { fib: { result: 'type' | 'oif' | 'oifname'; flags: NftFibFlag[] } }
  | { numgen: { mode: 'random' | 'inc'; mod: number; offset?: number } }
  | { concat: NftExpr[] }
  | { set: NftElemItem[] }
  | { map: { key: NftExpr; data: string } }
  | { '&': [NftExpr, NftExpr] }
  | { '|': [NftExpr, NftExpr] }
  | { '^': [NftExpr, NftExpr] }
  | NftPrefix
  | NftRange;

const L3_FIELDS = ['saddr', 'daddr'];
const L4_FIELDS = ['sport', 'dport'];

export const NftPayloadSchema = z
  .strictObject({
    payload: z.strictObject({
      protocol: z.enum(['ip', 'ip6', 'th', 'tcp', 'udp', 'sctp']),
      field: z.enum(['saddr', 'daddr', 'sport', 'dport']),
    }),
  })
  .refine(
    ({ payload: p }) => (p.protocol === 'ip' || p.protocol === 'ip6' ? L3_FIELDS : L4_FIELDS).includes(p.field),
    'payload field does not belong to the protocol header',
  );

export const NftExprSchema: z.ZodType<NftExpr> = z.lazy(() =>
  z.union([
    NftImmediateSchema,
    NftSetRefSchema,
    NftPayloadSchema,
    z.strictObject({ meta: z.strictObject({ key: z.enum(['l4proto', 'mark', 'nfproto', 'iifname', 'oifname']) }) }),
    z.strictObject({ ct: z.strictObject({ key: z.enum(['state', 'status', 'mark']) }) }),
    z.strictObject({
      fib: z.strictObject({
        result: z.enum(['type', 'oif', 'oifname']),
        flags: z.array(z.enum(['saddr', 'daddr', 'mark', 'iif', 'oif'])).min(1),
      }),
    }),
    z.strictObject({
      numgen: z.strictObject({
        mode: z.enum(['random', 'inc']),
        mod: z.number().int().min(1).max(MAX_MARK),
        offset: z.number().int().min(0).optional(),
      }),
    }),
    z.strictObject({ concat: z.array(NftExprSchema).min(2) }),
    z.strictObject({ set: z.array(NftElemItemSchema).min(1) }),
    z.strictObject({ map: z.strictObject({ key: NftExprSchema, data: NftSetRefSchema }) }),
    z.strictObject({ '&': z.tuple([NftExprSchema, NftExprSchema]) }),
    z.strictObject({ '|': z.tuple([NftExprSchema, NftExprSchema]) }),
    z.strictObject({ '^': z.tuple([NftExprSchema, NftExprSchema]) }),
    NftPrefixSchema,
    NftRangeSchema,
  ]),
);

// ---------------------------------------------------------------------------------------------
// Statements

export const NftMatchSchema = z.strictObject({
  match: z.strictObject({
    // Binary operators and `!` as the match op crash 1.0.6: only these three are allowed.
    op: z.enum(['==', '!=', 'in']),
    left: NftExprSchema,
    right: NftExprSchema,
  }),
});

export const NftVmapSchema = z.strictObject({
  vmap: z.strictObject({
    key: NftExprSchema,
    data: z.union([
      NftSetRefSchema,
      z.strictObject({ set: z.array(z.tuple([NftElemValueSchema, NftVerdictSchema])).min(1) }),
    ]),
  }),
});

const NatFlagSchema = z.enum(['random', 'fully-random', 'persistent']);

export const NftStmtSchema = z.union([
  NftMatchSchema,
  NftVerdictSchema,
  NftVmapSchema,
  z.strictObject({ counter: z.null() }),
  z.strictObject({
    mangle: z.strictObject({
      key: z.union([
        z.strictObject({ meta: z.strictObject({ key: z.literal('mark') }) }),
        z.strictObject({ ct: z.strictObject({ key: z.literal('mark') }) }),
      ]),
      value: NftExprSchema,
    }),
  }),
  z.strictObject({
    dnat: z
      .strictObject({
        family: NftFamilySchema.optional(),
        addr: NftExprSchema.optional(),
        port: NftExprSchema.optional(),
      })
      .refine((d) => d.addr !== undefined || d.port !== undefined, 'dnat needs an addr or a port'),
  }),
  z.strictObject({
    masquerade: z.union([
      z.null(),
      z.strictObject({ flags: z.union([NatFlagSchema, z.array(NatFlagSchema).min(1)]).optional() }),
    ]),
  }),
  z.strictObject({
    reject: z.union([
      z.null(),
      z.strictObject({ type: z.literal('tcp reset') }),
      // `icmpx` is deliberately absent: 1.0.6 rejects it in ip/ip6 tables ("abstracted ICMP
      // unreachable not supported"); it only exists for inet/bridge/netdev.
      z.strictObject({ type: z.enum(['icmp', 'icmpv6']), expr: z.literal('port-unreachable') }),
    ]),
  }),
  z.strictObject({
    set: z.strictObject({
      op: z.enum(['add', 'update']),
      elem: z.union([
        NftExprSchema,
        z.strictObject({
          elem: z.strictObject({ val: NftExprSchema, timeout: z.number().int().positive().optional() }),
        }),
      ]),
      set: NftSetRefSchema,
    }),
  }),
]);
export type NftStmt = z.infer<typeof NftStmtSchema>;

// ---------------------------------------------------------------------------------------------
// Objects

export const NftTableSchema = z.strictObject({ family: NftFamilySchema, name: NftNameSchema });
export type NftTable = z.infer<typeof NftTableSchema>;

const objectRef = { family: NftFamilySchema, table: NftNameSchema, name: NftNameSchema };

export const NftChainRefSchema = z.strictObject(objectRef);

export const NftChainSchema = z
  .strictObject({
    ...objectRef,
    type: z.enum(['filter', 'nat', 'route']).optional(),
    hook: z.enum(['prerouting', 'input', 'forward', 'output', 'postrouting']).optional(),
    // A string prio silently turns the chain into a regular chain in 1.0.6.
    prio: z.number().int().optional(),
    policy: z.enum(['accept', 'drop']).optional(),
  })
  .refine(
    (c) => {
      const present = [c.type, c.hook, c.prio].filter((x) => x !== undefined).length;
      return present === 0 ? c.policy === undefined : present === 3;
    },
    'a base chain needs all of type, hook and integer prio (policy only on base chains)',
  );
export type NftChain = z.infer<typeof NftChainSchema>;

export const NftRuleSchema = z.strictObject({
  family: NftFamilySchema,
  table: NftNameSchema,
  chain: NftNameSchema,
  expr: z.array(NftStmtSchema).min(1),
  comment: NftCommentSchema.optional(),
});
export type NftRule = z.infer<typeof NftRuleSchema>;

export const NftKeyTypeSchema = z.enum(['ipv4_addr', 'ipv6_addr', 'inet_proto', 'inet_service', 'mark']);
export const NftDataTypeSchema = z.enum(['ipv4_addr', 'ipv6_addr', 'inet_proto', 'inet_service', 'mark', 'verdict']);

const setDecl = {
  ...objectRef,
  type: z.union([NftKeyTypeSchema, z.array(NftKeyTypeSchema).min(2)]),
  // Must be an array: a bare string is silently ignored; `dynamic` is rejected by 1.0.6.
  flags: z.array(z.enum(['constant', 'interval', 'timeout'])).min(1).optional(),
  timeout: z.number().int().positive().optional(),
  size: z.number().int().positive().optional(),
};
export const NftSetSchema = z.strictObject(setDecl);
export type NftSet = z.infer<typeof NftSetSchema>;
export const NftMapSchema = z.strictObject({ ...setDecl, map: NftDataTypeSchema });
export type NftMap = z.infer<typeof NftMapSchema>;

const NftElementEntrySchema = z.union([NftMapEntrySchema, NftElemItemSchema]);
type NftElementEntry = z.infer<typeof NftElementEntrySchema>;

export const NftElementSchema = z.strictObject({
  ...objectRef,
  // Each entry is checked by the sound fast path first; only what it does not accept is parsed
  // by the full schema (which then decides and names the problem). See fast-elements.ts.
  elem: z
    .array(z.custom<NftElementEntry>(() => true))
    .min(1)
    .superRefine((items, ctx) => {
      items.forEach((item, i) => {
        if (fastElementOk(item)) return;
        const r = NftElementEntrySchema.safeParse(item);
        if (!r.success) {
          for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: [i, ...issue.path] });
        }
      });
    }),
});
export type NftElement = z.infer<typeof NftElementSchema>;

// ---------------------------------------------------------------------------------------------
// Commands and root

export const NftAddSchema = z.strictObject({
  add: z.union([
    z.strictObject({ table: NftTableSchema }),
    z.strictObject({ chain: NftChainSchema }),
    z.strictObject({ rule: NftRuleSchema }),
    z.strictObject({ set: NftSetSchema }),
    z.strictObject({ map: NftMapSchema }),
    z.strictObject({ element: NftElementSchema }),
  ]),
});

export const NftDeleteSchema = z.strictObject({
  delete: z.union([
    z.strictObject({ table: NftTableSchema }),
    z.strictObject({ chain: NftChainRefSchema }),
    z.strictObject({ set: NftChainRefSchema }),
    z.strictObject({ map: NftChainRefSchema }),
    z.strictObject({ element: NftElementSchema }),
  ]),
});

export const NftFlushSchema = z.strictObject({
  flush: z.union([
    z.strictObject({ table: NftTableSchema }),
    z.strictObject({ chain: NftChainRefSchema }),
    z.strictObject({ set: NftChainRefSchema }),
    z.strictObject({ map: NftChainRefSchema }),
  ]),
});

export const NftCommandSchema = z.union([NftAddSchema, NftDeleteSchema, NftFlushSchema]);
export type NftCommand = z.infer<typeof NftCommandSchema>;

export const NftMetainfoSchema = z.strictObject({
  metainfo: z.strictObject({ json_schema_version: z.literal(1) }),
});
export type NftMetainfo = z.infer<typeof NftMetainfoSchema>;

export const NftJsonRootSchema = z.strictObject({
  nftables: z.array(z.union([NftMetainfoSchema, NftCommandSchema])),
});
export type NftJsonRoot = z.infer<typeof NftJsonRootSchema>;

// ---------------------------------------------------------------------------------------------
// Error reporting

/**
 * One readable line per problem. zod reports a failed union as all its branches' failures; the
 * branch that got furthest (deepest path, not merely "wrong key") is the one the author meant.
 */
export function describeIssues(error: z.ZodError): string {
  return flatten(error.issues, [])
    .map((i) => `${i.path.length > 0 ? formatPath(i.path) + ': ' : ''}${i.message}`)
    .join('; ');
}

interface FlatIssue {
  path: PropertyKey[];
  message: string;
}

function flatten(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): FlatIssue[] {
  const out: FlatIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const best = bestBranch(issue.errors);
      out.push(...flatten(best, path));
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

function bestBranch(branches: z.core.$ZodIssue[][]): z.core.$ZodIssue[] {
  let best = branches[0] ?? [];
  let bestScore = -Infinity;
  for (const branch of branches) {
    const score = branchScore(branch);
    if (score > bestScore) {
      best = branch;
      bestScore = score;
    }
  }
  return best;
}

function branchScore(branch: z.core.$ZodIssue[]): number {
  let score = 0;
  for (const issue of branch) {
    const missingOrUnknown =
      issue.code === 'unrecognized_keys' || (issue.code === 'invalid_type' && issue.message.endsWith('undefined'));
    if (missingOrUnknown && issue.path.length <= 1) score -= 100;
    else if (issue.code === 'invalid_type' && issue.path.length === 0) score -= 50;
    else score += 10 * issue.path.length + 1;
  }
  return score;
}
