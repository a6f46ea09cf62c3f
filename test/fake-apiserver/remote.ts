// Test-side handle on a fake API server process (main.ts) started by the caller, e.g. inside a
// network namespace with the harness's spawnIn.

import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { KubeObject } from './server.js';

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  ready?: boolean;
  port?: number;
}

export class RemoteFakeApi {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<number>;

  constructor(readonly child: ChildProcess) {
    let resolveReady: (p: number) => void = () => undefined;
    let rejectReady: (e: Error) => void = () => undefined;
    this.ready = new Promise((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('exit', (code) => {
      const err = new Error(`fake apiserver exited (${code}): ${stderr.slice(-2000)}`);
      rejectReady(err);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
    if (!child.stdout) throw new Error('fake apiserver needs a piped stdout');
    createInterface({ input: child.stdout }).on('line', (line) => {
      let r: Reply;
      try {
        r = JSON.parse(line) as Reply;
      } catch {
        return;
      }
      if (r.ready && r.port !== undefined) resolveReady(r.port);
      if (r.id === undefined) return;
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      if (r.ok) w?.resolve(r.result);
      else w?.reject(new Error(r.error ?? 'fake apiserver command failed'));
    });
  }

  private call(op: string, extra: object = {}): Promise<unknown> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.stdin?.write(JSON.stringify({ id, op, ...extra }) + '\n');
    });
  }

  apply(object: KubeObject): Promise<unknown> {
    return this.call('apply', { object });
  }
  delete(kind: string, namespace: string | undefined, name: string): Promise<unknown> {
    return this.call('delete', { kind, namespace, name });
  }
  generate(services: number, endpointsPerService: number, nodes: string[]): Promise<unknown> {
    return this.call('generate', { services, endpointsPerService, nodes });
  }
  stop(): Promise<unknown> {
    return this.call('stop');
  }
  start(): Promise<unknown> {
    return this.call('start');
  }
  drop(): Promise<unknown> {
    return this.call('drop');
  }
  compact(): Promise<unknown> {
    return this.call('compact');
  }
  close(): void {
    this.child.stdin?.end();
  }
}
