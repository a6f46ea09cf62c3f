// The command line as a user runs it: the built `nftproxy` executable (dist/, built by `npm ci`
// through `prepare` and by `npm test`), its outputs, exit codes and messages.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createNamespace, destroyNamespace, exec, nftList, nftLoad } from '../harness/index.js';
import { objectsFor, type ServiceSpec } from '../datapath/cluster.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/nftproxy.js');
const example = path.join(root, 'examples/cluster.yaml');
const work = mkdtempSync(path.join(tmpdir(), 'nfp-cli-'));

function run(args: string[], input?: string) {
  const r = spawnSync('node', [bin, ...args], { encoding: 'utf8', input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function dump(name: string, services: ServiceSpec[]): string {
  const file = path.join(work, name);
  writeFileSync(file, stringify({ apiVersion: 'v1', kind: 'List', items: objectsFor(services) }));
  return file;
}

const web = (endpoints: string[]): ServiceSpec => ({
  name: 'web',
  clusterIP: '10.96.0.20',
  ports: [{ name: 'http', port: 80 }],
  slices: [{ targetPort: 8080, endpoints: endpoints.map((ip) => ({ ip, node: 'node-a' })) }],
});

describe('nftproxy compile', () => {
  it('prints the ruleset as nft text by default', () => {
    const r = run(['compile', example]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^table ip nftproxy \{/m);
    expect(r.stdout).toMatch(/^table ip6 nftproxy \{/m);
    expect(r.stdout).toContain('map service-ips');
  });

  it('--format json is the nft -j -f transaction, --format stats the counts', () => {
    const json = JSON.parse(run(['compile', example, '--format', 'json']).stdout) as { nftables: object[] };
    expect(json.nftables[0]).toEqual({ add: { table: { family: 'ip', name: 'nftproxy' } } });
    const stats = run(['compile', example, '--format', 'stats']).stdout;
    expect(stats).toMatch(/^chains \d+$/m);
    expect(stats).toMatch(/^elements \d+$/m);
  });

  it('--format iptables / kube-proxy-nft print the baselines from the same model', () => {
    const ipt = run(['compile', example, '--format', 'iptables', '--cluster-cidr', '10.244.0.0/16']);
    expect(ipt.code).toBe(0);
    // The chain name every kube-proxy cluster has for kube-dns:dns.
    expect(ipt.stdout).toContain('-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp -p udp -d 10.96.0.10 --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU\n');
    expect(ipt.stdout).toMatch(/^-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\nCOMMIT$/m);
    expect(run(['compile', example, '--format', 'iptables', '--ipv6']).stdout).toContain('fd00:10:96::50');
    const kp = JSON.parse(run(['compile', example, '--format', 'kube-proxy-nft']).stdout) as { nftables: unknown[] };
    expect(JSON.stringify(kp)).toContain('"name":"kube-proxy"');
  });

  it('--table renames the tables; reads stdin with -', () => {
    const r = run(['compile', '-', '--table', 'kp2'], execFileSync('cat', [example], { encoding: 'utf8' }));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^table ip kp2 \{/m);
  });

  it('reports bad objects on stderr and still compiles the good ones (exit 0)', () => {
    const r = run(['compile', path.join(root, 'examples/bad-objects.yaml'), '--format', 'stats']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: Service \S+\/\S+ spec\.ports\[\d+\]\.port: .+ \(skipped\)$/m);
    expect(r.stdout).toMatch(/^servicePorts [1-9]\d*$/m);
  });

  it('exits 2 with a clear message when the file is unusable or an option is wrong', () => {
    const garbage = path.join(work, 'garbage.yaml');
    writeFileSync(garbage, '{{{ this is not yaml');
    const r = run(['compile', garbage]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: /m);
    expect(run(['compile', path.join(work, 'missing.yaml')]).stderr).toMatch(/cannot read .*missing\.yaml: no such file/);
    const badOpt = run(['compile', example, '--cluster-cidr', '10.0.0.0/99']);
    expect(badOpt.code).toBe(2);
    expect(badOpt.stderr).toMatch(/--cluster-cidr: expected CIDRs/);
  });
});

describe('nftproxy diff / apply / cleanup (in a private namespace)', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await createNamespace('cli');
  });
  afterAll(async () => {
    await destroyNamespace(ns);
  });

  // A replaced endpoint keeps the endpoint count, so no slot chain or map appears or goes.
  it('diff of a one-endpoint replacement is element commands only, and OLD + diff lists like a fresh NEW', async () => {
    const oldFile = dump('old.yaml', [web(['10.244.0.10', '10.244.0.11'])]);
    const newFile = dump('new.yaml', [web(['10.244.0.10', '10.244.0.12'])]);
    const diff = run(['diff', oldFile, newFile, '--format', 'json']);
    expect(diff.code).toBe(0);
    const commands = (JSON.parse(diff.stdout) as { nftables: Record<string, Record<string, unknown>>[] }).nftables;
    for (const c of commands) expect(Object.keys(Object.values(c)[0]!)).toEqual(['element']);
    expect(run(['diff', oldFile, newFile]).stdout).toMatch(/^(add|delete) element ip nftproxy /m);

    await exec(ns, ['nft', 'flush', 'ruleset']);
    await nftLoad(ns, run(['compile', oldFile, '--format', 'json']).stdout, { format: 'json' });
    await nftLoad(ns, diff.stdout, { format: 'json' });
    const incremental = await nftList(ns);
    await exec(ns, ['nft', 'flush', 'ruleset']);
    await nftLoad(ns, run(['compile', newFile, '--format', 'json']).stdout, { format: 'json' });
    expect(incremental).toBe(await nftList(ns));
  });

  for (const applier of ['cli', 'lib']) {
    it(`apply (${applier}) programs the example; cleanup removes exactly our tables`, async () => {
      await exec(ns, ['nft', 'flush', 'ruleset']);
      await exec(ns, ['nft', 'add', 'table', 'ip', 'someone-else']);
      const a = await exec(ns, ['node', bin, 'apply', example, '--applier', applier]);
      expect(a.stdout).toMatch(new RegExp(`applied full sync: \\d+ commands, 12 service ports, .* \\(applier ${applier}\\)`));
      const tables = (await exec(ns, ['nft', 'list', 'tables'])).stdout;
      expect(tables).toContain('table ip nftproxy');
      expect(tables).toContain('table ip6 nftproxy');
      const c = await exec(ns, ['node', bin, 'cleanup', '--applier', applier]);
      expect(c.stdout).toBe('removed table ip nftproxy, table ip6 nftproxy\n');
      expect((await exec(ns, ['nft', 'list', 'tables'])).stdout.trim()).toBe('table ip someone-else');
      expect((await exec(ns, ['node', bin, 'cleanup'])).stdout).toMatch(/nothing to remove/);
    });
  }

  it('trace prints the path and the outcomes', () => {
    const r = run(['trace', example, '--src', '192.168.0.100', '--dst', '10.96.0.10:53/udp', '--cluster-cidr', '10.244.0.0/16']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lookup ip daddr \. meta l4proto \. th dport = 10\.96\.0\.10 \. udp \. 53 in @service-ips -> goto svc-lb-2/);
    expect(r.stdout).toMatch(/outcomes:\n\s+50\.0%\s+DNAT/);
  });
});
