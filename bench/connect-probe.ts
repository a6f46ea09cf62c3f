// Connect-latency probe, run inside the client namespace: for each target a validation request
// (one line to the echo server, which must answer), then `warmup` + `count` TCP connects per
// target, interleaved so that drift on a shared machine hits every target alike. Each connect is
// a new socket with a fresh source port: a new conntrack entry, so the first packet walks the
// proxier's rules. Prints one JSON line: {"us": {"first": [...], ...}}.

import net from 'node:net';
import type { ConnectSamples, ProbePosition } from './protocol.js';

interface Args {
  targets: { position: ProbePosition; host: string; port: number }[];
  count: number;
  warmup: number;
}

function connectOnce(host: string, port: number, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to ${host}:${port} timed out`));
    }, timeoutMs);
    s.once('connect', () => {
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      clearTimeout(timer);
      s.destroy();
      resolve(us);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`connect to ${host}:${port}: ${err.message}`));
    });
  });
}

function validate(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no echo reply from ${host}:${port}`));
    }, 3000);
    s.setEncoding('utf8');
    s.on('connect', () => s.write('bench\n'));
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) {
        clearTimeout(timer);
        s.destroy();
        resolve(buf.trim());
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`validation request to ${host}:${port}: ${err.message}`));
    });
  });
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  for (const t of args.targets) {
    const reply = JSON.parse(await validate(t.host, t.port)) as { pod?: string; local?: string };
    if (!reply.pod) throw new Error(`${t.position} service ${t.host}:${t.port}: not answered by the echo server`);
  }
  const out: ConnectSamples = { us: { first: [], middle: [], last: [] } };
  for (let i = 0; i < args.warmup + args.count; i++) {
    for (const t of args.targets) {
      const us = await connectOnce(t.host, t.port);
      if (i >= args.warmup) out.us[t.position].push(us);
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
