// The fake API server as a process, driven over stdin/stdout (one JSON object per line), so a
// test can run it inside a network namespace next to the daemon and still control it.
//   in:  {"id":1,"op":"apply","object":{...}} | {"id":2,"op":"delete","kind":"Service","namespace":"ns","name":"n"}
//        {"op":"generate","services":10000,"endpointsPerService":10,"nodes":["node-a"]}
//        {"op":"stop"} {"op":"start"} {"op":"drop"} {"op":"compact"} {"op":"bookmark"} {"op":"requests"}
//   out: {"ready":true,"port":N} first, then {"id":1,"ok":true,"result":...} per command.

import { createInterface } from 'node:readline';
import { generateCluster } from '../../bench/generate.js';
import { FakeApiServer, type KubeObject } from './server.js';

interface Cmd {
  id?: number;
  op: string;
  object?: KubeObject;
  kind?: string;
  namespace?: string;
  name?: string;
  services?: number;
  endpointsPerService?: number;
  nodes?: string[];
}

const port = Number(process.argv[2] ?? 0);
const server = new FakeApiServer('127.0.0.1');
await server.start(port);
process.stdout.write(JSON.stringify({ ready: true, port: server.port }) + '\n');

async function run(cmd: Cmd): Promise<unknown> {
  switch (cmd.op) {
    case 'apply':
      if (!cmd.object) throw new Error('apply needs object');
      return server.apply(cmd.object).metadata.resourceVersion;
    case 'delete':
      return server.delete(String(cmd.kind), cmd.namespace, String(cmd.name));
    case 'generate': {
      // A synthetic cluster (bench/generate.ts) created server-side: 10k objects need no pipe.
      const objs = generateCluster({ services: cmd.services ?? 100, endpointsPerService: cmd.endpointsPerService ?? 10, nodes: cmd.nodes });
      for (const o of objs) server.apply(o as KubeObject);
      return objs.length;
    }
    case 'stop':
      return server.stop();
    case 'start':
      return server.start();
    case 'drop':
      return server.dropConnections();
    case 'compact':
      return server.compact();
    case 'bookmark':
      return server.bookmark();
    case 'requests':
      return server.requests;
    case 'watchers':
      return server.watcherCount;
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  let cmd: Cmd;
  try {
    cmd = JSON.parse(line) as Cmd;
  } catch {
    process.stdout.write(JSON.stringify({ ok: false, error: 'bad JSON' }) + '\n');
    return;
  }
  run(cmd).then(
    (result) => process.stdout.write(JSON.stringify({ id: cmd.id, ok: true, result: result ?? null }) + '\n'),
    (err: unknown) => process.stdout.write(JSON.stringify({ id: cmd.id, ok: false, error: String(err) }) + '\n'),
  );
});
lines.on('close', () => {
  void server.stop().then(() => process.exit(0));
});
