// The canary, in each of our tables: a one-element set whose element is a random epoch chosen at
// every full sync, and an unhooked chain with one rule that references that set.
// - The epoch proves the table was neither deleted nor replaced by someone else's load. It is
//   checked for free on the hot path: every partial transaction starts with `delete element` +
//   `add element` of the epoch, which fails the whole (atomic) batch with ENOENT when it is gone.
// - The rule proves the table was not flushed (`flush table` on nft 1.0.6 removes rules but keeps
//   set elements, so the epoch alone cannot tell). It is checked without listing anything: a
//   check-only `delete set` of the canary fails with EBUSY while the rule still references it and
//   would succeed once the rule is gone. `list chain` would do too but costs seconds at 10k
//   services (nft fetches every set element for it); `list set` of one set and this check do not.

import type { Command } from '../../ir/transaction.js';
import type { Chain, Ruleset, SetDef, Table } from '../../ir/types.js';

export const DEFAULT_CANARY_SET = 'sync-canary';

export function newEpoch(): number {
  // Non-zero 31-bit: prints the same in every nft output format.
  return 1 + Math.floor(Math.random() * 0x7ffffffe);
}

function canarySet(name: string, epoch: number): SetDef {
  return { name, keyType: ['mark'], elements: [{ key: epoch }] };
}

const chainCache = new Map<string, Chain>();

/** Never hooked, never jumped to: it exists only to hold a reference to the canary set. */
function canaryChain(name: string): Chain {
  let c = chainCache.get(name);
  if (!c) {
    c = { name, rules: [{ stmts: [{ kind: 'match', left: { kind: 'meta', key: 'mark' }, op: '==', right: { kind: 'setref', name } }] }] };
    chainCache.set(name, c);
  }
  return c;
}

/** `desired` with the canary set and chain added to every table (tables shallow-copied). */
export function withCanary(desired: Ruleset, name: string, epoch: number): Ruleset {
  return {
    tables: desired.tables.map((t): Table => {
      if (t.sets.some((s) => s.name === name) || t.chains.some((c) => c.name === name)) {
        throw new Error(`table ${t.family} ${t.name} already has a set or chain named ${name}, the sync engine's canary; choose another canarySet name`);
      }
      return { ...t, sets: [canarySet(name, epoch), ...t.sets], chains: [...t.chains, canaryChain(name)] };
    }),
  };
}

/** Check-only probe: succeeds in the kernel only if the canary rule is gone (table flushed). */
export function canaryRuleProbe(t: Pick<Table, 'family' | 'name'>, name: string): Command[] {
  return [{ op: 'delete', what: 'set', family: t.family, table: t.name, name, isMap: false }];
}

/** The guard commands for one table: fail the batch unless the canary with `epoch` is there. */
export function canaryGuard(t: Pick<Table, 'family' | 'name'>, name: string, epoch: number): Command[] {
  const base = { family: t.family, table: t.name, set: name, elements: [{ key: epoch }] };
  return [
    { op: 'delete', what: 'element', ...base },
    { op: 'add', what: 'element', ...base },
  ];
}

/** Does a `list set` element array hold exactly our epoch? (nft may print marks as hex.) */
export function canaryMatches(elements: unknown[] | null, epoch: number): boolean {
  if (!elements || elements.length !== 1) return false;
  const e = elements[0];
  const n = typeof e === 'number' ? e : typeof e === 'string' ? Number(e) : NaN;
  return n === epoch;
}
