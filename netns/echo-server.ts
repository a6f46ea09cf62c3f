// Echo servers inside pod namespaces. TCP/UDP run in Node (scripts/echo-server.mjs); SCTP runs in
// Python (scripts/sctp_echo.py) because Node has no SCTP sockets. Both answer every request with
// one JSON line (see EchoReply) and are killed when stopped or when the namespace is destroyed.

import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exec, spawnIn } from './netns.js';

export interface EchoPorts {
  tcp?: readonly number[];
  udp?: readonly number[];
  /** Needs kernel SCTP support (see sctpSupported); startEchoServer throws otherwise. */
  sctp?: readonly number[];
}

export interface EchoServerOptions extends EchoPorts {
  /** Name reported in every reply (normally the pod name). */
  name: string;
}

/** What a server answers: which pod, which local address:port, and the source it saw. */
export interface EchoReply {
  pod: string;
  proto: 'tcp' | 'udp' | 'sctp';
  local: string;
  localPort: number;
  peer: string;
  peerPort: number;
  /** The request line, echoed. */
  req: string;
}

export interface EchoServer {
  ns: string;
  name: string;
  stop(): Promise<void>;
}

export class SctpUnsupportedError extends Error {
  constructor(ns: string) {
    super(`SCTP sockets are not supported by this kernel (checked in ${ns}): sctp module missing`);
  }
}

const SCRIPTS = fileURLToPath(new URL('./scripts/', import.meta.url));
export const ECHO_SERVER_SCRIPT = `${SCRIPTS}echo-server.mjs`;
export const SCTP_ECHO_SCRIPT = `${SCRIPTS}sctp_echo.py`;
export const CLIENT_BATCH_SCRIPT = `${SCRIPTS}client-batch.mjs`;
export const SCTP_BATCH_SCRIPT = `${SCRIPTS}sctp_batch.py`;

// The same Node binary that runs the tests; Debian's python3 directly (a pyenv shim costs ~300 ms).
export const NODE_BIN = process.execPath;
export const PYTHON_BIN = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

let sctpCache: boolean | undefined;
/**
 * Whether this kernel can open SCTP sockets (SCTP support is kernel-wide, so the answer is the
 * same in every namespace; it is probed inside `ns` because the module may autoload there).
 */
export async function sctpSupported(ns: string): Promise<boolean> {
  if (sctpCache === undefined) {
    const r = await exec(
      ns,
      [PYTHON_BIN, '-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)'],
      { check: false },
    );
    sctpCache = r.code === 0;
  }
  return sctpCache;
}

export async function startEchoServer(ns: string, opts: EchoServerOptions): Promise<EchoServer> {
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.ref(); // keep the process alive until the exit is seen
            c.kill('SIGKILL');
          }),
      ),
    );
  };
  try {
    const waits: Promise<void>[] = [];
    if ((opts.tcp?.length ?? 0) + (opts.udp?.length ?? 0) > 0) {
      const cfg = JSON.stringify({ name: opts.name, tcp: opts.tcp ?? [], udp: opts.udp ?? [] });
      const c = spawnIn(ns, [NODE_BIN, ECHO_SERVER_SCRIPT, cfg]);
      children.push(c);
      waits.push(waitReady(c, `echo server ${opts.name} in ${ns}`));
    }
    if ((opts.sctp?.length ?? 0) > 0) {
      if (!(await sctpSupported(ns))) throw new SctpUnsupportedError(ns);
      const cfg = JSON.stringify({ name: opts.name, sctp: opts.sctp });
      const c = spawnIn(ns, [PYTHON_BIN, SCTP_ECHO_SCRIPT, cfg]);
      children.push(c);
      waits.push(waitReady(c, `sctp echo server ${opts.name} in ${ns}`));
    }
    await Promise.all(waits);
    // Servers live until stop() or namespace teardown; they must not keep the test process alive.
    for (const c of children) {
      c.unref();
      for (const s of [c.stdin, c.stdout, c.stderr]) (s as { unref?: () => void } | null)?.unref?.();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { ns, name: opts.name, stop };
}

function waitReady(child: ChildProcess, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`${what}: ${why}${err ? `\n${err.trim()}` : ''}`));
    };
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('READY\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before READY`));
  });
}
