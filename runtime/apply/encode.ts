// IR Transaction → nft JSON text through compiler/nft/json.ts (every command validated by its zod
// schema), unless an encoder is injected. Appliers send text: the streaming encoder produces it
// one command at a time, without the JSON tree of the whole transaction; the tree is built only
// to explain a failure (toJson), which is rare and then worth the cost.

import { transactionToJson, transactionToJsonChunks } from '../../compiler/nft/json.js';
import type { ApplyInput, Encoder, NftJsonRoot } from './types.js';

export function isJsonRoot(input: ApplyInput): input is NftJsonRoot {
  return 'nftables' in input;
}

export async function toJson(input: ApplyInput, encoder?: Encoder): Promise<NftJsonRoot> {
  if (isJsonRoot(input)) return input;
  return (encoder ?? transactionToJson)(input);
}

/** The JSON text of `input` in pieces (concatenated, they are `JSON.stringify(await toJson(input, encoder))`). */
export function toJsonChunks(input: ApplyInput, encoder?: Encoder): Iterable<string> {
  if (isJsonRoot(input)) return [JSON.stringify(input)];
  if (encoder) return [JSON.stringify(encoder(input))];
  return transactionToJsonChunks(input);
}

/** The JSON text of `input` as one string. */
export function toJsonText(input: ApplyInput, encoder?: Encoder): string {
  let out = '';
  for (const piece of toJsonChunks(input, encoder)) out += piece;
  return out;
}
