// Echo server run inside a pod namespace: `node echo-server.mjs '<json>'` with
// {"name":"pod-a","tcp":[8080],"udp":[8080]}. Plain JavaScript so that `ip netns exec NS node …`
// needs no loader. Every TCP line / UDP datagram is answered with one JSON line naming the pod,
// the local address:port the request arrived at and the peer address:port the pod saw (so a
// test can tell which endpoint answered and whether the source was masqueraded).
// Prints "READY" once every listener is bound; exits when its stdin closes (the harness died).
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const name = String(cfg.name ?? os.hostname());

const strip = (a) => (typeof a === 'string' && a.startsWith('::ffff:') ? a.slice(7) : a);
const reply = (proto, local, localPort, peer, peerPort, req) =>
  JSON.stringify({ pod: name, proto, local: strip(local), localPort, peer: strip(peer), peerPort, req }) + '\n';

function listenTcp(port, host, ipv6Only) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((sock) => {
      sock.setEncoding('utf8');
      let buf = '';
      sock.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          sock.write(reply('tcp', sock.localAddress, sock.localPort, sock.remoteAddress, sock.remotePort, line));
        }
      });
      sock.on('error', () => undefined);
    });
    srv.once('error', reject);
    srv.listen({ port, host, ipv6Only }, () => resolve(srv));
  });
}

// UDP has no per-datagram destination address in Node: bind every local address separately so
// that `local` is exact and replies leave from the address the request was sent to.
function localAddresses() {
  const out = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv6' && a.address.startsWith('fe80:')) continue;
      out.push({ address: a.address, family: a.family });
    }
  }
  return out;
}

function listenUdp(port, address, family) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(family === 'IPv6' ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
    s.on('message', (msg, rinfo) => {
      const line = msg.toString('utf8').replace(/\n$/, '');
      s.send(reply('udp', address, port, rinfo.address, rinfo.port, line), rinfo.port, rinfo.address);
    });
    s.once('error', reject);
    s.bind(port, address, () => {
      s.removeListener('error', reject);
      s.on('error', () => undefined);
      resolve(s);
    });
  });
}

const tasks = [];
for (const port of cfg.tcp ?? []) {
  tasks.push(listenTcp(port, '0.0.0.0', false));
  tasks.push(listenTcp(port, '::', true));
}
for (const port of cfg.udp ?? []) {
  for (const a of localAddresses()) tasks.push(listenUdp(port, a.address, a.family));
}
try {
  await Promise.all(tasks);
} catch (err) {
  process.stderr.write(`echo-server ${name}: ${err.message}\n`);
  process.exit(1);
}
process.stdout.write('READY\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
