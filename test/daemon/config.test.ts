import { describe, expect, it } from 'vitest';
import { ConfigError, decodeConfigFile, parseDuration, resolveConfig, type RunFlags } from '../../runtime/daemon/config.js';

const FILE = `
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
nodePortAddresses: [192.168.0.0/24]
hostnameOverride: from-file
healthzBindAddress: 0.0.0.0:10256
metricsBindAddress: 0.0.0.0:10249
nftables:
  masqueradeAll: true
  masqueradeBit: 12
  minSyncPeriod: 500ms
  syncPeriod: 1h0m0s
`;

const files = (text: string) => (p: string) => {
  if (p === 'kp.yaml') return text;
  throw Object.assign(new Error('nope'), { code: 'ENOENT' });
};
const env = (text = FILE) => ({ readFile: files(text), addresses: () => ['192.168.0.1', '10.0.0.1', 'fd00::1'] });

function bad(flags: RunFlags, text = FILE): string {
  try {
    resolveConfig(flags, env(text));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('parseDuration', () => {
  it('reads Go durations', () => {
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('1h0m0s')).toBe(3_600_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('1')).toBeUndefined();
    expect(parseDuration('s')).toBeUndefined();
    expect(parseDuration('1x')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});

describe('resolveConfig', () => {
  it("has kube-proxy's nftables-mode defaults (nodeport addresses: primary)", () => {
    const c = resolveConfig({ hostnameOverride: 'n1' }, env());
    expect(c).toMatchObject({
      nodeName: 'n1',
      healthzBindAddress: '0.0.0.0:10256',
      metricsBindAddress: '127.0.0.1:10249',
      minSyncPeriodMs: 1000,
      syncPeriodMs: 3_600_000,
      applier: 'auto',
      warnings: [],
    });
    expect(c.compile).toMatchObject({
      tableName: 'nftproxy',
      masqueradeBit: 14,
      masqueradeAll: false,
      nodeName: 'n1',
      clusterCIDRs: [],
      serviceCIDRs: [],
      nodePortAddresses: ['primary'],
      detectLocalMode: 'ClusterCIDR',
      // CIDRs are matched against the node's interface addresses.
      nodeIPs: ['192.168.0.1', '10.0.0.1', 'fd00::1'],
    });
  });

  it('reads a KubeProxyConfiguration file; nftables.masqueradeAll is the field of this mode', () => {
    const c = resolveConfig({ config: 'kp.yaml' }, env());
    expect(c.nodeName).toBe('from-file');
    expect(c.minSyncPeriodMs).toBe(500);
    expect(c.syncPeriodMs).toBe(3_600_000);
    expect(c.metricsBindAddress).toBe('0.0.0.0:10249');
    expect(c.warnings).toEqual([]);
    expect(c.compile).toMatchObject({
      clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
      nodePortAddresses: ['192.168.0.0/24'],
      masqueradeAll: true,
      masqueradeBit: 12,
    });
    // The top-level field nftproxy 0.1 read is still accepted.
    expect(resolveConfig({ config: 'kp.yaml' }, env(FILE.replace('  masqueradeAll: true\n', '').replace('mode: nftables', 'mode: nftables\nmasqueradeAll: true'))).compile.masqueradeAll).toBe(true);
  });

  it('flags override the file', () => {
    const c = resolveConfig(
      { config: 'kp.yaml', hostnameOverride: 'flag-node', clusterCidr: ['10.0.0.0/8'], minSyncPeriod: '2s', table: 'kp', applier: 'cli', metricsBindAddress: '' },
      env(),
    );
    expect(c.nodeName).toBe('flag-node');
    expect(c.compile.clusterCIDRs).toEqual(['10.0.0.0/8']);
    expect(c.compile.tableName).toBe('kp');
    expect(c.minSyncPeriodMs).toBe(2000);
    expect(c.applier).toBe('cli');
    expect(c.metricsBindAddress).toBe('');
  });

  it('list flags take comma-separated and repeated values alike, as kube-proxy\'s string slices', () => {
    const a = resolveConfig({ clusterCidr: ['10.244.0.0/16,fd00:10:244::/56'], serviceCidr: ['10.96.0.0/16', 'fd00:10:96::/112'], nodeportAddresses: ['primary,10.0.0.0/8'] }, env());
    const b = resolveConfig({ clusterCidr: ['10.244.0.0/16', 'fd00:10:244::/56'], serviceCidr: ['10.96.0.0/16,fd00:10:96::/112'], nodeportAddresses: ['primary', '10.0.0.0/8'] }, env());
    expect(a.compile).toEqual(b.compile);
    expect(a.compile.clusterCIDRs).toEqual(['10.244.0.0/16', 'fd00:10:244::/56']);
    expect(a.compile.serviceCIDRs).toEqual(['10.96.0.0/16', 'fd00:10:96::/112']);
    expect(a.compile.nodePortAddresses).toEqual(['primary', '10.0.0.0/8']);
    expect(resolveConfig({ nodeportAddresses: ['all'] }, env()).compile.nodePortAddresses).toEqual(['0.0.0.0/0', '::/0']);
    // An empty list is unset, as in kube-proxy: the default.
    expect(resolveConfig({ config: 'kp.yaml' }, env(FILE.replace('[192.168.0.0/24]', '[]'))).compile.nodePortAddresses).toEqual(['primary']);
    expect(resolveConfig({ config: 'kp.yaml' }, env(FILE.replace('[192.168.0.0/24]', '[primary, "fd00::/64"]'))).compile.nodePortAddresses).toEqual(['primary', 'fd00::/64']);
  });

  it('detect-local modes, from flags and from the file', () => {
    expect(resolveConfig({ detectLocalMode: 'NodeCIDR' }, env()).compile.detectLocalMode).toBe('NodeCIDR');
    expect(resolveConfig({ detectLocalMode: 'BridgeInterface', podBridgeInterface: 'cbr0' }, env()).compile).toMatchObject({ detectLocalMode: 'BridgeInterface', podBridgeInterface: 'cbr0' });
    expect(resolveConfig({ detectLocalMode: 'InterfaceNamePrefix', podInterfaceNamePrefix: 'veth' }, env()).compile).toMatchObject({ detectLocalMode: 'InterfaceNamePrefix', podInterfaceNamePrefix: 'veth' });
    const file = FILE + 'detectLocalMode: BridgeInterface\ndetectLocal:\n  bridgeInterface: cni0\n  interfaceNamePrefix: ""\n';
    expect(resolveConfig({ config: 'kp.yaml' }, env(file)).compile).toMatchObject({ detectLocalMode: 'BridgeInterface', podBridgeInterface: 'cni0' });
    expect(resolveConfig({ config: 'kp.yaml' }, env(FILE + 'detectLocalMode: ""\n')).compile.detectLocalMode).toBe('ClusterCIDR');
  });

  it('values we cannot honour are errors naming the field and the reason (exit 2 in `run`)', () => {
    expect(bad({ clusterCidr: ['10.0.0.0/33'] })).toMatch(/^--cluster-cidr: .*10\.0\.0\.0\/33/);
    expect(bad({ healthzBindAddress: 'localhost' })).toMatch(/--healthz-bind-address: expected host:port/);
    expect(bad({ applier: 'magic' })).toMatch(/--applier: expected auto, cli or lib/);
    expect(bad({ minSyncPeriod: 'soon' })).toMatch(/--min-sync-period: expected a duration/);
    expect(bad({ proxyMode: 'ipvs' })).toMatch(/--proxy-mode: nftproxy implements mode "nftables" only/);
    expect(bad({ detectLocalMode: 'Magic' })).toMatch(/--detect-local-mode: unsupported detect-local mode "Magic"/);
    expect(bad({ detectLocalMode: 'BridgeInterface' })).toMatch(/--detect-local-mode: BridgeInterface needs --pod-bridge-interface/);
    expect(bad({ nodeportAddresses: ['localhost'] })).toMatch(/--nodeport-addresses: "localhost" is not supported/);
    expect(bad({ config: 'missing.yaml' })).toMatch(/missing\.yaml: cannot read \(ENOENT\)/);
    expect(bad({ config: 'kp.yaml' }, FILE.replace('mode: nftables', 'mode: ipvs'))).toMatch(/kp\.yaml: mode: nftproxy implements mode "nftables" only/);
    expect(bad({ config: 'kp.yaml' }, FILE + 'detectLocalMode: InterfaceNamePrefix\n')).toMatch(/^detectLocalMode: InterfaceNamePrefix needs detectLocal\.interfaceNamePrefix/);
    expect(bad({ config: 'kp.yaml' }, FILE + 'detectLocalMode: Bogus\n')).toMatch(/kp\.yaml: detectLocalMode: unsupported detect-local mode "Bogus"/);
    expect(bad({ config: 'kp.yaml' }, FILE.replace('syncPeriod: 1h0m0s', 'syncPeriod: forever'))).toMatch(/kp\.yaml: nftables\.syncPeriod: expected a duration/);
    expect(bad({ config: 'kp.yaml' }, FILE.replace('kind: KubeProxyConfiguration', 'kind: ConfigMap'))).toMatch(/kind: expected kind KubeProxyConfiguration/);
    expect(bad({ config: 'kp.yaml' }, FILE.replace('masqueradeBit: 12', 'masqueradeBit: 40'))).toMatch(/nftables\.masqueradeBit: expected a bit number 0\.\.31/);
    expect(bad({ config: 'kp.yaml' }, FILE.replace('[192.168.0.0/24]', '[localhost]'))).toMatch(/kp\.yaml: nodePortAddresses: "localhost" is not supported/);
    expect(bad({ config: 'kp.yaml' }, 'a: [')).toMatch(/not valid YAML/);
    expect(bad({ minSyncPeriod: '2h' })).toMatch(/minSyncPeriod .* must not exceed syncPeriod/);
  });

  it('fields and flags we do not implement are start-up warnings naming them; zero values are not "set"', () => {
    const text = `${FILE}
oomScoreAdj: -999
bindAddress: 0.0.0.0
enableProfiling: false
featureGates: {}
clientConnection: { kubeconfig: /k, qps: 5, burst: 10, contentType: "" }
conntrack: { maxPerCore: 32768, min: 131072, tcpBeLiberal: false }
iptables: { masqueradeBit: 14, syncPeriod: 30s }
ipvs: { excludeCIDRs: [] }
configSyncPeriod: 15m0s
`;
    const c = resolveConfig({ config: 'kp.yaml', oomScoreAdj: ['-999'], v: ['2'] }, env(text));
    expect(c.kubeconfig).toBe('/k');
    expect(c.warnings).toEqual([
      'kp.yaml: oomScoreAdj is not implemented by nftproxy and is ignored: set the process\'s OOM score in the pod spec',
      'kp.yaml: bindAddress is not implemented by nftproxy and is ignored: the node\'s primary IPs come from the Node object',
      'kp.yaml: clientConnection.qps is not implemented by nftproxy and is ignored: client rate limits are not implemented',
      'kp.yaml: clientConnection.burst is not implemented by nftproxy and is ignored: client rate limits are not implemented',
      'kp.yaml: conntrack.maxPerCore is not implemented by nftproxy and is ignored: nftproxy does not tune conntrack sysctls',
      'kp.yaml: conntrack.min is not implemented by nftproxy and is ignored: nftproxy does not tune conntrack sysctls',
      'kp.yaml: iptables.masqueradeBit is not implemented by nftproxy and is ignored: applies to another proxy mode',
      'kp.yaml: iptables.syncPeriod is not implemented by nftproxy and is ignored: applies to another proxy mode',
      'kp.yaml: configSyncPeriod is not implemented by nftproxy and is ignored: watches are never resynced on a timer; nftables.syncPeriod resyncs the kernel',
      'flag --oom-score-adj is not implemented by nftproxy and is ignored: set the process\'s OOM score in the pod spec',
      'flag --v is not implemented by nftproxy and is ignored: use --log-level',
    ]);
  });

  it("unknown fields are reported as kube-proxy's strict decoder reports them, then decoded leniently", () => {
    const { file, warnings } = decodeConfigFile(`${FILE.replace('  masqueradeBit: 12', '  masqueradeBit: 12\n  localhostNodePorts: true')}resourceContainer: /kube-proxy\nconntrack: { max: 0 }\n`, 'kp.yaml');
    expect(warnings).toEqual([
      'kp.yaml: using lenient decoding as strict decoding failed: strict decoding error: unknown field "nftables.localhostNodePorts", unknown field "resourceContainer", unknown field "conntrack.max"',
    ]);
    expect(file.nftables?.masqueradeBit).toBe(12);
  });
});
