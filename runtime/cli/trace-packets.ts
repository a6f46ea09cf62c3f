// `nftproxy trace FILE --packets PACKETS`: many packets against one compile. Compiling the dump
// and starting node cost far more than one interpretation, so a suite of hundreds of packets
// takes one process instead of hundreds.
//
// PACKETS is JSON lines, one packet per line, with the fields of the single-packet flags:
//   {"dst": "10.96.0.10:53/udp"}                                   (required, as --dst)
//   {"src": "192.168.0.100:1234", "dst": "[fd00::1]:80/tcp", "fromNode": false, "id": "dns"}
// `src` as --src, `fromNode` as --from-node, `id` any string or number echoed in the result.
// Blank lines and lines starting with `#` are skipped. Node addresses and the other compile
// flags are the command's, the same for every packet (they shape the compiled ruleset).
//
// Output: one JSON object per packet line, in input order, `line` being its 1-based line number:
//   {"line": 1, "id": "dns", "packet": {...}, "env": {...}, "outcomes": [...]}   (as trace --json)
//   {"line": 2, "error": "dst: expects ADDR:PORT[/tcp|udp|sctp], got \"10.0.0.1\""}
// A bad line costs only itself: it gets an error result and the others are still traced.

import { z } from 'zod';
import type { Outcome, Packet, TraceEnv } from '../../ir/interpret.js';
import { parseAddressArg, type AddressArg } from './address-arg.js';

export const PACKET_LINE_SHAPE = '{"dst":"ADDR:PORT[/PROTO]","src"?:"ADDR[:PORT]","fromNode"?:bool,"id"?:string|number}';

/** One packet to trace, as the flags (or a line of a --packets file) give it. */
export interface TraceRequest {
  src?: AddressArg;
  dst: AddressArg;
  fromNode?: boolean;
}

export interface TraceResult {
  packet: Packet;
  env: TraceEnv;
  outcomes: Outcome[];
}

// Strict: a misspelt field (`from_node`) would otherwise silently trace a different packet.
const PacketLineSchema = z.strictObject({
  dst: z.string(),
  src: z.string().optional(),
  fromNode: z.boolean().optional(),
  id: z.union([z.string(), z.number()]).optional(),
});

type PacketLine = z.infer<typeof PacketLineSchema>;

/** A --packets line → a trace request, or the reason it is not one. */
export function parsePacketLine(text: string): { id?: string | number; request?: TraceRequest; error?: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { error: `not JSON: ${(err as Error).message}` };
  }
  const parsed = PacketLineSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const id = (json as { id?: unknown } | null)?.id;
    return {
      ...(typeof id === 'string' || typeof id === 'number' ? { id } : {}),
      error: `${issue?.path.join('.') || 'line'}: ${issue?.message ?? 'invalid'}; a line is ${PACKET_LINE_SHAPE}`,
    };
  }
  const line: PacketLine = parsed.data;
  const withId = line.id !== undefined ? { id: line.id } : {};
  const dst = parseAddressArg(line.dst);
  if (!dst || dst.port === undefined) return { ...withId, error: `dst: expects ADDR:PORT[/tcp|udp|sctp] (IPv6: [ADDR]:PORT/PROTO), got ${JSON.stringify(line.dst)}` };
  let src: AddressArg | undefined;
  if (line.src !== undefined) {
    src = parseAddressArg(line.src);
    if (!src || src.proto) return { ...withId, error: `src: expects ADDR or ADDR:PORT (IPv6: [ADDR]:PORT), got ${JSON.stringify(line.src)}` };
  }
  return { ...withId, request: { dst, ...(src ? { src } : {}), ...(line.fromNode !== undefined ? { fromNode: line.fromNode } : {}) } };
}

/**
 * Traces every packet line of `text` with `trace`, writing one JSON result per line to `out`.
 * Returns the number of lines that could not be traced.
 */
export function tracePacketLines(text: string, trace: (req: TraceRequest) => TraceResult, out: (s: string) => void): number {
  let bad = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const { id, request, error } = parsePacketLine(raw);
    const head = { line: i + 1, ...(id !== undefined ? { id } : {}) };
    let result: object;
    if (!request) result = { ...head, error: error ?? 'invalid' };
    else {
      try {
        result = { ...head, ...trace(request) };
      } catch (err) {
        result = { ...head, error: err instanceof Error ? err.message : String(err) };
      }
    }
    if ('error' in result) bad++;
    out(JSON.stringify(result) + '\n');
  }
  return bad;
}
