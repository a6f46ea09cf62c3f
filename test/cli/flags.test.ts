// One flag pipeline for every command (issue 14.3) with kube-proxy's conventions, as a user runs
// the built executable: list flags comma-separated or repeated alike, the same validation and
// messages in `compile` and `run` (exit 2), --nodeport-addresses primary (the default) with its
// fallback warning, and Services of another proxy skipped with a warning.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { objectsFor, type ServiceSpec } from '../datapath/cluster.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/nftproxy.js');
const example = path.join(root, 'examples/cluster.yaml');
const work = mkdtempSync(path.join(tmpdir(), 'nfp-flags-'));

function run(args: string[]) {
  const r = spawnSync('node', [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function dump(name: string, objects: unknown[]): string {
  const file = path.join(work, name);
  writeFileSync(file, stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  return file;
}

const svc = (name: string, ip: string): ServiceSpec => ({
  name,
  clusterIP: ip,
  type: 'NodePort',
  ports: [{ name: 'http', port: 80, nodePort: 30080 + Number(ip.split('.').pop()) }],
  slices: [{ targetPort: 8080, endpoints: [{ ip: '10.244.0.10', node: 'node-a' }] }],
});

describe('one flag pipeline', () => {
  it('list flags: comma-separated and repeated give the same ruleset', () => {
    const a = run(['compile', example, '--cluster-cidr', '10.244.0.0/16,fd00:10:244::/64', '--service-cidr', '10.96.0.0/16', '--service-cidr', 'fd00:10:96::/112']);
    const b = run(['compile', example, '--cluster-cidr', '10.244.0.0/16', '--cluster-cidr', 'fd00:10:244::/64', '--service-cidr', '10.96.0.0/16,fd00:10:96::/112']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toContain('fd00:10:244::/64');
  });

  it('the same validation and message in compile and run, exit 2', () => {
    for (const cmd of ['compile', 'run']) {
      const args = cmd === 'compile' ? ['compile', example] : ['run', '--master', 'http://127.0.0.1:1'];
      const t = run([...args, '--table', 'bad name']);
      expect(t.code, cmd).toBe(2);
      expect(t.stderr, cmd).toMatch(/^error: --table: expected a name of letters, digits, _ and - \(max 64\)$/m);
      const c = run([...args, '--cluster-cidr', '10.0.0.0/99']);
      expect(c.code, cmd).toBe(2);
      expect(c.stderr, cmd).toMatch(/--cluster-cidr: expected CIDRs .*got "10\.0\.0\.0\/99"/);
      const d = run([...args, '--detect-local-mode', 'Magic']);
      expect(d.code, cmd).toBe(2);
      expect(d.stderr, cmd).toMatch(/--detect-local-mode: unsupported detect-local mode "Magic"/);
      const l = run([...args, '--nodeport-addresses', 'localhost']);
      expect(l.code, cmd).toBe(2);
      expect(l.stderr, cmd).toMatch(/--nodeport-addresses: "localhost" is not supported/);
    }
    const ipvs = run(['run', '--master', 'http://127.0.0.1:1', '--proxy-mode', 'ipvs']);
    expect(ipvs.code).toBe(2);
    expect(ipvs.stderr).toMatch(/--proxy-mode: nftproxy implements mode "nftables" only/);
  });

  it('--nodeport-addresses primary (the default) needs the Node: without it, compile says NodePorts take every local address', () => {
    const withNode = dump('with-node.yaml', objectsFor([svc('a', '10.96.0.1')], [{ name: 'node-a', ip: '192.168.0.1' }]));
    const ok = run(['compile', withNode, '--hostname-override', 'node-a']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe('');
    expect(run(['compile', withNode, '--node-name', 'node-a', '--nodeport-addresses', 'primary']).stdout).toBe(ok.stdout);
    const noNode = run(['compile', dump('no-node.yaml', objectsFor([svc('a', '10.96.0.1')])), '--hostname-override', 'node-a']);
    expect(noNode.code).toBe(0);
    expect(noNode.stderr).toMatch(/^warning: --nodeport-addresses primary: no Node object named node-a .*NodePorts are accepted on every local address/m);
    // CIDRs instead of primary: no Node needed, no warning.
    expect(run(['compile', dump('no-node2.yaml', objectsFor([svc('a', '10.96.0.1')])), '--nodeport-addresses', '192.168.0.0/24', '--node-ip', '192.168.0.1']).stderr).toBe('');
  });

  it("Services of another proxy are skipped, and compile says so (kube-proxy's label selector)", () => {
    const objects = objectsFor([svc('mine', '10.96.0.1'), svc('theirs', '10.96.0.2')], [{ name: 'node-a', ip: '192.168.0.1' }]) as { kind: string; metadata: { name: string; labels?: Record<string, string> } }[];
    for (const o of objects) {
      if (o.kind === 'Service' && o.metadata.name === 'theirs') o.metadata.labels = { 'service.kubernetes.io/service-proxy-name': 'other-proxy' };
    }
    const r = run(['compile', dump('proxies.yaml', objects), '--hostname-override', 'node-a']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: Service default\/theirs metadata\.labels\["service\.kubernetes\.io\/service-proxy-name"\]: belongs to the service proxy "other-proxy", not to nftproxy .*\(skipped\)$/m);
    expect(r.stdout).toContain('10.96.0.1');
    expect(r.stdout).not.toContain('10.96.0.2');
  });
});
