// KERNEL: what we emit loads into real netfilter (legacy and nft backends) in a private network
// namespace, and `iptables-save` shows the rules kube-proxy would have.

import { describe, expect, it } from 'vitest';
import { compileIptables, compileIptablesPartial } from '../../compiler/iptables/restore.js';
import { iptablesEndpointChain, iptablesServiceChain } from '../../compiler/iptables/names.js';
import { ep, sampleCluster, svcPort, testOptions } from './fixtures.js';
import { describeAsRoot, NEEDS_ROOT } from '../harness/privileges.js';
import { inNewNetns, normaliseSave } from './unshare.js';

const opts = { ...testOptions };

function loadAndSave(backend: 'legacy' | 'nft', files: Record<string, string>, order: string[], v6 = false): string[] {
  const restore = `${v6 ? 'ip6' : 'ip'}tables-${backend}-restore`;
  const save = `${v6 ? 'ip6' : 'ip'}tables-${backend}-save`;
  const script = [...order.map((f) => `${restore} --noflush < "$D/${f}"`), save].join('\n');
  const r = inNewNetns(script, files);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return normaliseSave(r.stdout);
}

describeAsRoot(NEEDS_ROOT.iptablesSave)('iptables baseline in the kernel', () => {
  const full = compileIptables(sampleCluster(), opts);
  const svc1 = svcPort({ name: 'svc1', clusterIP: '172.30.0.41' });
  const svc1Chain = iptablesServiceChain('KUBE-SVC-', svc1);
  const sep = (ip: string) => iptablesEndpointChain(svc1, ep(ip, 80));

  it('iptables-legacy-restore --noflush loads it; iptables-legacy-save shows kube-proxy’s rules in order', () => {
    const saved = loadAndSave('legacy', { full }, ['full']);
    const chain = (name: string) => saved.filter((l) => l.startsWith(`-A ${name} `));
    expect(chain(svc1Chain)).toEqual([
      `-A ${svc1Chain} ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
      `-A ${svc1Chain} -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.33333333349 -j ${sep('10.180.0.1')}`,
      `-A ${svc1Chain} -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -m statistic --mode random --probability 0.50000000000 -j ${sep('10.180.0.2')}`,
      `-A ${svc1Chain} -m comment --comment "ns1/svc1:p80 -> 10.180.0.3:80" -j ${sep('10.180.0.3')}`,
    ]);
    expect(chain(sep('10.180.0.2'))).toEqual([
      `-A ${sep('10.180.0.2')} -s 10.180.0.2/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ`,
      `-A ${sep('10.180.0.2')} -p tcp -m comment --comment "ns1/svc1:p80" -m tcp -j DNAT --to-destination 10.180.0.2:80`,
    ]);
    expect(chain('KUBE-MARK-MASQ')).toEqual(['-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000']);
    expect(chain('KUBE-POSTROUTING')).toEqual([
      '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
      '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    ]);
    // nat KUBE-SERVICES: services in input order, the NodePorts jump last.
    const natStart = saved.indexOf('*nat');
    const natServices = saved.slice(natStart, saved.indexOf('COMMIT', natStart)).filter((l) => l.startsWith('-A KUBE-SERVICES '));
    expect(natServices.map((l) => /--comment "([^"]+)"/.exec(l)?.[1])).toEqual([
      'ns1/svc1:p80 cluster IP',
      'ns1/svc3:dns cluster IP',
      'ns1/svc4:p80 cluster IP',
      'ns1/svc4:p80 external IP',
      'ns1/svc4:p80 loadbalancer IP',
      // svc5 (internalTrafficPolicy Local, no local endpoint) is a DROP in filter KUBE-SERVICES.
      'kubernetes service nodeports; NOTE: this must be the last rule in this chain',
    ]);
    expect(saved).toContain(
      '-A KUBE-SERVICES -d 172.30.0.42/32 -p tcp -m comment --comment "ns1/svc2:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    );
    expect(saved).toContain('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    expect(saved.filter((l) => l.startsWith('-A INPUT '))).toEqual([
      '-A INPUT -j KUBE-FIREWALL',
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    ]);
  });

  it('iptables-nft-restore --noflush loads the same text and shows the same rules', () => {
    const legacy = loadAndSave('legacy', { full }, ['full']);
    const nft = loadAndSave('nft', { full }, ['full']);
    const rules = (lines: string[]) => lines.filter((l) => l.startsWith('-A ')).sort();
    expect(rules(nft)).toEqual(rules(legacy));
  });

  it('ip6tables-legacy-restore loads the IPv6 output', () => {
    const sps = [
      svcPort({ name: 'v6', family: 6, clusterIP: 'fd00:30::41', nodePort: 30006, endpoints: [ep('fd00:10::5', 80), ep('fd00:10::6', 80)] }),
      svcPort({ name: 'v6none', family: 6, clusterIP: 'fd00:30::42', endpoints: [] }),
    ];
    const saved = loadAndSave('legacy', { v6: compileIptables(sps, opts, 6) }, ['v6'], true);
    expect(saved.some((l) => l.includes('-j DNAT --to-destination [fd00:10::6]:80'))).toBe(true);
    expect(saved.some((l) => l.includes('"ns1/v6none:p80 has no endpoints"') && l.includes('-j REJECT'))).toBe(true);
  });

  it('full(before) + partial(before→after) leaves exactly what full(after) leaves', () => {
    const before = sampleCluster();
    const after = sampleCluster().filter((s) => s.name !== 'svc3');
    after[0] = svcPort({ name: 'svc1', clusterIP: '172.30.0.41', endpoints: [ep('10.180.0.1', 80), ep('10.180.0.7', 80)] });
    after.push(svcPort({ name: 'svc6', clusterIP: '172.30.0.46', nodePort: 30066, endpoints: [ep('10.180.3.3', 80)] }));
    const files = {
      before: compileIptables(before, opts),
      partial: compileIptablesPartial(before, after, opts),
      after: compileIptables(after, opts),
    };
    for (const backend of ['legacy', 'nft'] as const) {
      const incremental = loadAndSave(backend, files, ['before', 'partial']);
      const fresh = loadAndSave(backend, files, ['after']);
      expect(incremental).toEqual(fresh);
    }
  });
});
