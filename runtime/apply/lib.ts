// The in-process applier: libnftables (Debian's libnftables1, libnftables.so.1) through koffi.
// No process start per sync: a transaction costs the JSON parse plus one netlink batch.
// nft 1.0.6 has no nft_ctx_input_set_flags: with the JSON output flag set,
// nft_run_cmd_from_buffer parses its input as JSON first (text if it is not JSON at all).

import koffi from 'koffi';
import type { Family } from '../../ir/types.js';
import { elementsOf } from './cli.js';
import { toJson, toJsonText } from './encode.js';
import { toApplyError } from './errors.js';
import { ApplyError, type Applier, type ApplyInput, type Encoder, type NftJsonRoot } from './types.js';

const NFT_CTX_DEFAULT = 0;
const NFT_CTX_OUTPUT_JSON = 1 << 4;

/** Above this size the call runs on koffi's worker thread so the event loop is not blocked. */
const ASYNC_THRESHOLD_BYTES = 256 * 1024;

interface KoffiFn {
  (...args: unknown[]): unknown;
  async: (...args: unknown[]) => void;
}

interface NftLib {
  ctxNew: KoffiFn;
  ctxFree: KoffiFn;
  bufferOutput: KoffiFn;
  bufferError: KoffiFn;
  getOutput: KoffiFn;
  getError: KoffiFn;
  setFlags: KoffiFn;
  setDryRun: KoffiFn;
  runCmd: KoffiFn;
}

let loaded: NftLib | null | undefined;
let mallocTrim: KoffiFn | null | undefined;

/**
 * glibc's malloc_trim: after a large transaction libnftables has freed hundreds of MB (its parse
 * tree and cache of a full sync), which glibc keeps in its arenas; this returns it to the OS.
 */
function trimMalloc(): void {
  if (mallocTrim === undefined) {
    try {
      mallocTrim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as unknown as KoffiFn;
    } catch {
      mallocTrim = null;
    }
  }
  mallocTrim?.(0);
}
let loadError = '';

/** Binds libnftables once; null (and `libnftablesLoadError()`) when it is not installed. */
export function loadLibnftables(path = 'libnftables.so.1'): NftLib | null {
  if (loaded !== undefined) return loaded;
  try {
    const lib = koffi.load(path);
    const f = (proto: string): KoffiFn => lib.func(proto) as unknown as KoffiFn;
    loaded = {
      ctxNew: f('void *nft_ctx_new(uint32_t flags)'),
      ctxFree: f('void nft_ctx_free(void *ctx)'),
      bufferOutput: f('int nft_ctx_buffer_output(void *ctx)'),
      bufferError: f('int nft_ctx_buffer_error(void *ctx)'),
      getOutput: f('const char *nft_ctx_get_output_buffer(void *ctx)'),
      getError: f('const char *nft_ctx_get_error_buffer(void *ctx)'),
      setFlags: f('void nft_ctx_output_set_flags(void *ctx, uint32_t flags)'),
      setDryRun: f('void nft_ctx_set_dry_run(void *ctx, bool dry)'),
      runCmd: f('int nft_run_cmd_from_buffer(void *ctx, const char *buf)'),
    };
  } catch (err) {
    loadError = err instanceof Error ? err.message : String(err);
    loaded = null;
  }
  return loaded;
}

export function libnftablesLoadError(): string {
  return loadError;
}

interface RunResult {
  rc: number;
  output: string;
  error: string;
}

export class LibApplier implements Applier {
  readonly name = 'lib' as const;
  private readonly lib: NftLib;
  private ctx: unknown;
  /** One call at a time: the context and its buffers are not reentrant. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: { encoder?: Encoder; libraryPath?: string } = {}) {
    const lib = loadLibnftables(opts.libraryPath);
    if (!lib) throw new Error(`libnftables is not available: ${libnftablesLoadError()}`);
    this.lib = lib;
    this.ctx = this.newContext();
  }

  private newContext(): unknown {
    const { lib } = this;
    const ctx = lib.ctxNew(NFT_CTX_DEFAULT);
    if (!ctx) throw new Error('nft_ctx_new failed');
    lib.bufferOutput(ctx);
    lib.bufferError(ctx);
    lib.setFlags(ctx, NFT_CTX_OUTPUT_JSON);
    return ctx;
  }

  /** A fresh context after a large transaction: drops nft's cache of it, and trims malloc. */
  private renewContext(): void {
    this.lib.ctxFree(this.ctx);
    this.ctx = this.newContext();
    trimMalloc();
  }

  private call(buf: string, dryRun: boolean): Promise<RunResult> {
    const run = async (): Promise<RunResult> => {
      if (!this.ctx) throw new Error('libnftables applier is closed');
      const { lib, ctx } = this;
      lib.setDryRun(ctx, dryRun);
      let rc: number;
      if (buf.length < ASYNC_THRESHOLD_BYTES) {
        rc = lib.runCmd(ctx, buf) as number;
      } else {
        rc = await new Promise<number>((resolve, reject) => {
          lib.runCmd.async(ctx, buf, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res as number)));
        });
      }
      // Reading a buffer also resets it for the next call.
      const output = (lib.getOutput(ctx) as string | null) ?? '';
      const error = (lib.getError(ctx) as string | null) ?? '';
      if (buf.length >= ASYNC_THRESHOLD_BYTES) this.renewContext();
      return { rc, output, error };
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async send(input: ApplyInput, dryRun: boolean): Promise<void> {
    let text = toJsonText(input, this.opts.encoder);
    const bytes = text.length;
    const r = await this.call(text, dryRun);
    if (r.rc === 0) return;
    text = ''; // the tree below replaces it: not both at once
    const root = await toJson(input, this.opts.encoder);
    const checkOnly = async (prefix: NftJsonRoot): Promise<string | null> => {
      const c = await this.call(JSON.stringify(prefix), true);
      return c.rc === 0 ? null : c.error || 'failed';
    };
    throw await toApplyError(root, r.error, dryRun ? 'check' : 'transaction', checkOnly, bytes);
  }

  apply(input: ApplyInput): Promise<void> {
    return this.send(input, false);
  }

  check(input: ApplyInput): Promise<void> {
    return this.send(input, true);
  }

  async listJson(command: string): Promise<NftJsonRoot> {
    const r = await this.call(command, false);
    if (r.rc !== 0) throw new ApplyError(`nft ${command} failed: ${r.error.trim()}`, r.error);
    return JSON.parse(r.output) as NftJsonRoot;
  }

  async listSetElements(family: Family, table: string, set: string, isMap: boolean): Promise<unknown[] | null> {
    const cmd = `list ${isMap ? 'map' : 'set'} ${family} ${table} ${set}`;
    const r = await this.call(cmd, false);
    if (r.rc !== 0) {
      if (/No such file or directory/.test(r.error)) return null;
      throw new ApplyError(`nft ${cmd} failed: ${r.error.trim()}`, r.error);
    }
    return elementsOf(JSON.parse(r.output) as NftJsonRoot);
  }

  close(): void {
    if (this.ctx) this.lib.ctxFree(this.ctx);
    this.ctx = null;
  }
}
