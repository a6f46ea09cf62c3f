// Requests from inside a namespace. Each call spawns ONE helper process in the namespace that
// performs the whole batch (Node for TCP/UDP, Python for SCTP) and prints JSON: tens of
// milliseconds per batch, about a millisecond per request. Every request is a new socket with a
// fresh kernel-chosen source port, hence a new conntrack entry and a new load-balancing decision.

import { exec } from './netns.js';
import { CLIENT_BATCH_SCRIPT, NODE_BIN, PYTHON_BIN, SCTP_BATCH_SCRIPT, type EchoReply } from './echo-server.js';

export type Proto = 'tcp' | 'udp' | 'sctp';

/**
 * Why a request failed. `refused`: TCP RST or ICMP port-unreachable (also what `reject` gives);
 * `unreachable`: ICMP host/net unreachable or admin-prohibited; `timeout`: nothing came back;
 * `blocked`: the local stack refused to send (EPERM, e.g. dropped in the output hook);
 * `reset`: connection reset after it was established; `closed`: peer closed without answering;
 * `unsupported`: the kernel lacks the protocol (SCTP).
 */
export type RequestError =
  | 'refused'
  | 'timeout'
  | 'unreachable'
  | 'blocked'
  | 'reset'
  | 'closed'
  | 'unsupported'
  | 'error';

export interface RequestSpec {
  proto: Proto;
  host: string;
  port: number;
  /** Default 1000 ms. */
  timeoutMs?: number;
  /** Request line (default "hello"). */
  payload?: string;
}

export type RequestResult =
  | {
      ok: true;
      /** The parsed echo reply, or undefined when the answer was not from our echo server. */
      reply: EchoReply | undefined;
      raw: string;
      elapsedMs: number;
      localPort?: number;
    }
  | { ok: false; error: RequestError; code?: string; elapsedMs: number; localPort?: number };

export interface RequestOptions {
  timeoutMs?: number;
  payload?: string;
}

export interface BatchOptions {
  /** Requests in flight at once inside the helper (default 8; 1 = strictly sequential). */
  concurrency?: number;
}

interface RawResult {
  ok: boolean;
  raw?: string;
  error?: RequestError;
  code?: string;
  elapsedMs: number;
  localPort?: number;
}

/** Run many requests from `ns` with one helper process per protocol kind; results in input order. */
export async function requestBatch(
  ns: string,
  requests: readonly RequestSpec[],
  opts: BatchOptions = {},
): Promise<RequestResult[]> {
  const normalized = requests.map((r) => ({
    proto: r.proto,
    host: r.host,
    port: r.port,
    timeoutMs: r.timeoutMs ?? 1000,
    payload: r.payload ?? 'hello',
  }));
  const nodeIdx: number[] = [];
  const sctpIdx: number[] = [];
  normalized.forEach((r, i) => (r.proto === 'sctp' ? sctpIdx : nodeIdx).push(i));
  const maxTimeout = Math.max(0, ...normalized.map((r) => r.timeoutMs));
  const budget = (n: number): number => 10_000 + maxTimeout * Math.ceil(n / Math.max(1, opts.concurrency ?? 8)) * 2;

  const runHelper = async (argv: string[], idx: number[]): Promise<RawResult[]> => {
    if (idx.length === 0) return [];
    const input = JSON.stringify({ requests: idx.map((i) => normalized[i]), concurrency: opts.concurrency ?? 8 });
    const r = await exec(ns, argv, { input, timeoutMs: budget(idx.length) });
    return JSON.parse(r.stdout) as RawResult[];
  };
  const [nodeRes, sctpRes] = await Promise.all([
    runHelper([NODE_BIN, CLIENT_BATCH_SCRIPT], nodeIdx),
    runHelper([PYTHON_BIN, SCTP_BATCH_SCRIPT], sctpIdx),
  ]);
  const out = new Array<RequestResult>(normalized.length);
  nodeIdx.forEach((i, k) => (out[i] = toResult(nodeRes[k])));
  sctpIdx.forEach((i, k) => (out[i] = toResult(sctpRes[k])));
  return out;
}

export async function request(ns: string, spec: RequestSpec): Promise<RequestResult> {
  const [r] = await requestBatch(ns, [spec]);
  if (!r) throw new Error('request: helper returned no result');
  return r;
}

export const tcpRequest = (ns: string, host: string, port: number, o: RequestOptions = {}): Promise<RequestResult> =>
  request(ns, { proto: 'tcp', host, port, ...o });
export const udpRequest = (ns: string, host: string, port: number, o: RequestOptions = {}): Promise<RequestResult> =>
  request(ns, { proto: 'udp', host, port, ...o });
export const sctpRequest = (ns: string, host: string, port: number, o: RequestOptions = {}): Promise<RequestResult> =>
  request(ns, { proto: 'sctp', host, port, ...o });

export interface EndpointSample {
  /** Pod name → number of requests it answered. */
  histogram: Record<string, number>;
  /** Distinct pods that answered, sorted. */
  pods: string[];
  /** Source addresses the pods saw (to check masquerading), sorted, distinct. */
  peers: string[];
  /** Failed requests by error kind. */
  failures: Partial<Record<RequestError, number>>;
  /** Every individual result, in order. */
  results: RequestResult[];
}

/** Make `n` fresh connections/datagrams to host:port and count which pod answered each. */
export async function sampleEndpoints(
  ns: string,
  host: string,
  port: number,
  proto: Proto,
  n: number,
  opts: RequestOptions & BatchOptions = {},
): Promise<EndpointSample> {
  const spec: RequestSpec = { proto, host, port, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) };
  const results = await requestBatch(ns, Array.from({ length: n }, () => spec), opts);
  const histogram: Record<string, number> = {};
  const failures: Partial<Record<RequestError, number>> = {};
  const peers = new Set<string>();
  for (const r of results) {
    if (r.ok) {
      const who = r.reply?.pod ?? '<non-echo>';
      histogram[who] = (histogram[who] ?? 0) + 1;
      if (r.reply) peers.add(r.reply.peer);
    } else {
      failures[r.error] = (failures[r.error] ?? 0) + 1;
    }
  }
  return { histogram, pods: Object.keys(histogram).sort(), peers: [...peers].sort(), failures, results };
}

function toResult(raw: RawResult | undefined): RequestResult {
  if (!raw) throw new Error('request helper returned too few results');
  const base = { elapsedMs: raw.elapsedMs, ...(raw.localPort !== undefined ? { localPort: raw.localPort } : {}) };
  if (raw.ok) return { ok: true, reply: parseReply(raw.raw ?? ''), raw: raw.raw ?? '', ...base };
  return { ok: false, error: raw.error ?? 'error', ...(raw.code !== undefined ? { code: raw.code } : {}), ...base };
}

function parseReply(raw: string): EchoReply | undefined {
  try {
    const v = JSON.parse(raw) as Partial<EchoReply>;
    return typeof v.pod === 'string' && typeof v.peer === 'string' ? (v as EchoReply) : undefined;
  } catch {
    return undefined;
  }
}
