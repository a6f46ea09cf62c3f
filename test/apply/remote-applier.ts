// An Applier that forwards to applier-worker.ts running inside a test namespace.

import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Family } from '../../ir/types.js';
import { ApplyError, type Applier, type ApplyInput, type NftJsonRoot } from '../../runtime/apply/types.js';
import { spawnIn } from '../harness/netns.js';

interface Reply {
  id?: number;
  ready?: boolean;
  ok?: boolean;
  result?: unknown;
  error?: { name: string; message: string; commandIndex?: number; nftOutput?: string };
}

export class RemoteApplier implements Applier {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(
    readonly name: 'cli' | 'lib',
    private readonly child: ChildProcess,
  ) {}

  static async start(ns: string, kind: 'cli' | 'lib'): Promise<RemoteApplier> {
    const script = fileURLToPath(new URL('./applier-worker.ts', import.meta.url));
    const child = spawnIn(ns, [process.execPath, '--import', 'tsx', script, kind]);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const remote = new RemoteApplier(kind, child);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.on('exit', (code) => {
        const err = new Error(`applier worker exited (${code}): ${stderr}`);
        reject(err);
        for (const p of remote.pending.values()) p.reject(err);
      });
      lines.on('line', (line) => {
        const r = JSON.parse(line) as Reply;
        if (r.ready) return resolve();
        const p = remote.pending.get(r.id as number);
        if (!p) return;
        remote.pending.delete(r.id as number);
        if (r.ok) p.resolve(r.result);
        else {
          const e = r.error!;
          p.reject(e.name === 'ApplyError' ? new ApplyError(e.message, e.nftOutput ?? '', e.commandIndex ?? undefined) : new Error(e.message));
        }
      });
    });
    return remote;
  }

  call(method: string, ...args: unknown[]): Promise<unknown> {
    const id = this.seq++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, method, args })}\n`);
    });
  }

  async apply(input: ApplyInput): Promise<void> {
    await this.call('apply', input);
  }

  async check(input: ApplyInput): Promise<void> {
    await this.call('check', input);
  }

  listSetElements(family: Family, table: string, set: string, isMap: boolean): Promise<unknown[] | null> {
    return this.call('listSetElements', family, table, set, isMap) as Promise<unknown[] | null>;
  }

  listJson(command: string): Promise<NftJsonRoot> {
    return this.call('listJson', command) as Promise<NftJsonRoot>;
  }

  /** Applies each root in the worker, returning in-process durations (ms). */
  timeApply(roots: NftJsonRoot[]): Promise<number[]> {
    return this.call('timeApply', roots) as Promise<number[]>;
  }

  close(): void {
    this.child.stdin?.end();
  }
}
