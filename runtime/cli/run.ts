// `nftproxy run`: the proxier daemon, configured like kube-proxy (flags and/or a
// KubeProxyConfiguration file). Runs until SIGTERM/SIGINT, then stops watching and exits with the
// rules left in place. `--cleanup` removes our tables and exits.

import { Command, Option } from 'commander';
import { ConfigError, resolveConfig, type RunFlags } from '../daemon/config.js';
import { UsageError } from './io.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface RunCliFlags extends RunFlags {
  cleanup?: boolean;
  logLevel?: string;
}

export function runCommand(): Command {
  return new Command('run')
    .description('run the proxier daemon: watch Services/EndpointSlices and keep this node\'s nftables datapath in sync (like kube-proxy --proxy-mode=nftables)')
    .option('--config <file>', 'KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1); flags override it')
    .option('--kubeconfig <file>', 'kubeconfig file (default: in-cluster service account)')
    .option('--master <url>', 'API server URL (overrides the kubeconfig\'s server)')
    .option('--hostname-override <name>', 'this node\'s name (default: the hostname)')
    .option('--cluster-cidr <cidrs>', 'pod CIDRs, comma-separated; traffic from outside them to cluster IPs is masqueraded')
    .addOption(new Option('--nodeport-addresses <cidrs>', 'node addresses in these CIDRs accept NodePorts (comma-separated or repeated)').argParser(collect))
    .option('--masquerade-all', 'masquerade all traffic to cluster IPs')
    .option('--healthz-bind-address <host:port>', '/healthz and /livez (default 0.0.0.0:10256; empty disables)')
    .option('--metrics-bind-address <host:port>', '/metrics (default 127.0.0.1:10249; empty disables)')
    .option('--min-sync-period <duration>', 'minimum interval between syncs (default 1s)')
    .option('--sync-period <duration>', 'interval of full resyncs (default 1h)')
    .option('--masquerade-bit <n>', 'packet mark bit owned for masquerade (default 14)')
    .option('--applier <kind>', 'auto (libnftables when it loads, else the nft CLI), cli or lib')
    .option('--table <name>', 'nftables table name, in both the ip and ip6 families (default nftproxy)')
    .option('--cleanup', 'remove our tables (both families) and exit')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .action(async (flags: RunCliFlags) => {
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
      const log = pino({ level: flags.logLevel ?? 'info', base: { component: 'nftproxy' } });
      if (flags.cleanup) {
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
