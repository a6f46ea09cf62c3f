// IR Transaction → nft JSON through compiler/nft/json.ts (validated by its zod schema), unless an
// encoder is injected.

import { transactionToJson } from '../../compiler/nft/json.js';
import type { ApplyInput, Encoder, NftJsonRoot } from './types.js';

export function isJsonRoot(input: ApplyInput): input is NftJsonRoot {
  return 'nftables' in input;
}

export async function toJson(input: ApplyInput, encoder?: Encoder): Promise<NftJsonRoot> {
  if (isJsonRoot(input)) return input;
  return (encoder ?? transactionToJson)(input);
}
