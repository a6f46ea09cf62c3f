import { describe, expect, it } from 'vitest';
import {
  applyIptablesRestore,
  countIptables,
  countNft,
  iptablesRulesPerConnection,
  nftRulesPerConnection,
  walkIptables,
  walkNft,
} from '../../bench/accounting.js';
import { compile } from '../../compiler/lower.js';
import { compileIptables } from '../../compiler/iptables/restore.js';
import { compileKubeProxyNft } from '../../compiler/kubeproxy-nft/compile.js';
import { rulesetToJson } from '../../compiler/nft/json.js';
import { ep, sampleCluster, svcPort, testOptions } from '../iptables/fixtures.js';
import { describeAsRoot, describeInNetns, NEEDS_ROOT } from '../harness/privileges.js';
import { inNewNetns } from '../iptables/unshare.js';

const many = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    svcPort({ name: `s${i}`, clusterIP: `172.30.${i >> 8}.${(i & 255) + 1}`, endpoints: [ep(`10.200.${i >> 8}.${i & 255}`, 8080), ep(`10.201.${i >> 8}.${i & 255}`, 8080)] }),
  );

describe('rules evaluated per new connection', () => {
  it('iptables: hook jump + position in KUBE-SERVICES + KUBE-SVC + KUBE-SEP', () => {
    const sps = sampleCluster();
    const text = compileIptables(sps, testOptions);
    const state = applyIptablesRestore([text]);
    const pkt = { family: 'ip' as const, src: '10.0.0.7', dst: '172.30.0.41', proto: 'tcp' as const, dport: 80 };
    // PREROUTING jump (1) + KUBE-SERVICES rule 1 (1) + KUBE-SVC masq + first endpoint (2) + KUBE-SEP hairpin + DNAT (2)
    expect(walkIptables(state, pkt, { endpoint: 'first' })).toEqual({ rules: 6, dnat: '10.180.0.1:80' });
    // The last of three endpoints: masq + 3 statistic rules.
    expect(walkIptables(state, pkt, { endpoint: 'last' })).toEqual({ rules: 8, dnat: '10.180.0.3:80' });
    // svc3 is second in KUBE-SERVICES.
    expect(walkIptables(state, { ...pkt, dst: '172.30.0.43', proto: 'udp', dport: 53 })).toEqual({ rules: 7, dnat: '10.180.1.1:5353' });
  });

  it('grows linearly with the number of services in iptables, stays flat in kube-proxy-nft', () => {
    for (const n of [10, 200]) {
      const sps = many(n);
      const ipt = iptablesRulesPerConnection(compileIptables(sps, testOptions), sps, testOptions.clusterCIDRs);
      expect(ipt.notDnated).toBe(0);
      expect(ipt.worst).toBe(1 + n + 2 + 2);
      expect(ipt.median).toBe(1 + (n + 1) / 2 + 2 + 2);
      const nft = nftRulesPerConnection(compileKubeProxyNft(sps, testOptions), sps, testOptions.clusterCIDRs);
      expect(nft.notDnated).toBe(0);
      // jump services, vmap @service-ips, masq rule + numgen vmap, hairpin + dnat
      expect(nft.worst).toBe(6);
      expect(nft.median).toBe(6);
    }
  });

  it('nft walk (the IR interpreter) reaches the endpoint numgen picks, first or last', () => {
    const sps = many(3);
    const rs = compileKubeProxyNft(sps, testOptions);
    const last = nftRulesPerConnection(rs, sps, testOptions.clusterCIDRs, { endpoint: 'last' });
    expect(last.worst).toBe(6);
    const pkt = { family: 'ip' as const, src: '10.0.0.7', dst: '172.30.0.2', proto: 'tcp' as const, dport: 80 };
    expect(walkNft(rs, pkt, { endpoint: 'first' })).toEqual({ rules: 6, dnat: '10.200.0.1:8080' });
    expect(walkNft(rs, pkt, { endpoint: 'last' })).toEqual({ rules: 6, dnat: '10.201.0.1:8080' });
    // Not a service: jump services, @service-ips miss, the nodeport rule; no DNAT. Only the nat
    // prerouting span counts: kube-proxy's filter-prerouting (jump firewall-check, its vmap) does not.
    expect(walkNft(rs, { ...pkt, dst: '172.30.9.9' })).toEqual({ rules: 3 });
  });

  it('nftproxy: the same small number of rules for every service, whatever the cluster size', () => {
    const perSize = [10, 200].map((n) => {
      const sps = many(n);
      const rs = compile({ servicePorts: sps, node: { addresses: testOptions.nodeIPs }, problems: [], conflicts: [] }, testOptions);
      return nftRulesPerConnection(rs, sps, testOptions.clusterCIDRs);
    });
    for (const s of perSize) {
      expect(s.notDnated).toBe(0);
      expect(s.worst).toBe(s.median);
      expect(s.worst).toBeGreaterThan(0);
      expect(s.worst).toBeLessThan(12);
    }
    expect(perSize[0]?.worst).toBe(perSize[1]?.worst);
  });
});

