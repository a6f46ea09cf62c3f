// Entry point for tests: `nftproxy run ARGS…` without the compiled bin (runs under tsx).
// With NFTPROXY_TEST_REFUSE_PREFIX=10.96.250. the daemon's applier makes the real kernel refuse
// every transaction that programs such an address (test/sync/refusing-applier.ts): the
// quarantine tests need a refusal the compiler cannot see.
import { CommanderError } from 'commander';
import { runCommand } from '../../runtime/cli/run.js';
import { Daemon } from '../../runtime/daemon/daemon.js';
import { createApplier } from '../../runtime/apply/index.js';
import { RefusingApplier } from '../sync/refusing-applier.js';

const prefix = process.env.NFTPROXY_TEST_REFUSE_PREFIX;
if (prefix) {
  // Daemon.start creates its applier from the config unless one is given: wrap that one.
  const start = Daemon.prototype.start;
  Daemon.prototype.start = function (this: Daemon): Promise<void> {
    const deps = (this as unknown as { deps: { applier?: unknown } }).deps;
    deps.applier ??= new RefusingApplier(createApplier(this.config.applier), prefix);
    return start.call(this);
  };
}

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
