import { describe, expect, it } from 'vitest';
import { compileIptables, compileIptablesPartial, iptablesJumpsRestore } from '../../compiler/iptables/restore.js';
import { iptablesEndpointChain, iptablesServiceChain, servicePortName } from '../../compiler/iptables/names.js';
import { goFixed, kubeProxyProbability } from '../../compiler/iptables/probability.js';
import { goMarkString } from '../../compiler/iptables/plan.js';
import { ep, sampleCluster, svcPort, testOptions } from './fixtures.js';

describe('kube-proxy chain names', () => {
  it('hashes exactly the strings kube-proxy hashes (values from kube-proxy proxier_test.go)', () => {
    const sp = svcPort({ name: 'svc1', clusterIP: '10.20.30.41' });
    expect(iptablesServiceChain('KUBE-SVC-', sp)).toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(iptablesEndpointChain(sp, ep('10.180.0.1', 80))).toBe('KUBE-SEP-SXIVWICOYRO3J4NJ');
  });
  it('drops the colon for an unnamed port, like ServicePortName.String()', () => {
    expect(servicePortName({ namespace: 'ns', name: 'web', portName: '' })).toBe('ns/web');
    expect(servicePortName({ namespace: 'ns', name: 'web', portName: 'http' })).toBe('ns/web:http');
  });
});

describe('numbers formatted as Go formats them', () => {
  it('prints probabilities with %0.10f and rounds ties to even like Go', () => {
    expect(kubeProxyProbability(3)).toBe('0.3333333333');
    expect(kubeProxyProbability(2)).toBe('0.5000000000');
    expect(kubeProxyProbability(7)).toBe('0.1428571429');
    // 1/2048 = 0.00048828125 exactly: Go prints ...812 (half-to-even), toFixed would print ...813.
    expect(kubeProxyProbability(2048)).toBe('0.0004882812');
    expect(goFixed(0.125, 2)).toBe('0.12');
  });
  it('writes the mark as fmt.Sprintf("%#08x")', () => {
    expect(goMarkString(14)).toBe('0x00004000');
    expect(goMarkString(0)).toBe('0x00000001');
  });
});

