// The nft backend: IR → nft JSON (validated against the 1.0.6 subset we emit) and IR → nft text.

export {
  NftJsonError,
  describeCommand,
  rulesetToJson,
  transactionToJson,
  validateNftJson,
} from './json.js';
export { rulesetToText, transactionToText } from './text.js';
export * from './schema.js';
export * from './limits.js';
