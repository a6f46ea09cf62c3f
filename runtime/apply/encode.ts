// IR Transaction → nft JSON, through compiler/nft/json.ts when no encoder is injected.
// Loaded lazily so that the appliers also serve callers that only ever pass JSON.

import type { Transaction } from '../../ir/transaction.js';
import type { ApplyInput, Encoder, NftJsonRoot } from './types.js';

let defaultEncoder: Encoder | undefined;

async function loadDefaultEncoder(): Promise<Encoder> {
  if (!defaultEncoder) {
    // A variable specifier keeps this module compilable while the emitter is written in parallel.
    const spec = '../../compiler/nft/json.js';
    const mod = (await import(/* @vite-ignore */ spec)) as { transactionToJson?: (tx: Transaction) => NftJsonRoot };
    if (typeof mod.transactionToJson !== 'function') throw new Error('compiler/nft/json.js does not export transactionToJson');
    defaultEncoder = mod.transactionToJson;
  }
  return defaultEncoder;
}

export function isJsonRoot(input: ApplyInput): input is NftJsonRoot {
  return 'nftables' in input;
}

export async function toJson(input: ApplyInput, encoder?: Encoder): Promise<NftJsonRoot> {
  if (isJsonRoot(input)) return input;
  return (encoder ?? (await loadDefaultEncoder()))(input);
}
