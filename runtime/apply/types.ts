// What an applier is: one atomic nft JSON transaction into the kernel of the CURRENT network
// namespace. Two implementations (nft CLI, libnftables in-process) behind one interface.

import type { Transaction } from '../../ir/transaction.js';
import type { Family } from '../../ir/types.js';

/** An nft JSON document as `nft -j` reads and prints it. */
export interface NftJsonRoot {
  nftables: readonly unknown[];
}

export type ApplyInput = Transaction | NftJsonRoot;

export type ApplierName = 'cli' | 'lib';

/** Turns IR commands into nft JSON (compiler/nft/json.ts in production; injectable for tests). */
export type Encoder = (tx: Transaction) => NftJsonRoot;

export interface Applier {
  readonly name: ApplierName;
  /** Sends one transaction; resolves when the kernel committed it, rejects with ApplyError. */
  apply(input: ApplyInput): Promise<void>;
  /** Same as apply but the kernel only validates (`nft -c`): nothing changes. */
  check(input: ApplyInput): Promise<void>;
  /**
   * Elements of one named set or map, as nft prints them (`list set|map`), or null when the
   * table or the set does not exist. Costs O(that set), not O(table).
   */
  listSetElements(family: Family, table: string, set: string, isMap: boolean): Promise<unknown[] | null>;
  /** Runs a read-only nft command (text syntax, e.g. `list table ip t`) and returns its JSON output. */
  listJson(command: string): Promise<NftJsonRoot>;
  close(): void;
}

export class ApplyError extends Error {
  constructor(
    message: string,
    /** nft's own error text, unmodified. */
    readonly nftOutput: string,
    /** Index in `nftables[]` of the command nft named, when it named one. */
    readonly commandIndex?: number,
  ) {
    super(message);
    this.name = 'ApplyError';
  }
}
