// `nftproxy run --cleanup`: remove our tables in both families and nothing else. `add` before
// `delete` in the same transaction makes it idempotent (no ENOENT when a table is absent).

import type { Command } from '../../ir/transaction.js';
import type { Applier } from '../apply/types.js';
import { tablesOf } from './daemon.js';

export function cleanupCommands(table: string): Command[] {
  return tablesOf(table).flatMap((t): Command[] => [
    { op: 'add', what: 'table', family: t.family, table: t.name },
    { op: 'delete', what: 'table', family: t.family, table: t.name },
  ]);
}

export async function cleanupTables(applier: Applier, table: string): Promise<void> {
  await applier.apply({ commands: cleanupCommands(table) });
}
