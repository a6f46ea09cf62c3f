// The nft CLI applier: one `nft -j -f FILE` per transaction. A file, not stdin: nft 1.0.6 falls
// back to the text parser on an already consumed stdin when the JSON does not parse, and then
// exits 0 having done nothing.

import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Family } from '../../ir/types.js';
import { toJson, toJsonChunks } from './encode.js';
import { toApplyError } from './errors.js';
import { ApplyError, type Applier, type ApplyInput, type Encoder, type NftJsonRoot } from './types.js';

export interface CliApplierOptions {
  /** The nft binary; default `nft` from PATH. */
  nft?: string;
  /**
   * Argv prefix placed before nft, e.g. `['ip', 'netns', 'exec', 'test-ns']`. For tests that keep
   * the test process outside the namespace they program; production runs nft directly.
   */
  wrap?: string[];
  encoder?: Encoder;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CliApplier implements Applier {
  readonly name = 'cli' as const;
  private readonly dir = mkdtempSync(join(tmpdir(), 'nftproxy-'));
  private seq = 0;

  constructor(private readonly opts: CliApplierOptions = {}) {}

  private run(args: string[]): Promise<RunResult> {
    const argv = [...(this.opts.wrap ?? []), this.opts.nft ?? 'nft', ...args];
    return new Promise((resolve, reject) => {
      execFile(argv[0] as string, argv.slice(1), { maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(new Error(`cannot run ${argv.join(' ')}: ${err.message}`));
        else resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      });
    });
  }

  /** Writes the JSON text piece by piece (the whole text is never one string) and runs nft on the file. */
  private async runFile(pieces: Iterable<string>, check: boolean): Promise<RunResult & { bytes: number }> {
    const file = join(this.dir, `tx-${process.pid}-${this.seq++}.json`);
    let bytes = 0;
    const fd = openSync(file, 'w');
    try {
      let buf = ''; // batches the many small pieces (rules) into fewer writes
      for (const piece of pieces) {
        buf += piece;
        if (buf.length >= 1 << 16) {
          bytes += writeSync(fd, buf);
          buf = '';
        }
      }
      bytes += writeSync(fd, buf);
    } catch (err) {
      closeSync(fd);
      rmSync(file, { force: true });
      throw err;
    }
    closeSync(fd);
    try {
      return { ...(await this.run(check ? ['-c', '-j', '-f', file] : ['-j', '-f', file])), bytes };
    } finally {
      rmSync(file, { force: true });
    }
  }

  private async send(input: ApplyInput, check: boolean): Promise<void> {
    const r = await this.runFile(toJsonChunks(input, this.opts.encoder), check);
    if (r.code === 0) return;
    const root = await toJson(input, this.opts.encoder);
    const checkOnly = async (prefix: NftJsonRoot): Promise<string | null> => {
      const c = await this.runFile([JSON.stringify(prefix)], true);
      return c.code === 0 ? null : c.stderr || c.stdout;
    };
    throw await toApplyError(root, r.stderr || r.stdout, check ? 'check' : 'transaction', checkOnly, r.bytes);
  }

  apply(input: ApplyInput): Promise<void> {
    return this.send(input, false);
  }

  check(input: ApplyInput): Promise<void> {
    return this.send(input, true);
  }

  async listJson(command: string): Promise<NftJsonRoot> {
    const r = await this.run(['-j', ...command.split(/\s+/).filter(Boolean)]);
    if (r.code !== 0) throw new ApplyError(`nft ${command} failed: ${r.stderr.trim()}`, r.stderr);
    return JSON.parse(r.stdout) as NftJsonRoot;
  }

  async listSetElements(family: Family, table: string, set: string, isMap: boolean): Promise<unknown[] | null> {
    const r = await this.run(['-j', 'list', isMap ? 'map' : 'set', family, table, set]);
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return null;
      throw new ApplyError(`nft list ${isMap ? 'map' : 'set'} ${family} ${table} ${set} failed: ${r.stderr.trim()}`, r.stderr);
    }
    return elementsOf(JSON.parse(r.stdout) as NftJsonRoot);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The `elem` array of the first set/map in a listing (absent when the set is empty). */
export function elementsOf(root: NftJsonRoot): unknown[] {
  for (const item of root.nftables) {
    const o = item as Record<string, { elem?: unknown[] } | undefined>;
    const s = o.set ?? o.map;
    if (s) return s.elem ?? [];
  }
  return [];
}
