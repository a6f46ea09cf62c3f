// `nftproxy compile FILE`: print the ruleset (nft text), the exact transaction (nft JSON) or counts.

import { Command, Option } from 'commander';
import { compile } from '../../compiler/index.js';
import { buildModel, loadObjects } from '../../compiler/model/index.js';
import { rulesetToJson } from '../../compiler/nft/json.js';
import { rulesetToText } from '../../compiler/nft/text.js';
import { rulesetStats } from '../../ir/stats.js';
import { compileIptables } from '../../compiler/iptables/restore.js';
import { compileKubeProxyNft } from '../../compiler/kubeproxy-nft/compile.js';
import { compileOptionsFrom, withCompileOptions, type RawCompileFlags } from './options.js';
import { expandPrimary, reportNodePortFallback } from './nodeports.js';
import { readInput, reportModel } from './io.js';

type Format = 'nft' | 'json' | 'stats' | 'iptables' | 'kube-proxy-nft';

export function compileCommand(out: (s: string) => void): Command {
  const cmd = new Command('compile')
    .description('compile a cluster dump (kubectl get services,endpointslices,nodes -A -o yaml) and print the rules')
    .argument('<file>', 'YAML or JSON cluster dump, - for stdin')
    .addOption(
      new Option(
        '--format <format>',
        'nft: the ruleset as nft list prints it; json: the nft -j -f transaction; stats: object counts; ' +
          "iptables: kube-proxy's iptables-mode restore input (baseline; --ipv6 for ip6tables); " +
          "kube-proxy-nft: kube-proxy's nftables-mode layout as nft -j -f input (baseline)",
      )
        .choices(['nft', 'json', 'stats', 'iptables', 'kube-proxy-nft'])
        .default('nft'),
    )
    .option('--ipv6', 'with --format iptables: the ip6tables-restore input', false);
  withCompileOptions(cmd);
  return cmd.action((file: string, flags: RawCompileFlags & { format: Format; ipv6: boolean }) => {
    const opts = compileOptionsFrom(flags);
    const model = buildModel(loadObjects(readInput(file)).objects, opts);
    reportModel(model);
    reportNodePortFallback(model, opts);
    // The baselines render the model their own way: our lowering is never computed for them.
    if (flags.format === 'iptables') return out(compileIptables(model.servicePorts, expandPrimary(opts, model), flags.ipv6 ? 6 : 4));
    if (flags.format === 'kube-proxy-nft') return out(JSON.stringify(rulesetToJson(compileKubeProxyNft(model.servicePorts, expandPrimary(opts, model)))) + '\n');
    const ruleset = compile(model, opts);
    if (flags.format === 'json') out(JSON.stringify(rulesetToJson(ruleset)) + '\n');
    else if (flags.format === 'stats') {
      const s = rulesetStats(ruleset);
      const lines = [
        `servicePorts ${model.servicePorts.length}`,
        `endpoints ${model.servicePorts.reduce((n, sp) => n + sp.endpoints.length, 0)}`,
        `problems ${model.problems.length}`,
        ...Object.entries(s).map(([k, v]) => `${k} ${v}`),
      ];
      out(lines.join('\n') + '\n');
    } else out(rulesetToText(ruleset));
  });
}
