// `nftproxy trace FILE --src A --dst B:PORT/PROTO`: compile the cluster dump, then run the IR
// interpreter for the first packet of one new connection and print its path and outcomes.

import { Command, InvalidArgumentError, Option } from 'commander';
import { compileText } from '../../compiler/index.js';
import type { Family } from '../../ir/types.js';
import { normalizeIp } from '../../ir/ip.js';
import { traceConnection, type L4Proto, type Packet, type TraceEnv } from '../../ir/interpret.js';
import { formatTrace } from '../../ir/trace-format.js';
import { compileOptionsFrom, withCompileOptions, type RawCompileFlags } from './options.js';
import { reportNodePortFallback } from './nodeports.js';
import { readInput, reportProblems, UsageError } from './io.js';

export interface AddressArg {
  addr: string;
  family: Family;
  port?: number;
  proto?: L4Proto;
}

const protos: L4Proto[] = ['tcp', 'udp', 'sctp'];

/**
 * Parses `ADDR`, `ADDR:PORT`, `ADDR:PORT/PROTO`, with IPv6 as `[ADDR]:PORT/PROTO` (a bare IPv6
 * address without port is accepted too). Returns undefined when the text is not of that shape.
 */
export function parseAddressArg(text: string): AddressArg | undefined {
  let rest = text.trim();
  let proto: L4Proto | undefined;
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (!protos.includes(p as L4Proto)) return undefined;
    proto = p as L4Proto;
    rest = rest.slice(0, slash);
  }
  let addrText: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    addrText = bracketed[1] as string;
    portText = bracketed[2];
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    [addrText, portText] = rest.split(':') as [string, string];
  } else addrText = rest;
  const addr = normalizeIp(addrText);
  if (!addr) return undefined;
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return undefined;
    port = Number(portText);
  }
  return { addr, family: addr.includes(':') ? 'ip6' : 'ip', ...(port !== undefined ? { port } : {}), ...(proto ? { proto } : {}) };
}

function addressArg(flag: string, needPort: boolean) {
  return (value: string): AddressArg => {
    const e = parseAddressArg(value);
    const shape = needPort ? 'ADDR:PORT[/tcp|udp|sctp] (IPv6: [ADDR]:PORT/PROTO)' : 'ADDR or ADDR:PORT (IPv6: [ADDR]:PORT)';
    if (!e || (needPort && e.port === undefined)) throw new InvalidArgumentError(`${flag} expects ${shape}, got "${value}"`);
    if (!needPort && e.proto) throw new InvalidArgumentError(`${flag} takes no protocol (give it on --dst), got "${value}"`);
    return e;
  };
}

/** A client outside the node and the cluster, from the documentation ranges. */
const defaultExternalClient: Record<Family, string> = { ip: '192.0.2.100', ip6: '2001:db8::100' };

interface TraceFlags extends RawCompileFlags {
  src?: AddressArg;
  dst: AddressArg;
  fromNode?: boolean;
  json?: boolean;
  maxBranches?: number;
}

export function traceCommand(out: (s: string) => void): Command {
  const cmd = new Command('trace')
    .description('follow the first packet of a new connection through the compiled rules: chains, rules, lookups, verdict and endpoint probabilities')
    .argument('<file>', 'YAML or JSON cluster dump, - for stdin')
    .addOption(new Option('--dst <addr:port/proto>', 'destination, e.g. 10.96.0.10:53/udp or [fd00::1]:80/tcp (protocol default tcp)').argParser(addressArg('--dst', true)).makeOptionMandatory())
    .addOption(new Option('--src <addr[:port]>', 'source address (default: an external client, or the node\'s address with --from-node)').argParser(addressArg('--src', false)))
    .option('--from-node', 'the packet originates on the node itself (output hook instead of prerouting)', false)
    .option('--json', 'print the packet, environment and outcomes as JSON', false)
    .addOption(
      new Option('--max-branches <n>', 'show at most n per-outcome paths (the summary lists all)').argParser((v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`--max-branches expects a number, got "${v}"`);
        return n;
      }),
    );
  withCompileOptions(cmd);
  return cmd.action((file: string, flags: TraceFlags) => {
    const opts = compileOptionsFrom(flags);
    const { model, ruleset } = compileText(readInput(file), opts);
    reportProblems(model.problems);
    reportNodePortFallback(model, opts);
    const dst = flags.dst;
    const family = dst.family;
    const nodeAddrs = (opts.nodeIPs.length > 0 ? opts.nodeIPs : model.node.addresses).map((a) => normalizeIp(a) ?? a);
    const ofFamily = nodeAddrs.filter((a) => (family === 'ip') === !a.includes(':'));
    let srcAddr = flags.src?.addr;
    if (srcAddr === undefined) {
      if (flags.fromNode) {
        srcAddr = ofFamily[0];
        if (srcAddr === undefined) {
          throw new UsageError(`--from-node needs the node's ${family === 'ip' ? 'IPv4' : 'IPv6'} address: give --src, --node-ip, or a Node object in the dump`);
        }
      } else srcAddr = defaultExternalClient[family];
    }
    if ((srcAddr.includes(':') ? 'ip6' : 'ip') !== family) throw new UsageError(`--src ${srcAddr} and --dst ${dst.addr} are of different IP families`);
    const packet: Packet = {
      family,
      src: srcAddr,
      dst: dst.addr,
      proto: dst.proto ?? 'tcp',
      dport: dst.port as number,
      ...(flags.src?.port !== undefined ? { sport: flags.src.port } : {}),
    };
    const localAddresses = [...new Set([...nodeAddrs, '127.0.0.1', '::1', ...(flags.fromNode ? [srcAddr] : [])])];
    const env: TraceEnv = { localAddresses, sourceIsLocal: flags.fromNode === true };
    const outcomes = traceConnection(ruleset, packet, env);
    if (flags.json) out(JSON.stringify({ packet, env, outcomes }, null, 2) + '\n');
    else out(formatTrace(packet, env, outcomes, flags.maxBranches !== undefined ? { maxBranches: flags.maxBranches } : {}));
  });
}
