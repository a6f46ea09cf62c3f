// The canary: a one-element set in each of our tables whose element is a random epoch chosen at
// every full sync. Its presence proves the table was neither deleted nor flushed (`flush table`
// removes elements) nor replaced by someone else's load since our last full sync. It is checked
// for free on the hot path — every partial transaction starts with `delete element` + `add
// element` of the epoch, which fails the whole (atomic) batch with ENOENT when it is gone — and by
// a cheap `list set` of that one set when there is nothing to send.

import type { Command } from '../../ir/transaction.js';
import type { Ruleset, SetDef, Table } from '../../ir/types.js';

export const DEFAULT_CANARY_SET = 'sync-canary';

export function newEpoch(): number {
  // Non-zero 31-bit: prints the same in every nft output format.
  return 1 + Math.floor(Math.random() * 0x7ffffffe);
}

function canarySet(name: string, epoch: number): SetDef {
  return { name, keyType: ['mark'], elements: [{ key: epoch }] };
}

/** `desired` with the canary set added to every table (tables are shallow-copied, sets shared). */
export function withCanary(desired: Ruleset, name: string, epoch: number): Ruleset {
  return {
    tables: desired.tables.map((t): Table => {
      if (t.sets.some((s) => s.name === name)) {
        throw new Error(`table ${t.family} ${t.name} already has a set named ${name}, the sync engine's canary; choose another canarySet name`);
      }
      return { ...t, sets: [canarySet(name, epoch), ...t.sets] };
    }),
  };
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
