// The nftproxy command line. Each subcommand lives in its own module; this file only wires them.

import { Command, CommanderError } from 'commander';
import { InputError } from '../../compiler/model/load.js';
import { FlagError } from '../config/flags.js';
import { compileCommand } from './compile.js';
import { traceCommand } from './trace.js';
import { diffCommand } from './diff.js';
import { applyCommand, cleanupCommand } from './apply.js';
import { runCommand } from './run.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_UNUSABLE, UsageError } from './io.js';

export function buildProgram(out: (s: string) => void = (s) => process.stdout.write(s)): Command {
  const program = new Command('nftproxy')
    .description('Kubernetes service proxy compiled to an nftables datapath (static program + verdict maps)')
    .exitOverride()
    .showHelpAfterError();
  program.addCommand(compileCommand(out));
  program.addCommand(traceCommand(out));
  program.addCommand(diffCommand(out));
  program.addCommand(applyCommand(out));
  program.addCommand(cleanupCommand(out));
  program.addCommand(runCommand());
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_OK;
      return EXIT_UNUSABLE;
    }
    if (err instanceof InputError || err instanceof UsageError || err instanceof FlagError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT_UNUSABLE;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_FAILURE;
  }
}
