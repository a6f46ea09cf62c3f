// Compile options shared by `compile`, `diff`, `trace`, `apply`: flag definitions and validation.

import { Command, InvalidArgumentError, Option } from 'commander';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { normalizeIp, parseCidr } from '../../ir/ip.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function cidr(flag: string) {
  return (value: string, previous: string[] = []): string[] => {
    const c = parseCidr(value);
    if (!c) throw new InvalidArgumentError(`${flag} expects a CIDR like 10.244.0.0/16 or fd00::/64, got "${value}"`);
    return [...previous, `${c.addr}/${c.len}`];
  };
}

function ip(flag: string) {
  return (value: string, previous: string[] = []): string[] => {
    const n = normalizeIp(value);
    if (!n) throw new InvalidArgumentError(`${flag} expects an IP address, got "${value}"`);
    return [...previous, n];
  };
}

function bitNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 31) throw new InvalidArgumentError(`--masquerade-bit expects 0..31, got "${value}"`);
  return n;
}

function tableName(value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(value)) {
    throw new InvalidArgumentError(`--table expects a name of letters, digits, _ and - (max 64), got "${value}"`);
  }
  return value;
}

/** Adds the compile flags to a command. */
export function withCompileOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--cluster-cidr <cidr>', 'pod CIDR (repeatable, per family); off-cluster sources are masqueraded').argParser(cidr('--cluster-cidr')))
    .option('--node-name <name>', 'this node: endpoints with this nodeName are local')
    .option('--node-zone <zone>', 'this node\'s zone, for topology-aware routing (default: from the Node object)')
    .addOption(new Option('--node-ip <ip>', 'address accepting NodePorts (repeatable; default: every local address)').argParser(ip('--node-ip')))
    .addOption(new Option('--nodeport-addresses <cidr>', 'only node addresses in these CIDRs accept NodePorts (repeatable)').argParser(cidr('--nodeport-addresses')))
    .option('--masquerade-all', 'masquerade all traffic to cluster IPs', false)
    .addOption(new Option('--masquerade-bit <n>', 'packet mark bit owned for masquerade').argParser(bitNumber).default(14))
    .addOption(new Option('--table <name>', 'nftables table name (both families)').argParser(tableName).default('nftproxy'));
}

export interface RawCompileFlags {
  clusterCidr?: string[];
  nodeName?: string;
  nodeZone?: string;
  nodeIp?: string[];
  nodeportAddresses?: string[];
  masqueradeAll?: boolean;
  masqueradeBit?: number;
  table?: string;
}

export function compileOptionsFrom(flags: RawCompileFlags): CompileOptions {
  return {
    ...defaultCompileOptions,
    tableName: flags.table ?? defaultCompileOptions.tableName,
    clusterCIDRs: flags.clusterCidr ?? [],
    nodeName: flags.nodeName,
    nodeZone: flags.nodeZone,
    nodeIPs: flags.nodeIp ?? [],
    nodePortAddresses: flags.nodeportAddresses ?? [],
    masqueradeAll: flags.masqueradeAll ?? false,
    masqueradeBit: flags.masqueradeBit ?? defaultCompileOptions.masqueradeBit,
  };
}

export { collect };
