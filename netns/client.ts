// Requests from inside a namespace. TCP/UDP go through one long-lived helper per namespace
// (scripts/client-batch.mjs --agent, started on first use, killed with the namespace), so a batch
// costs about a millisecond per request and no process start-up; SCTP batches spawn one Python
// helper each. Every request is a new socket with a fresh kernel-chosen source port, hence a new
// conntrack entry and a new load-balancing decision.

import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { exec, spawnIn } from './netns.js';
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

  const concurrency = opts.concurrency ?? 8;
  const runSctp = async (idx: number[]): Promise<RawResult[]> => {
    if (idx.length === 0) return [];
    const input = JSON.stringify({ requests: idx.map((i) => normalized[i]), concurrency });
    const r = await exec(ns, [PYTHON_BIN, SCTP_BATCH_SCRIPT], { input, timeoutMs: budget(idx.length) });
    return JSON.parse(r.stdout) as RawResult[];
  };
  const runNode = async (idx: number[]): Promise<RawResult[]> => {
    if (idx.length === 0) return [];
    const agent = await agentFor(ns);
    return agent.run(idx.map((i) => normalized[i]), concurrency, budget(idx.length));
  };
  const [nodeRes, sctpRes] = await Promise.all([runNode(nodeIdx), runSctp(sctpIdx)]);
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

// ---------------------------------------------------------------------------------------------
// The per-namespace request agent.

interface Agent {
  run(requests: unknown[], concurrency: number, timeoutMs: number): Promise<RawResult[]>;
}

const agents = new Map<string, Promise<Agent>>();

function agentFor(ns: string): Promise<Agent> {
  let a = agents.get(ns);
  if (!a) {
    a = startAgent(ns);
    agents.set(ns, a);
    a.catch(() => agents.delete(ns));
  }
  return a;
}

function startAgent(ns: string): Promise<Agent> {
  const child: ChildProcess = spawnIn(ns, [NODE_BIN, CLIENT_BATCH_SCRIPT, '--agent']);
  const pending = new Map<number, { resolve: (r: RawResult[]) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let stderr = '';
  // An idle agent must not keep the test process alive; a busy one must.
  const setRef = (on: boolean): void => {
    for (const s of [child, child.stdin, child.stdout, child.stderr] as Array<ChildProcess | Socket | null>) {
      if (s) (on ? s.ref() : s.unref());
    }
  };
  return new Promise<Agent>((resolveStart, rejectStart) => {
    let started = false;
    let buf = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!started) {
          if (line === 'READY') {
            started = true;
            setRef(false);
            resolveStart(agent);
          }
          continue;
        }
        const msg = JSON.parse(line) as { id: number; results?: RawResult[]; error?: string };
        const p = pending.get(msg.id);
        if (!p) continue;
        pending.delete(msg.id);
        if (pending.size === 0) setRef(false);
        if (msg.results) p.resolve(msg.results);
        else p.reject(new Error(`request agent in ${ns}: ${msg.error ?? 'no results'}`));
      }
    });
    child.on('exit', (code, signal) => {
      agents.delete(ns);
      const err = new Error(`request agent in ${ns} exited (${code ?? signal})${stderr ? `: ${stderr.trim()}` : ''}`);
      if (!started) rejectStart(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
    const agent: Agent = {
      run(requests, concurrency, timeoutMs) {
        return new Promise<RawResult[]>((resolve, reject) => {
          const id = nextId++;
          const timer = setTimeout(() => {
            pending.delete(id);
            reject(new Error(`request agent in ${ns}: no answer after ${timeoutMs} ms`));
          }, timeoutMs);
          timer.unref();
          pending.set(id, {
            resolve: (r) => (clearTimeout(timer), resolve(r)),
            reject: (e) => (clearTimeout(timer), reject(e)),
          });
          setRef(true);
          child.stdin?.write(JSON.stringify({ id, requests, concurrency }) + '\n');
        });
      },
    };
  });
}
