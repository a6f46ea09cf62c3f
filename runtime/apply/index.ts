// Choosing an applier: in-process libnftables when it loads, the nft CLI otherwise.

import { CliApplier, type CliApplierOptions } from './cli.js';
import { LibApplier, loadLibnftables } from './lib.js';
import type { Applier, ApplierName, Encoder } from './types.js';

export { ApplyError } from './types.js';
export type { Applier, ApplierName, ApplyInput, Encoder, NftJsonRoot } from './types.js';
export { CliApplier } from './cli.js';
export { LibApplier, loadLibnftables, libnftablesLoadError } from './lib.js';

export interface CreateApplierOptions {
  encoder?: Encoder;
  cli?: Omit<CliApplierOptions, 'encoder'>;
}

export function createApplier(kind: ApplierName | 'auto' = 'auto', opts: CreateApplierOptions = {}): Applier {
  const enc = opts.encoder ? { encoder: opts.encoder } : {};
  if (kind === 'lib') return new LibApplier(enc);
  if (kind === 'auto' && loadLibnftables() && !opts.cli?.wrap) return new LibApplier(enc);
  return new CliApplier({ ...opts.cli, ...enc });
}