describe('compileIptables golden output', () => {
  it('writes the single-service ruleset kube-proxy writes, line by line', () => {
    const sps = [svcPort({ name: 'svc1', clusterIP: '10.20.30.41', endpoints: [ep('10.180.0.1', 80)] })];
    const out = compileIptables(sps, { ...testOptions, clusterCIDRs: ['10.0.0.0/24'], includeJumps: false });
    const expected = [
      '*filter',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-EXTERNAL-SERVICES - [0:0]',
      ':KUBE-FORWARD - [0:0]',
      ':KUBE-NODEPORTS - [0:0]',
      ':KUBE-PROXY-FIREWALL - [0:0]',
      ':KUBE-FIREWALL - [0:0]',
      '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT',
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      'COMMIT',
      '*nat',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-NODEPORTS - [0:0]',
      ':KUBE-POSTROUTING - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
      ':KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]',
      ':KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]',
      '-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN',
      '-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000',
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
      '-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000',
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 10.20.30.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 10.20.30.41 --dport 80 ! -s 10.0.0.0/24 -j KUBE-MARK-MASQ',
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ',
      '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ',
      '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80',
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
      'COMMIT',
    ];
    expect(out.split('\n').slice(0, -1)).toEqual(expected);
  });

  it('writes no-endpoint REJECT, ETP Local short-circuit, firewall, affinity and ITP Local drop as kube-proxy does', () => {
    const out = compileIptables(sampleCluster(), { ...testOptions, includeJumps: false });
    const lines = out.split('\n');
    const svc4 = svcPort({ name: 'svc4', clusterIP: '172.30.0.44' });
    const ext = iptablesServiceChain('KUBE-EXT-', svc4);
    const fw = iptablesServiceChain('KUBE-FW-', svc4);
    const svc = iptablesServiceChain('KUBE-SVC-', svc4);
    const svl = iptablesServiceChain('KUBE-SVL-', svc4);
    const sepLocal = iptablesEndpointChain(svc4, ep('10.180.0.4', 8080));
    const must = [
      '-A KUBE-SERVICES -m comment --comment "ns1/svc2:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j REJECT',
      '-A KUBE-SERVICES -m comment --comment "ns1/svc5:p80 has no local endpoints" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j DROP',
      `-A KUBE-PROXY-FIREWALL -m comment --comment "ns1/svc4:p80 traffic not accepted by ${fw}" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP`,
      '-A KUBE-NODEPORTS -m comment --comment "ns1/svc4:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT',
      `-A KUBE-SERVICES -m comment --comment "ns1/svc4:p80 external IP" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j ${ext}`,
      `-A KUBE-SERVICES -m comment --comment "ns1/svc4:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j ${fw}`,
      `-A KUBE-NODEPORTS -m comment --comment ns1/svc4:p80 -m tcp -p tcp --dport 30004 -j ${ext}`,
      `-A ${ext} -m comment --comment "pod traffic for ns1/svc4:p80 external destinations" -s 10.0.0.0/8 -j ${svc}`,
      `-A ${ext} -m comment --comment "masquerade LOCAL traffic for ns1/svc4:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
      `-A ${ext} -m comment --comment "route LOCAL traffic for ns1/svc4:p80 external destinations" -m addrtype --src-type LOCAL -j ${svc}`,
      `-A ${ext} -j ${svl}`,
      `-A ${fw} -m comment --comment "ns1/svc4:p80 loadbalancer IP" -s 203.0.113.0/25 -j ${ext}`,
      `-A ${fw} -m comment --comment "other traffic to ns1/svc4:p80 will be dropped by KUBE-PROXY-FIREWALL"`,
      `-A ${svl} -m comment --comment "ns1/svc4:p80 -> 10.180.0.4:8080" -m recent --name ${sepLocal} --rcheck --seconds 10800 --reap -j ${sepLocal}`,
      `-A ${svl} -m comment --comment "ns1/svc4:p80 -> 10.180.0.4:8080" -j ${sepLocal}`,
      `-A ${sepLocal} -m comment --comment ns1/svc4:p80 -m recent --name ${sepLocal} --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:8080`,
      '-A KUBE-NODEPORTS -m comment --comment ns1/svc3:dns -m udp -p udp --dport 30053 -j KUBE-EXT-' + iptablesServiceChain('KUBE-EXT-', svcPort({ name: 'svc3', portName: 'dns', protocol: 'udp', clusterIP: 'x' })).slice(9),
    ];
    for (const line of must) expect(lines).toContain(line);
    // The probabilities for three endpoints, in endpoint order.
    const svc1 = svcPort({ name: 'svc1', clusterIP: '172.30.0.41' });
    const svc1Chain = iptablesServiceChain('KUBE-SVC-', svc1);
    const svc1Rules = lines.filter((l) => l.startsWith(`-A ${svc1Chain} `) && l.includes(' -> '));
    expect(svc1Rules).toEqual([
      `-A ${svc1Chain} -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.3333333333 -j ${iptablesEndpointChain(svc1, ep('10.180.0.1', 80))}`,
      `-A ${svc1Chain} -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -m statistic --mode random --probability 0.5000000000 -j ${iptablesEndpointChain(svc1, ep('10.180.0.2', 80))}`,
      `-A ${svc1Chain} -m comment --comment "ns1/svc1:p80 -> 10.180.0.3:80" -j ${iptablesEndpointChain(svc1, ep('10.180.0.3', 80))}`,
    ]);
    // The NodePorts jump is the last rule of nat KUBE-SERVICES.
    const natServices = lines.slice(lines.indexOf('*nat')).filter((l) => l.startsWith('-A KUBE-SERVICES '));
    expect(natServices.at(-1)).toContain('-j KUBE-NODEPORTS');
    // No chains at all for the service without endpoints.
    const svc2 = svcPort({ name: 'svc2', clusterIP: '172.30.0.42' });
    expect(out).not.toContain(iptablesServiceChain('KUBE-SVC-', svc2));
  });

  it('sorts endpoints by "ip:port" string as kube-proxy does, whatever the input order', () => {
    const sps = [svcPort({ name: 'svc1', clusterIP: '172.30.0.41', endpoints: [ep('10.180.0.10', 80), ep('10.180.0.9', 80), ep('10.180.0.1', 80)] })];
    const out = compileIptables(sps, { ...testOptions, includeJumps: false });
    const targets = out.split('\n').filter((l) => l.includes(' -> ')).map((l) => /-> ([\d.:]+)"/.exec(l)?.[1]);
    // Byte order of the strings: '0' (0x30) sorts before ':' (0x3a).
    expect(targets).toEqual(['10.180.0.10:80', '10.180.0.1:80', '10.180.0.9:80']);
  });

  it('drops per-endpoint comments in large-cluster mode (> 1000 endpoints)', () => {
    const eps = Array.from({ length: 1001 }, (_, i) => ep(`10.181.${i >> 8}.${i & 255}`, 80));
    const out = compileIptables([svcPort({ name: 'big', clusterIP: '172.30.1.1', endpoints: eps })], { ...testOptions, includeJumps: false });
    const sepRules = out.split('\n').filter((l) => l.startsWith('-A KUBE-SEP-'));
    expect(sepRules).toHaveLength(2002);
    expect(sepRules.every((l) => !l.includes('--comment'))).toBe(true);
    expect(out).toContain('"ns1/big:p80 cluster IP"');
  });

  it('writes IPv6 as kube-proxy does (bracketed endpoints, ::1 excluded from NodePorts, no KUBE-FIREWALL rule)', () => {
    const sps = [svcPort({ name: 'v6', family: 6, clusterIP: 'fd00:30::41', nodePort: 30006, endpoints: [ep('fd00:10::5', 80)] })];
    const out = compileIptables(sps, testOptions, 6);
    expect(out).toContain('-m comment --comment "ns1/v6:p80 -> [fd00:10::5]:80"');
    expect(out).toContain('-j DNAT --to-destination [fd00:10::5]:80');
    expect(out).toContain('! -s fd00:10::/64 -j KUBE-MARK-MASQ');
    expect(out).toContain('-m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS');
    expect(out).not.toContain('block incoming localnet connections');
  });

  it('restricts NodePorts to node IPs within --nodeport-addresses', () => {
    const sps = [svcPort({ name: 'svc1', clusterIP: '172.30.0.41', nodePort: 30001, endpoints: [ep('10.180.0.1', 80)] })];
    const out = compileIptables(sps, { ...testOptions, nodeIPs: ['192.168.0.2', '10.9.9.9'], nodePortAddresses: ['192.168.0.0/24'], includeJumps: false });
    expect(out).toContain('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.0.2 -j KUBE-NODEPORTS');
    expect(out).not.toContain('10.9.9.9');
    expect(out).not.toContain('block incoming localnet connections');
  });

  it('prepends the built-in chain jumps in kube-proxy order', () => {
    const jumps = iptablesJumpsRestore(4).split('\n');
    expect(jumps).toContain('-I PREROUTING 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    expect(jumps).toContain('-I FORWARD 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    expect(jumps).toContain('-I POSTROUTING 1 -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
  });
});

describe('compileIptablesPartial', () => {
  it('rewrites top-level chains, only changed service chains, and deletes stale chains', () => {
    const before = sampleCluster();
    const after = sampleCluster().filter((s) => s.name !== 'svc3');
    after[0] = svcPort({ name: 'svc1', clusterIP: '172.30.0.41', endpoints: [ep('10.180.0.1', 80), ep('10.180.0.2', 80)] });
    const partial = compileIptablesPartial(before, after, { ...testOptions });
    const svc1 = svcPort({ name: 'svc1', clusterIP: '172.30.0.41' });
    const svc3 = svcPort({ name: 'svc3', portName: 'dns', protocol: 'udp', clusterIP: '172.30.0.43' });
    const svc4 = svcPort({ name: 'svc4', clusterIP: '172.30.0.44' });
    const removedSep = iptablesEndpointChain(svc1, ep('10.180.0.3', 80));
    // Changed service: rewritten.
    expect(partial).toContain(`:${iptablesServiceChain('KUBE-SVC-', svc1)} - [0:0]`);
    // Unchanged service: its KUBE-SERVICES rule is there, its own chains are not rewritten.
    expect(partial).toContain('"ns1/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80');
    expect(partial).not.toContain(`:${iptablesServiceChain('KUBE-SVL-', svc4)} - [0:0]`);
    // Stale chains of the removed endpoint and the removed service are flushed and deleted.
    for (const stale of [removedSep, iptablesServiceChain('KUBE-SVC-', svc3), iptablesServiceChain('KUBE-EXT-', svc3)]) {
      expect(partial).toContain(`:${stale} - [0:0]`);
      expect(partial).toContain(`-X ${stale}`);
    }
    // Jumps from built-in chains are a full-sync-only thing.
    expect(partial).not.toContain('PREROUTING');
  });
});