describe('object counts', () => {
  it('counts the restore text', () => {
    const sps = [svcPort({ name: 'svc1', clusterIP: '10.20.30.41', endpoints: [ep('10.180.0.1', 80)] })];
    const c = countIptables(compileIptables(sps, { ...testOptions, includeJumps: false }));
    // filter: 6 chains, 4 rules; nat: 4 top-level + SVC + SEP chains, 4 + 1 + 2 + 2 + 1 rules.
    expect(c).toEqual({ tables: 2, chains: 12, rules: 14, sets: 0, maps: 0, elements: 0 });
  });
  it('counts the IR', () => {
    const c = countNft(compileKubeProxyNft(many(5), testOptions));
    expect(c.tables).toBe(1);
    expect(c.maps).toBe(5);
    expect(c.sets).toBe(1);
    // 5 cluster-ips + 5 service-ips elements
    expect(c.elements).toBe(10);
    // 8 base + 6 jump targets + mark-for-masquerade + reject-chain + 5 × (service + 2 endpoints)
    expect(c.chains).toBe(8 + 6 + 2 + 15);
  });
});

describeAsRoot(NEEDS_ROOT.iptablesSave)('iptables object counts agree with what the kernel holds', () => {
  it('iptables: rules and chains listed by iptables-legacy-save', () => {
    const text = compileIptables(sampleCluster(), testOptions);
    const r = inNewNetns('iptables-legacy-restore --noflush < "$D/r" && iptables-legacy-save', { r: text });
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    const builtin = /^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /;
    const c = countIptables(text);
    expect(c.rules).toBe(lines.filter((l) => l.startsWith('-A ')).length);
    expect(c.chains).toBe(lines.filter((l) => l.startsWith(':') && !builtin.test(l)).length);
    expect(c.tables).toBe(lines.filter((l) => l.startsWith('*')).length);
  });
});

describeInNetns('nft object counts agree with what the kernel holds', () => {
  it('nft: chains, rules, sets, maps and elements listed by nft -j', () => {
    const rs = compileKubeProxyNft(sampleCluster(), testOptions);
    const r = inNewNetns('nft -j -f "$D/rs.json" && nft -j list ruleset', { 'rs.json': JSON.stringify(rulesetToJson(rs)) });
    expect(r.status).toBe(0);
    const items = (JSON.parse(r.stdout) as { nftables: Record<string, { elem?: unknown[] }>[] }).nftables;
    const kind = (k: string) => items.filter((i) => k in i);
    const c = countNft(rs);
    expect(c.chains).toBe(kind('chain').length);
    expect(c.rules).toBe(kind('rule').length);
    expect(c.sets).toBe(kind('set').length);
    expect(c.maps).toBe(kind('map').length);
    expect(c.elements).toBe([...kind('set'), ...kind('map')].reduce((n, i) => n + (Object.values(i)[0]!.elem?.length ?? 0), 0));
  });
});
