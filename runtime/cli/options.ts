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

/** --nodeport-addresses: CIDRs, or `primary` (the node's primary IP of each family). */
function nodePortAddress(value: string, previous: string[] = []): string[] {
  if (value === 'primary') return [...previous, value];
  return cidr('--nodeport-addresses')(value, previous);
}

const detectLocalModes = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'] as const;

/** An interface name (or prefix) nft can match: ≤ 15 bytes, a letter first, no wildcard of its own. */
function interfaceName(flag: string) {
  return (value: string): string => {
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/.test(value)) {
      throw new InvalidArgumentError(`${flag} expects an interface name (a letter, then letters, digits, _ . -; at most 15), got "${value}"`);
    }
    return value;
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
    .addOption(
      new Option('--nodeport-addresses <cidr>', "only node addresses in these CIDRs accept NodePorts (repeatable; 'primary': the Node's primary IPs)").argParser(nodePortAddress),
    )
    .addOption(new Option('--service-cidr <cidr>', 'service CIDR (repeatable, per family): unallocated addresses inside are dropped').argParser(cidr('--service-cidr')))
    .addOption(new Option('--detect-local-mode <mode>', 'how traffic from local pods is recognised').choices(detectLocalModes).default('ClusterCIDR'))
    .addOption(new Option('--pod-bridge-interface <name>', 'detect-local-mode BridgeInterface: the pods\' bridge').argParser(interfaceName('--pod-bridge-interface')))
    .addOption(new Option('--pod-interface-name-prefix <prefix>', 'detect-local-mode InterfaceNamePrefix: prefix of the pods\' interfaces').argParser(interfaceName('--pod-interface-name-prefix')))
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
  serviceCidr?: string[];
  detectLocalMode?: (typeof detectLocalModes)[number];
  podBridgeInterface?: string;
  podInterfaceNamePrefix?: string;
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
    serviceCIDRs: flags.serviceCidr ?? [],
    detectLocalMode: flags.detectLocalMode ?? 'ClusterCIDR',
    ...(flags.podBridgeInterface !== undefined ? { podBridgeInterface: flags.podBridgeInterface } : {}),
    ...(flags.podInterfaceNamePrefix !== undefined ? { podInterfaceNamePrefix: flags.podInterfaceNamePrefix } : {}),
  };
}

export { collect };
