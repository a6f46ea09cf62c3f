import { describe, expect, it } from 'vitest';
import { ConfigError, parseDuration, resolveConfig } from '../../runtime/daemon/config.js';

const FILE = `
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
nodePortAddresses: [192.168.0.0/24]
masqueradeAll: true
hostnameOverride: from-file
healthzBindAddress: 0.0.0.0:10256
metricsBindAddress: 0.0.0.0:10249
iptables: { masqueradeBit: 14 }
nftables:
  masqueradeBit: 12
  minSyncPeriod: 500ms
  syncPeriod: 1h0m0s
`;

const files = (text: string) => (p: string) => {
  if (p === 'kp.yaml') return text;
  throw Object.assign(new Error('nope'), { code: 'ENOENT' });
};

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
  it('has kube-proxy defaults', () => {
    const c = resolveConfig({ hostnameOverride: 'n1' });
    expect(c).toMatchObject({
      nodeName: 'n1',
      healthzBindAddress: '0.0.0.0:10256',
      metricsBindAddress: '127.0.0.1:10249',
      minSyncPeriodMs: 1000,
      syncPeriodMs: 3_600_000,
      applier: 'auto',
    });
    expect(c.compile).toMatchObject({ tableName: 'nftproxy', masqueradeBit: 14, masqueradeAll: false, nodeName: 'n1', clusterCIDRs: [] });
  });

  it('reads a KubeProxyConfiguration file', () => {
    const c = resolveConfig({ config: 'kp.yaml' }, files(FILE));
    expect(c.nodeName).toBe('from-file');
    expect(c.minSyncPeriodMs).toBe(500);
    expect(c.syncPeriodMs).toBe(3_600_000);
    expect(c.metricsBindAddress).toBe('0.0.0.0:10249');
    expect(c.compile).toMatchObject({
      clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
      nodePortAddresses: ['192.168.0.0/24'],
      masqueradeAll: true,
      masqueradeBit: 12,
    });
  });

  it('flags override the file', () => {
    const c = resolveConfig(
      { config: 'kp.yaml', hostnameOverride: 'flag-node', clusterCidr: '10.0.0.0/8', masqueradeAll: false, minSyncPeriod: '2s', table: 'kp', applier: 'cli', metricsBindAddress: '' },
      files(FILE),
    );
    expect(c.nodeName).toBe('flag-node');
    expect(c.compile.clusterCIDRs).toEqual(['10.0.0.0/8']);
    expect(c.compile.masqueradeAll).toBe(false);
    expect(c.compile.tableName).toBe('kp');
    expect(c.minSyncPeriodMs).toBe(2000);
    expect(c.applier).toBe('cli');
    expect(c.metricsBindAddress).toBe('');
  });

  it('rejects bad input with messages naming the field', () => {
    const bad = (flags: Parameters<typeof resolveConfig>[0], text = FILE): string => {
      try {
        resolveConfig(flags, files(text));
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ clusterCidr: '10.0.0.0/33' })).toMatch(/--cluster-cidr.*10\.0\.0\.0\/33/);
    expect(bad({ healthzBindAddress: 'localhost' })).toMatch(/--healthz-bind-address: expected host:port/);
    expect(bad({ applier: 'magic' })).toMatch(/--applier: expected auto, cli or lib/);
    expect(bad({ minSyncPeriod: 'soon' })).toMatch(/--min-sync-period: expected a duration/);
    expect(bad({ config: 'missing.yaml' })).toMatch(/missing\.yaml: cannot read \(ENOENT\)/);
    expect(bad({ config: 'kp.yaml' }, FILE.replace('mode: nftables', 'mode: iptables'))).toMatch(/kp\.yaml: mode: nftproxy implements mode "nftables" only/);
    expect(bad({ config: 'kp.yaml' }, FILE.replace('syncPeriod: 1h0m0s', 'syncPeriod: forever'))).toMatch(/kp\.yaml: nftables\.syncPeriod: expected a duration/);
    expect(bad({ config: 'kp.yaml' }, FILE.replace('kind: KubeProxyConfiguration', 'kind: ConfigMap'))).toMatch(/kind: expected kind KubeProxyConfiguration/);
    expect(bad({ config: 'kp.yaml' }, FILE.replace('masqueradeBit: 12', 'masqueradeBit: 40'))).toMatch(/nftables\.masqueradeBit/);
    expect(bad({ config: 'kp.yaml' }, 'a: [')).toMatch(/not valid YAML/);
    expect(bad({ minSyncPeriod: '2h' })).toMatch(/minSyncPeriod .* must not exceed syncPeriod/);
  });
});
