// Reading cluster dumps and reporting problems, shared by the CLI commands.

import { readFileSync } from 'node:fs';
import type { KeyConflict, Problem } from '../../compiler/model/types.js';
import { describeProblem } from '../../compiler/model/problem.js';

/** Exit codes: 0 ok (possibly with warnings), 1 failure while working, 2 unusable input or usage. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_UNUSABLE = 2;

export class UsageError extends Error {}

export function readInput(path: string): string {
  try {
    return path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

export function formatProblem(p: Problem): string {
  return `warning: ${describeProblem(p)} (skipped)`;
}

export function reportProblems(problems: Problem[], stderr: NodeJS.WritableStream = process.stderr): void {
  for (const p of problems) stderr.write(formatProblem(p) + '\n');
}

/** One line per conflict: both service ports, the key, who keeps it and why. */
export function formatConflict(c: KeyConflict): string {
  if (c.winner === c.loser) return `warning: Service port ${c.winner} claims ${c.key} twice: one claim kept (${c.reason})`;
  return `warning: Service ports ${c.winner} and ${c.loser} both claim ${c.key}: ${c.winner} keeps it, ${c.loser} loses it (${c.reason})`;
}

export function reportConflicts(conflicts: readonly KeyConflict[], stderr: NodeJS.WritableStream = process.stderr): void {
  for (const c of conflicts) stderr.write(formatConflict(c) + '\n');
}

/** What the CLI reports about a model: invalid objects skipped, then key conflicts resolved. */
export function reportModel(model: { problems: Problem[]; conflicts: readonly KeyConflict[] }, stderr: NodeJS.WritableStream = process.stderr): void {
  reportProblems(model.problems, stderr);
  reportConflicts(model.conflicts, stderr);
}
