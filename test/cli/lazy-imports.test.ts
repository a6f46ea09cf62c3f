// The compile-only commands must not load the daemon's dependencies (client-node, pino,
// prom-client, koffi): loading them took a second before `--help` printed anything. A module
// loader hook lists every module the built CLI loads; the daemon's packages must not be among
// them, while `run` and `apply` still load theirs when they act.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { unshareFlags } from '../harness/privileges.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/nftproxy.js');
const example = path.join(root, 'examples/cluster.yaml');
const work = mkdtempSync(path.join(tmpdir(), 'nfp-lazy-'));
const DAEMON_ONLY = ['@kubernetes/client-node', 'pino', 'prom-client', 'koffi'];

writeFileSync(path.join(work, 'hooks.mjs'), "export async function load(url, ctx, next) { process.stderr.write('LOADED ' + url + '\\n'); return next(url, ctx); }\n");
writeFileSync(path.join(work, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(work, 'hooks.mjs')).href)});\n`);

/** `prefix` e.g. `['unshare', '-n']`: a command that acts on the kernel runs in a private namespace. */
function loadedPackages(args: string[], prefix: string[] = []): { code: number | null; packages: Set<string> } {
  const argv = [...prefix, 'node', '--import', path.join(work, 'register.mjs'), bin, ...args];
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' });
  const packages = new Set<string>();
  for (const m of r.stderr.matchAll(/^LOADED \S*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) packages.add(m[1] as string);
  return { code: r.status, packages };
}

describe.skipIf(!existsSync(path.join(root, 'dist/runtime/cli/main.js')))('CLI start: daemon dependencies load lazily', () => {
  it.each([
    ['--help', ['--help']],
    ['compile', ['compile', example]],
    ['compile --format json', ['compile', example, '--format', 'json']],
    ['trace', ['trace', example, '--dst', '10.96.0.10:53/udp']],
    ['diff', ['diff', example, example]],
  ])('%s loads none of them', (_name, args) => {
    const { code, packages } = loadedPackages(args);
    expect(code).toBe(0);
    expect(packages.has('commander')).toBe(true); // the hook sees packages at all
    for (const p of DAEMON_ONLY) expect(packages.has(p), p).toBe(false);
  });

  it('run still loads them when it acts', () => {
    // `run --cleanup` removes our tables and exits: in a private network namespace, never the host's.
    const { code, packages } = loadedPackages(['run', '--cleanup', '--hostname-override', 'x', '--master', 'http://127.0.0.1:1', '--table', 'nfp-lazy'], ['unshare', ...(unshareFlags ?? ['-n'])]);
    expect(code).toBe(0);
    expect(packages.has('pino')).toBe(true);
    expect(packages.has('koffi')).toBe(true);
  });
});
