// nft's error output → an ApplyError naming the failing command. Parse errors carry an index;
// evaluation and kernel errors do not (`internal:0:0-0`), so for those we locate the command by
// bisecting with check-only runs (`nft -c`, nothing is committed) over prefixes of the batch:
// the kernel processes a batch in order, so the shortest failing prefix ends at the culprit.

import { cleanNftError, describeItem, failedIndex, summarize } from './describe.js';
import { ApplyError, type NftJsonRoot } from './types.js';

/** Beyond this size, bisecting costs more than it tells (each probe re-sends the prefix). */
const MAX_BISECT_COMMANDS = 4096;
const MAX_BISECT_BYTES = 4 << 20;

/** Runs a check-only transaction; resolves to nft's error text, or null when it would succeed. */
export type CheckRunner = (root: NftJsonRoot) => Promise<string | null>;

async function locateByBisection(root: NftJsonRoot, check: CheckRunner): Promise<number | undefined> {
  const items = root.nftables;
  let ok = 0; // a prefix of this length is known to pass
  let bad = items.length; // a prefix of this length is known to fail
  if ((await check(root)) === null) return undefined; // failure depends on something else: no claim
  while (bad - ok > 1) {
    const mid = (ok + bad) >> 1;
    if ((await check({ nftables: items.slice(0, mid) })) === null) ok = mid;
    else bad = mid;
  }
  return bad - 1;
}

export async function toApplyError(
  root: NftJsonRoot,
  nftOutput: string,
  verb: string,
  check?: CheckRunner,
  jsonBytes = 0,
): Promise<ApplyError> {
  const reason = cleanNftError(nftOutput) || 'nft failed without a message';
  let index = failedIndex(nftOutput);
  if (index === undefined && root.nftables.length === 1) index = 0;
  if (index === undefined && check && root.nftables.length <= MAX_BISECT_COMMANDS && jsonBytes <= MAX_BISECT_BYTES) {
    try {
      index = await locateByBisection(root, check);
    } catch {
      index = undefined;
    }
  }
  const where = index !== undefined
    ? `command #${index} (${describeItem(root.nftables[index])})`
    : `a transaction of ${root.nftables.length} commands (${summarize(root)})`;
  return new ApplyError(`nft ${verb} failed at ${where}: ${reason}; nothing was changed`, nftOutput, index);
}
