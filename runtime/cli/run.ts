// `nftproxy run`: the proxier daemon, configured like kube-proxy (flags and/or a
// KubeProxyConfiguration file). Runs until SIGTERM/SIGINT, then stops watching and exits with the
// rules left in place. `--cleanup` removes our tables and exits.

import { Command } from 'commander';
import { addFlags, type RawFlags } from '../config/flags.js';
import { ConfigError, resolveConfig } from '../daemon/config.js';
import { UsageError } from './io.js';

export function runCommand(): Command {
  const cmd = new Command('run').description(
    'run the proxier daemon: watch Services/EndpointSlices and keep this node\'s nftables datapath in sync (like kube-proxy --proxy-mode=nftables)',
  );
  addFlags(cmd, 'run');
  return cmd.action(async (flags: RawFlags) => {
    let config;
    try {
      config = resolveConfig(flags);
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.message);
      throw err;
    }
    // The daemon's dependencies (client-node, pino, prom-client, koffi) load here, not at CLI
    // start: `compile`, `trace` and `diff` must not pay for them.
    const [{ pino }, { createApplier }, { cleanupTables }, { Daemon }] = await Promise.all([
      import('pino'),
      import('../apply/index.js'),
      import('../daemon/cleanup.js'),
      import('../daemon/daemon.js'),
    ]);
    const log = pino({ level: typeof flags['logLevel'] === 'string' ? flags['logLevel'] : 'info', base: { component: 'nftproxy' } });
    for (const w of config.warnings) log.warn({ config: w }, 'configuration not implemented');
    if (flags['cleanup']) {
      const applier = createApplier(config.applier);
      try {
        await cleanupTables(applier, config.compile.tableName);
      } finally {
        applier.close();
      }
      log.info({ table: config.compile.tableName }, 'tables removed');
      return;
    }
    const daemon = new Daemon(config, { log });
    await daemon.start();
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    log.info({ signal }, 'shutting down');
    await daemon.stop();
    // A lingering socket must not keep a stopped daemon alive; unref'd, this fires only then.
    setTimeout(() => process.exit(0), 3000).unref();
  });
}
