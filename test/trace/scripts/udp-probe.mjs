// Runs inside a test namespace: binds UDP receivers, sends datagrams (each from a new socket, so
// each is a new conntrack entry) and prints which receiver got each one.
//   ip netns exec NS node udp-probe.mjs '{"listen":["127.0.0.3:8080"],"send":[{"dst":"127.0.0.2","port":9000,"count":5}]}'
// Output: {"results":[["127.0.0.3:8080", null, ...], ...]} — one array per send, null = not received.
import dgram from 'node:dgram';

const spec = JSON.parse(process.argv[2]);
const got = new Map(); // payload id -> receiver
const listeners = await Promise.all(
  spec.listen.map(
    (l) =>
      new Promise((resolve, reject) => {
        const i = l.lastIndexOf(':');
        const s = dgram.createSocket(l.startsWith('[') ? 'udp6' : 'udp4');
        s.on('message', (m) => got.set(m.toString(), l));
        s.on('error', reject);
        s.bind(Number(l.slice(i + 1)), l.slice(0, i).replace(/^\[|\]$/g, ''), () => resolve(s));
      }),
  ),
);
const sendOne = (dst, port, id) =>
  new Promise((resolve) => {
    const s = dgram.createSocket(dst.includes(':') ? 'udp6' : 'udp4');
    s.on('error', () => {});
    s.send(id, port, dst, () => setTimeout(() => (s.close(), resolve()), 1));
  });
for (const [i, snd] of spec.send.entries()) {
  for (let j = 0; j < snd.count; j++) await sendOne(snd.dst, snd.port, `${i}/${j}`);
}
await new Promise((r) => setTimeout(r, 200));
const results = spec.send.map((snd, i) => Array.from({ length: snd.count }, (_, j) => got.get(`${i}/${j}`) ?? null));
for (const l of listeners) l.close();
process.stdout.write(JSON.stringify({ results }) + '\n');
