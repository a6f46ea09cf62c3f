// Issue 11 through the built CLI: `compile`, `trace` and `diff` of dumps with key conflicts exit 0,
// warn on stderr naming both Services and the key, and what `compile` prints loads into the kernel
// (private namespace). Malformed files exit 2 with one line and no stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { canRunKernelTests, runInFreshNetns } from '../nft/netns.js';
import { kubeDns, hijack, objectsOf, stateReproducers, type Spec } from '../model/conflict-reproducers.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/nftproxy.js');
const work = mkdtempSync(path.join(tmpdir(), 'nfp-conflicts-'));
const kernel = canRunKernelTests();

function run(args: string[]) {
  const r = spawnSync('node', [bin, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function dump(name: string, specs: Spec[]): string {
  const file = path.join(work, name);
  writeFileSync(file, stringify({ apiVersion: 'v1', kind: 'List', items: objectsOf(specs) }));
  return file;
}

function file(name: string, text: string): string {
  const f = path.join(work, name);
  writeFileSync(f, text);
  return f;
}

const NODE_FLAGS = ['--node-name', 'node-a', '--cluster-cidr', '10.244.0.0/16'];
const dnsWarning = 'warning: Service ports kube-system/kube-dns:dns-tcp and tenant/hijack:dns both claim 10.96.0.10 tcp 53: kube-system/kube-dns:dns-tcp keeps it, tenant/hijack:dns loses it (an allocated cluster IP wins over an externalIP)';

describe('CLI: key conflicts are warnings, the output is loadable', () => {
  it('compile warns about the kube-dns hijack, exits 0, and the kernel accepts its JSON', () => {
    const r = run(['compile', dump('dns.yaml', [kubeDns, hijack]), '--format', 'json', ...NODE_FLAGS]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([dnsWarning]);
    if (kernel) {
      const k = runInFreshNetns('nft -j -f out.json && nft list map ip nftproxy service-ips', { 'out.json': r.stdout });
      expect(k.stderr).toBe('');
      expect(k.code).toBe(0);
      expect(k.stdout).toContain('kube-system/kube-dns:dns-tcp cluster IP');
    }
  });

  it.skipIf(!kernel)('compile of every reproducer: exit 0, one warning per conflict, nft -f accepts the text form too', { timeout: 300_000 }, () => {
    stateReproducers.forEach((rep, i) => {
      const r = run(['compile', dump(`rep-${i}.yaml`, rep.specs), ...NODE_FLAGS]);
      expect(r.code, rep.name).toBe(0);
      const warnings = r.stderr.split('\n').filter((l) => l !== '');
      expect(warnings.length, rep.name).toBe(rep.conflictKeys.length);
      for (const key of rep.conflictKeys) expect(r.stderr.includes(`claim ${key}:`) || r.stderr.includes(`claims ${key} twice`), key).toBe(true);
      const k = runInFreshNetns('nft -f out.nft', { 'out.nft': r.stdout });
      expect(k.stderr, rep.name).toBe('');
    });
  });

  it('trace and diff warn too, and trace follows the winner', () => {
    const both = dump('dns2.yaml', [kubeDns, hijack]);
    const t = run(['trace', both, '--src', '10.244.9.9', '--dst', '10.96.0.10:53/tcp', ...NODE_FLAGS]);
    expect(t.code).toBe(0);
    expect(t.stderr.trim()).toBe(dnsWarning);
    expect(t.stdout).toContain('10.244.1.1:5353');
    expect(t.stdout).not.toContain('10.244.2.1:8053');
    const d = run(['diff', dump('dns-only.yaml', [kubeDns]), both, ...NODE_FLAGS]);
    expect(d.code).toBe(0);
    expect(d.stderr.trim()).toBe(dnsWarning);
    expect(d.stdout).not.toContain('10.96.0.10 . tcp . 53');
  });
});

describe('CLI: malformed files exit 2 with one line', () => {
  let y = 'a: &a [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 0, prev = 'a'; i < 9; i++, prev = `b${i - 1}`) y += `b${i}: &b${i} [${Array(9).fill(`*${prev}`).join(', ')}]\n`;
  const cases: [string, string][] = [
    ['5,000-deep JSON array', '['.repeat(5000) + ']'.repeat(5000)],
    ['200,000-deep JSON array', '['.repeat(200000) + ']'.repeat(200000)],
    ['5,000-deep YAML block sequence', '- '.repeat(5000) + 'x\n'],
    ['5,000-deep YAML flow mapping', 'x: ' + '{a: '.repeat(5000) + '1' + '}'.repeat(5000) + '\n'],
    ['YAML alias bomb', y],
    ['not YAML at all', '\u0000\u0001{{{: ]]'],
    ['a scalar document', '42\n'],
    ['only comments', '# nothing\n'],
  ];
  for (const [name, text] of cases) {
    it(name, () => {
      const r = run(['compile', file(`bad-${name.replace(/\W+/g, '-')}`, text)]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^error: [^\n]+\n$/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
