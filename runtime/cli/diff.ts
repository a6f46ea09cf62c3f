// `nftproxy diff OLD NEW`: the minimal transaction that turns OLD's ruleset into NEW's.

import { Command, Option } from 'commander';
import { compileText } from '../../compiler/index.js';
import { transactionToJson } from '../../compiler/nft/json.js';
import { transactionToText } from '../../compiler/nft/text.js';
import { diffRulesets } from '../../ir/diff.js';
import { compileOptionsFrom, withCompileOptions, type RawCompileFlags } from './options.js';
import { reportNodePortFallback } from './nodeports.js';
import { readInput, reportModel } from './io.js';

export function diffCommand(out: (s: string) => void): Command {
  const cmd = new Command('diff')
    .description('print the transaction that turns the ruleset of OLD into the ruleset of NEW (what a partial sync sends)')
    .argument('<old>', 'cluster dump before')
    .argument('<new>', 'cluster dump after')
    .addOption(new Option('--format <format>', 'json: nft -j -f input; nft: nft -f input').choices(['json', 'nft']).default('nft'));
  withCompileOptions(cmd);
  return cmd.action((oldFile: string, newFile: string, flags: RawCompileFlags & { format: 'json' | 'nft' }) => {
    const opts = compileOptionsFrom(flags);
    const before = compileText(readInput(oldFile), opts);
    const after = compileText(readInput(newFile), opts);
    reportModel(after.model);
    reportNodePortFallback(after.model, opts);
    const tx = diffRulesets(before.ruleset, after.ruleset);
    if (flags.format === 'json') out(JSON.stringify(transactionToJson(tx)) + '\n');
    else out(transactionToText(tx));
  });
}
