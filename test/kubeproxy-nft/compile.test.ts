import { describe, expect, it } from 'vitest';
import { compileKubeProxyNft } from '../../compiler/kubeproxy-nft/compile.js';
import { kubeProxyNftChain, servicePortChainNameBase, servicePortEndpointChainNameBase } from '../../compiler/kubeproxy-nft/names.js';
import { rulesetToJson } from '../../compiler/nft/json.js';
import { ep, sampleCluster, svcPort, testOptions } from '../iptables/fixtures.js';
import { describeInNetns } from '../harness/privileges.js';
import { inNewNetns } from '../iptables/unshare.js';

describe('kube-proxy nftables names', () => {
  it('match kube-proxy’s own examples (proxier.go comments / tests)', () => {
    const sp = svcPort({ name: 'svc1', clusterIP: '172.30.0.41' });
    expect(servicePortChainNameBase(sp)).toBe('ULMVA6XW-ns1/svc1/tcp/p80');
    expect(servicePortEndpointChainNameBase(sp, ep('10.180.0.1', 80))).toBe('5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80');
    expect(servicePortEndpointChainNameBase(sp, ep('fd00::1', 80))).toMatch(/^[A-Z2-7]{8}-ns1\/svc1\/tcp\/p80__fd00\.\.1\/80$/);
  });
});

describe('compileKubeProxyNft', () => {
  const rs = compileKubeProxyNft(sampleCluster(), testOptions);
  const table = rs.tables[0]!;
  const set = (name: string) => table.sets.find((s) => s.name === name)!;
  const chain = (name: string) => table.chains.find((c) => c.name === name)!;

  it('has kube-proxy’s table, base chains and maps', () => {
    expect(rs.tables.map((t) => `${t.family} ${t.name}`)).toEqual(['ip kube-proxy']);
    expect(table.chains.filter((c) => c.base).map((c) => `${c.name} ${c.base!.type} ${c.base!.hook} ${c.base!.prio}`)).toEqual([
      'filter-prerouting filter prerouting -110',
      'filter-input filter input -110',
      'filter-forward filter forward -110',
      'filter-output filter output -110',
      'filter-output-post-dnat filter output -90',
      'nat-prerouting nat prerouting -100',
      'nat-output nat output -100',
      'nat-postrouting nat postrouting 100',
    ]);
    expect(set('service-ips').keyType).toEqual(['ipv4_addr', 'inet_proto', 'inet_service']);
    expect(set('service-ips').dataType).toBe('verdict');
    expect(set('service-nodeports').keyType).toEqual(['inet_proto', 'inet_service']);
    expect(set('cluster-ips').elements.map((e) => e.key)).toEqual(['172.30.0.41', '172.30.0.42', '172.30.0.43', '172.30.0.44', '172.30.0.45']);
  });

  it('dispatches each service port to its chain and each endpoint through numgen', () => {
    const svc1 = sampleCluster()[0]!;
    const entry = set('service-ips').elements.find((e) => JSON.stringify(e.key) === JSON.stringify({ concat: ['172.30.0.41', 'tcp', 80] }));
    expect(entry?.data).toEqual({ kind: 'goto', target: 'service-ULMVA6XW-ns1/svc1/tcp/p80' });
    const svcRules = chain(kubeProxyNftChain.service(svc1)).rules;
    expect(svcRules).toHaveLength(2); // masquerade off-cluster sources, then numgen
    const numgen = svcRules[1]!.stmts[0]!;
    expect(numgen.kind).toBe('anonvmap');
    if (numgen.kind === 'anonvmap') expect(numgen.entries.map(([i, v]) => [i, v.kind === 'goto' ? v.target : ''])).toEqual(
      ['10.180.0.1', '10.180.0.2', '10.180.0.3'].map((ip, i) => [i, kubeProxyNftChain.endpoint(svc1, ep(ip, 80))]),
    );
    const epRules = chain(kubeProxyNftChain.endpoint(svc1, ep('10.180.0.1', 80))).rules;
    expect(epRules.map((r) => r.stmts.at(-1)!.kind)).toEqual(['verdict', 'dnat']);
  });

  it('rejects services without endpoints through no-endpoint-services and drops ITP Local without local endpoints', () => {
    const entries = set('no-endpoint-services').elements.map((e) => [JSON.stringify(e.key), e.data, e.comment]);
    expect(entries).toContainEqual([JSON.stringify({ concat: ['172.30.0.42', 'tcp', 80] }), { kind: 'goto', target: 'reject-chain' }, 'ns1/svc2:p80']);
    expect(entries).toContainEqual([JSON.stringify({ concat: ['172.30.0.45', 'tcp', 80] }), { kind: 'drop' }, 'ns1/svc5:p80']);
  });

  it('converts to JSON that validates against the nft 1.0.6 schema', () => {
    expect(() => rulesetToJson(rs)).not.toThrow();
  });
});

describeInNetns('kube-proxy-nft in the kernel', () => {
  it('loads with nft -j -f into an empty namespace; the listing shows the maps and chains', () => {
    const sps = [...sampleCluster(), svcPort({ name: 'v6', family: 6, clusterIP: 'fd00:30::41', nodePort: 30006, endpoints: [ep('fd00:10::5', 80)] })];
    const json = JSON.stringify(rulesetToJson(compileKubeProxyNft(sps, testOptions)));
    const r = inNewNetns('nft -j -f "$D/rs.json" && nft list ruleset', { 'rs.json': json });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toContain('table ip kube-proxy');
    expect(out).toContain('table ip6 kube-proxy');
    expect(out).toMatch(/map service-ips \{\s+type ipv4_addr \. inet_proto \. inet_service : verdict/);
    expect(out).toContain('172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80');
    expect(out).toMatch(/numgen random mod 3 vmap \{ 0 : goto endpoint-[A-Z2-7]{8}-ns1\/svc1\/tcp\/p80__10\.180\.0\.1\/80, 1 : goto /);
    expect(out).toContain('meta l4proto tcp dnat to 10.180.0.1:80');
    expect(out).toContain('172.30.0.42 . tcp . 80 comment "ns1/svc2:p80" : goto reject-chain');
    expect(out).toContain('ct state new jump service-endpoints-check');
    expect(out).toContain('ip daddr . meta l4proto . th dport vmap @service-ips');
    expect(out).toContain('masquerade fully-random');
    expect(out).toMatch(/set affinity-[A-Z2-7]{8}-ns1\/svc4\/tcp\/p80__10\.180\.0\.4\/8080 \{/);
  });
});
