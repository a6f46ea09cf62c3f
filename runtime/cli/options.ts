// The flags of the commands that compile a cluster dump (compile, trace, diff, apply), from the
// one flag spec all commands share (runtime/config/flags.ts).

import type { Command } from 'commander';
import { addFlags } from '../config/flags.js';

export { compileOptionsFrom, type RawFlags as RawCompileFlags } from '../config/flags.js';

/** Adds the compile flags (shared with `run`) to a command. */
export function withCompileOptions(cmd: Command): Command {
  return addFlags(cmd, 'compile');
}
