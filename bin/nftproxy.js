#!/usr/bin/env node
// Thin launcher: the CLI lives in runtime/cli (compiled to dist/ by `npm ci` through `prepare`).
import { main } from '../dist/runtime/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.stack ?? err.message : String(err)); process.exitCode = 1; },
);
