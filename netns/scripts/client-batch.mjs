// Batches of TCP/UDP requests, run inside a namespace by client.ts, either once:
//   ip netns exec NS node client-batch.mjs < {"requests":[{proto,host,port,timeoutMs,payload}],"concurrency":8}
// (prints one JSON array of results, in request order) or as a long-lived agent (`--agent`, see
// below) so that a test pays Node's start-up once per namespace, not once per batch. Every request is a new socket with a
// kernel-chosen source port, so each one is a new conntrack entry (a fresh load-balancing choice).
import net from 'node:net';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';

const ERRORS = {
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  EPERM: 'blocked',
  EACCES: 'blocked',
};

function tcp(req) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let localPort;
    let buf = '';
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...r, elapsedMs: +(performance.now() - t0).toFixed(3), ...(localPort ? { localPort } : {}) });
    };
    const sock = net.connect({ host: req.host, port: req.port });
    const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), req.timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      localPort = sock.localPort;
      sock.write(`${req.payload}\n`);
    });
    sock.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) finish({ ok: true, raw: buf.slice(0, i) });
    });
    sock.on('end', () => finish({ ok: false, error: 'closed' }));
    sock.on('error', (e) => finish({ ok: false, error: ERRORS[e.code] ?? 'error', code: e.code }));
  });
}

function udp(req) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let localPort;
    let done = false;
    const sock = dgram.createSocket(net.isIPv6(req.host) ? 'udp6' : 'udp4');
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { sock.close(); } catch {}
      resolve({ ...r, elapsedMs: +(performance.now() - t0).toFixed(3), ...(localPort ? { localPort } : {}) });
    };
    const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), req.timeoutMs);
    // A connected UDP socket reports ICMP errors (port unreachable → ECONNREFUSED).
    sock.on('error', (e) => finish({ ok: false, error: ERRORS[e.code] ?? 'error', code: e.code }));
    sock.on('message', (m) => finish({ ok: true, raw: m.toString('utf8').replace(/\n$/, '') }));
    sock.connect(req.port, req.host, () => {
      localPort = sock.address().port;
      sock.send(`${req.payload}\n`, (err) => {
        if (err) finish({ ok: false, error: ERRORS[err.code] ?? 'error', code: err.code });
      });
    });
  });
}

async function runJob(job) {
  const reqs = job.requests;
  const results = new Array(reqs.length);
  let next = 0;
  async function worker() {
    while (next < reqs.length) {
      const i = next++;
      const r = reqs[i];
      results[i] = await (r.proto === 'udp' ? udp(r) : tcp(r));
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(job.concurrency ?? 8, reqs.length)) }, worker));
  return results;
}

process.stdin.setEncoding('utf8');
if (process.argv[2] === '--agent') {
  // Long-lived mode: one JSON job per stdin line ({id, requests, concurrency}), one
  // {id, results} line back per job; jobs may overlap. Exits when stdin closes.
  let buf = '';
  process.stdin.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      const job = JSON.parse(line);
      runJob(job).then(
        (results) => process.stdout.write(JSON.stringify({ id: job.id, results }) + '\n'),
        (err) => process.stdout.write(JSON.stringify({ id: job.id, error: String(err) }) + '\n'),
      );
    }
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdout.write('READY\n');
} else {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  process.stdout.write(JSON.stringify(await runJob(JSON.parse(input))));
  process.exit(0);
}
