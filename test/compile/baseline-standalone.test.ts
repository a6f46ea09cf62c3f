// `compile --format iptables|kube-proxy-nft` renders the baselines from the model alone: our
// lowering is never computed for them (it is replaced here by one that throws), and both
// baselines handle a Service with 5,000 endpoints.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { generateCluster } from '../../bench/generate.js';

const lowered = vi.hoisted(() => ({ calls: 0 }));
vi.mock('../../compiler/lower.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../compiler/lower.js')>();
  return {
    ...real,
    compile: (...args: Parameters<typeof real.compile>) => {
      lowered.calls++;
      return real.compile(...args);
    },
  };
});
const { compileCommand } = await import('../../runtime/cli/compile.js');

function dump(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nfp-baseline-'));
  const file = path.join(dir, 'big.json');
  const objects = generateCluster({ services: 3, endpointsPerService: (i) => (i === 1 ? 5000 : 2), nodePortEvery: 1, nodes: Array.from({ length: 500 }, (_, i) => `node-${i}`) });
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  return file;
}

async function run(file: string, format: string, ...extra: string[]): Promise<string> {
  let text = '';
  await compileCommand((s) => (text += s)).parseAsync([file, '--format', format, ...extra], { from: 'user' });
  return text;
}

describe('baseline formats stand alone', () => {
  const file = dump();

  it('iptables (v4 and v6) and kube-proxy-nft never run our lowering, and render 5,000 endpoints', async () => {
    lowered.calls = 0;
    const ipt = await run(file, 'iptables');
    expect(ipt.match(/^:KUBE-SEP-/gm)?.length).toBe(5000 + 2 * 2);
    await run(file, 'iptables', '--ipv6');
    const kp = await run(file, 'kube-proxy-nft');
    expect(kp.match(/"chain":\{[^{}]*"name":"endpoint-/g)?.length).toBe(5000 + 2 * 2);
    expect(lowered.calls).toBe(0);
  }, 120_000);

  it('our own formats do run it', async () => {
    lowered.calls = 0;
    expect(await run(file, 'stats')).toMatch(/^endpoints 5004$/m);
    expect(lowered.calls).toBe(1);
  }, 120_000);
});
