// The compile CLI takes issue 12's datapath options (kube-proxy's flag names): the text it prints
// loads into nft, and `trace --iif` follows interface-based local detection.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createNamespace, destroyNamespace, exec, nftLoad } from '../harness/index.js';
import { node, serviceCIDR, services } from './cluster.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/nftproxy.js');
const dump = path.join(mkdtempSync(path.join(tmpdir(), 'nfp-conf-')), 'cluster.yaml');
writeFileSync(dump, stringify({ apiVersion: 'v1', kind: 'List', items: [node, serviceCIDR, ...services] }));

const run = (args: string[]) => {
  const r = spawnSync('node', [bin, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('compile / trace with the drop-in options', () => {
  it('--nodeport-addresses primary, --service-cidr, --detect-local-mode InterfaceNamePrefix: loadable text', async () => {
    const r = run([
      'compile', dump, '--node-name', 'node-a', '--nodeport-addresses', 'primary', '--service-cidr', '10.97.0.0/16',
      '--detect-local-mode', 'InterfaceNamePrefix', '--pod-interface-name-prefix', 'veth',
    ]);
    expect(r.code).toBe(0);
    // The ServiceCIDR object's range and the flag's, merged.
    expect(r.stdout).toMatch(/set service-cidrs \{[^}]*10\.97\.0\.0\/16,\s+10\.96\.0\.0\/16 \}/);
    expect(r.stdout).toContain('meta iifname != veth*');
    expect(r.stdout).toMatch(/set nodeport-ips \{[^}]*elements = \{ 192\.168\.0\.1 \}/);
    const ns = await createNamespace('conf-cli');
    try {
      await nftLoad(ns, r.stdout, { format: 'text' });
      // nft lists a wildcard quoted and unescaped (an escaped literal star would read "veth\*").
      expect((await exec(ns, ['nft', 'list', 'chain', 'ip', 'nftproxy', 'services'])).stdout).toContain('iifname != "veth*"');
    } finally {
      await destroyNamespace(ns);
    }
  });

  it('rejects what kube-proxy rejects', () => {
    expect(run(['compile', dump, '--detect-local-mode', 'Nope']).code).toBe(2);
    expect(run(['compile', dump, '--pod-bridge-interface', 'a-name-much-too-long']).code).toBe(2);
    expect(run(['compile', dump, '--nodeport-addresses', 'secondary']).code).toBe(2);
  });

  it('trace --iif: the bridge interface decides whether a cluster-IP connection is masqueraded', () => {
    const trace = (iif: string) =>
      run(['trace', dump, '--node-name', 'node-a', '--detect-local-mode', 'BridgeInterface', '--pod-bridge-interface', 'cbr0', '--src', '10.244.0.13', '--dst', '10.96.1.1:80/tcp', '--iif', iif, '--json']);
    const masq = (iif: string) => (JSON.parse(trace(iif).stdout) as { outcomes: { masquerade: boolean }[] }).outcomes.map((o) => o.masquerade);
    expect(masq('cbr0')).toEqual([false, false, false]);
    expect(masq('eth0')).toEqual([true, true, true]);
  });
});
