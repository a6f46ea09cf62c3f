// `nftproxy trace FILE --src A --dst B:PORT/PROTO`: compile the cluster dump, then run the IR
// interpreter for the first packet of one new connection and print its path and outcomes.
// `--packets FILE` traces many packets against one compile (trace-packets.ts).

import { Command, InvalidArgumentError, Option } from 'commander';
import { compileText } from '../../compiler/index.js';
import type { ClusterModel, CompileOptions } from '../../compiler/model/types.js';
import type { Family } from '../../ir/types.js';
import { normalizeIp } from '../../ir/ip.js';
import { traceConnection, type Packet, type TraceEnv } from '../../ir/interpret.js';
import { formatTrace } from '../../ir/trace-format.js';
import { compileOptionsFrom, withCompileOptions, type RawCompileFlags } from './options.js';
import { reportNodePortFallback } from './nodeports.js';
import { readInput, reportModel, UsageError } from './io.js';
import { parseAddressArg, type AddressArg } from './address-arg.js';
import { PACKET_LINE_SHAPE, tracePacketLines, type TraceRequest } from './trace-packets.js';

export { parseAddressArg, type AddressArg };

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
  dst?: AddressArg;
  fromNode?: boolean;
  iif?: string;
  json?: boolean;
  maxBranches?: number;
  packets?: string;
}

/**
 * The packet and the environment of one trace: the defaults of --src (an external client, or the
 * node's address with --from-node) and the node's local addresses. Throws a UsageError when the
 * request cannot be traced (no node address for --from-node, mixed families).
 */
export function tracePacket(model: ClusterModel, opts: CompileOptions, req: TraceRequest & { iif?: string }): { packet: Packet; env: TraceEnv } {
  const { dst } = req;
  const family = dst.family;
  const nodeAddrs = (opts.nodeIPs.length > 0 ? opts.nodeIPs : model.node.addresses).map((a) => normalizeIp(a) ?? a);
  const ofFamily = nodeAddrs.filter((a) => (family === 'ip') === !a.includes(':'));
  let srcAddr = req.src?.addr;
  if (srcAddr === undefined) {
    if (req.fromNode) {
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
    ...(req.src?.port !== undefined ? { sport: req.src.port } : {}),
    ...(req.iif !== undefined ? { iifname: req.iif } : {}),
  };
  const localAddresses = [...new Set([...nodeAddrs, '127.0.0.1', '::1', ...(req.fromNode ? [srcAddr] : [])])];
  return { packet, env: { localAddresses, sourceIsLocal: req.fromNode === true } };
}

export function traceCommand(out: (s: string) => void): Command {
  const cmd = new Command('trace')
    .description('follow the first packet of a new connection through the compiled rules: chains, rules, lookups, verdict and endpoint probabilities')
    .argument('<file>', 'YAML or JSON cluster dump, - for stdin')
    .addOption(new Option('--dst <addr:port/proto>', 'destination, e.g. 10.96.0.10:53/udp or [fd00::1]:80/tcp (protocol default tcp)').argParser(addressArg('--dst', true)))
    .addOption(new Option('--src <addr[:port]>', 'source address (default: an external client, or the node\'s address with --from-node)').argParser(addressArg('--src', false)))
    .option('--from-node', 'the packet originates on the node itself (output hook instead of prerouting)', false)
    .option('--iif <name>', 'interface the packet arrives on (default eth0; for --detect-local-mode BridgeInterface / InterfaceNamePrefix)')
    .option('--json', 'print the packet, environment and outcomes as JSON', false)
    .addOption(
      new Option('--max-branches <n>', 'show at most n per-outcome paths (the summary lists all)').argParser((v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`--max-branches expects a number, got "${v}"`);
        return n;
      }),
    )
    .addOption(
      new Option('--packets <file>', `trace every packet of a JSON-lines file (- for stdin), one JSON result per line; a line is ${PACKET_LINE_SHAPE}`)
        .conflicts(['dst', 'src', 'fromNode', 'maxBranches']),
    );
  withCompileOptions(cmd);
  return cmd.action((file: string, flags: TraceFlags) => {
    if (flags.packets === undefined && flags.dst === undefined) throw new UsageError('trace needs --dst (one packet) or --packets FILE (many)');
    if (flags.packets === '-' && file === '-') throw new UsageError('the cluster dump and --packets cannot both be stdin');
    const opts = compileOptionsFrom(flags);
    const { model, ruleset } = compileText(readInput(file), opts);
    reportModel(model);
    reportNodePortFallback(model, opts);
    if (flags.packets !== undefined) {
      const bad = tracePacketLines(readInput(flags.packets), (req) => {
        const { packet, env } = tracePacket(model, opts, req);
        return { packet, env, outcomes: traceConnection(ruleset, packet, env) };
      }, out);
      if (bad > 0) throw new UsageError(`${bad} packet line${bad === 1 ? '' : 's'} of ${flags.packets} could not be traced (see their "error")`);
      return;
    }
    const { packet, env } = tracePacket(model, opts, { src: flags.src, dst: flags.dst as AddressArg, fromNode: flags.fromNode, ...(flags.iif !== undefined ? { iif: flags.iif } : {}) });
    const outcomes = traceConnection(ruleset, packet, env);
    if (flags.json) out(JSON.stringify({ packet, env, outcomes }, null, 2) + '\n');
    else out(formatTrace(packet, env, outcomes, flags.maxBranches !== undefined ? { maxBranches: flags.maxBranches } : {}));
  });
}
