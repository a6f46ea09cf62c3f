// `nftproxy apply FILE`: one full sync of a cluster dump into the CURRENT network namespace, and
// `nftproxy cleanup`: remove exactly our tables (both families) and nothing else.

import { Command } from 'commander';
import { compileText } from '../../compiler/index.js';
import { fullTransaction, type Command as IrCommand } from '../../ir/transaction.js';
import type { Family } from '../../ir/types.js';
import type { Applier } from '../apply/types.js';
import { addFlags, parseFlags } from '../config/flags.js';
import { compileOptionsFrom, withCompileOptions, type RawCompileFlags } from './options.js';
import { reportNodePortFallback } from './nodeports.js';
import { readInput, reportModel } from './io.js';

export function applyCommand(out: (s: string) => void): Command {
  const cmd = new Command('apply')
    .description('program the ruleset of a cluster dump into the current network namespace (one atomic full sync)')
    .argument('<file>', 'YAML or JSON cluster dump, - for stdin')
    .option('--check', 'only let the kernel validate the transaction (nft -c): nothing changes', false);
  withCompileOptions(cmd);
  addFlags(cmd, 'apply');
  return cmd.action(async (file: string, flags: RawCompileFlags & { check: boolean }) => {
    const opts = compileOptionsFrom(flags);
    const applierChoice = parseFlags(flags).applier ?? 'auto';
    const { model, ruleset } = compileText(readInput(file), opts);
    reportModel(model);
    reportNodePortFallback(model, opts);
    const [{ createApplier }, { SyncEngine }] = await Promise.all([import('../apply/index.js'), import('../sync/index.js')]);
    const applier = createApplier(applierChoice);
    try {
      if (flags.check) {
        const started = performance.now();
        await applier.check(fullTransaction(ruleset));
        out(`check passed: the kernel accepts the transaction (${(performance.now() - started).toFixed(1)} ms, applier ${applier.name})\n`);
        return;
      }
      const engine = new SyncEngine({ applier, ownedTables: ownedTables(opts.tableName) });
      const r = await engine.sync(ruleset, { full: true });
      out(`applied ${r.kind} sync: ${r.commands} commands, ${model.servicePorts.length} service ports, ${r.durationMs.toFixed(1)} ms (applier ${applier.name})\n`);
    } finally {
      applier.close();
    }
  });
}

const ownedTables = (name: string): { family: Family; name: string }[] => [
  { family: 'ip', name },
  { family: 'ip6', name },
];

/** Deletes our tables that exist, in one transaction. Returns what was removed. */
export async function cleanup(applier: Applier, tableName: string): Promise<string[]> {
  const listing = await applier.listJson('list tables');
  const present = new Set(
    listing.nftables.flatMap((item) => {
      const t = (item as { table?: { family: string; name: string } }).table;
      return t ? [`${t.family} ${t.name}`] : [];
    }),
  );
  const commands: IrCommand[] = ownedTables(tableName)
    .filter((t) => present.has(`${t.family} ${t.name}`))
    .map((t) => ({ op: 'delete', what: 'table', family: t.family, table: t.name }));
  if (commands.length > 0) await applier.apply({ commands });
  return commands.map((c) => `${c.family} ${(c as { table: string }).table}`);
}

export function cleanupCommand(out: (s: string) => void): Command {
  const cmd = new Command('cleanup').description('remove our tables (ip and ip6) from the current network namespace, and nothing else');
  return addFlags(cmd, 'cleanup')
    .action(async (raw: RawCompileFlags) => {
      const flags = parseFlags(raw);
      const table = flags.table ?? 'nftproxy';
      const { createApplier } = await import('../apply/index.js');
      const applier = createApplier(flags.applier ?? 'auto');
      try {
        const removed = await cleanup(applier, table);
        out(removed.length > 0 ? `removed table ${removed.join(', table ')}\n` : `no table named ${table}: nothing to remove\n`);
      } finally {
        applier.close();
      }
    });
}
