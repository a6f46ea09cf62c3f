// Entry point for tests: `nftproxy run ARGS…` without the compiled bin (runs under tsx).
import { CommanderError } from 'commander';
import { runCommand } from '../../runtime/cli/run.js';

runCommand()
  .exitOverride()
  .parseAsync(process.argv)
  .then(
    () => undefined,
    (err: unknown) => {
      if (err instanceof CommanderError && err.exitCode === 0) process.exit(0);
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
