// `nftproxy trace` as a command: argument parsing, defaults, text and JSON output.

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAddressArg, traceCommand } from '../../runtime/cli/trace.js';
import type { Outcome, Packet, TraceEnv } from '../../ir/interpret.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/cluster.yaml', import.meta.url));

async function trace(...args: string[]): Promise<string> {
  let text = '';
  const cmd = traceCommand((s) => {
    text += s;
  });
  cmd.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  await cmd.parseAsync([EXAMPLE, '--cluster-cidr', '10.244.0.0/16', '--node-name', 'node-a', ...args], { from: 'user' });
  return text;
}

describe('parseAddressArg', () => {
  it('parses IPv4 and bracketed IPv6 with port and protocol', () => {
    expect(parseAddressArg('10.96.0.10:53/udp')).toEqual({ addr: '10.96.0.10', family: 'ip', port: 53, proto: 'udp' });
    expect(parseAddressArg('[FD00::1]:80/tcp')).toEqual({ addr: 'fd00::1', family: 'ip6', port: 80, proto: 'tcp' });
    expect(parseAddressArg('10.0.0.1')).toEqual({ addr: '10.0.0.1', family: 'ip' });
    expect(parseAddressArg('fd00::5')).toEqual({ addr: 'fd00::5', family: 'ip6' });
    expect(parseAddressArg('10.0.0.1:9999/SCTP')).toMatchObject({ proto: 'sctp' });
  });

  it('refuses what is not an address, a port out of range or an unknown protocol', () => {
    for (const bad of ['10.0.0.300:80', '10.0.0.1:0', '10.0.0.1:70000', '10.0.0.1:80/icmp', 'fd00::1:80:x', 'web:80']) expect(parseAddressArg(bad)).toBeUndefined();
  });
});

describe('trace command', () => {
  it('prints the path and the outcomes', async () => {
    const text = await trace('--src', '192.168.0.100', '--dst', '10.96.0.10:53/udp');
    expect(text.split('\n')[0]).toBe('packet 192.168.0.100:40000 -> 10.96.0.10:53/udp (ip), from outside the node');
    expect(text).toContain('# kube-system/kube-dns:dns cluster IP');
    expect(text).toMatch(/outcomes:\n {3}50\.0% {2}DNAT 10\.244\.0\.2:53 {3}masquerade: yes\n {3}50\.0% {2}DNAT 10\.244\.1\.3:53/);
  });

  it('--json gives packet, environment and outcomes; --src defaults to an external client', async () => {
    const parsed = JSON.parse(await trace('--dst', '192.168.0.1:30080', '--json')) as { packet: Packet; env: TraceEnv; outcomes: Outcome[] };
    expect(parsed.packet).toMatchObject({ src: '192.0.2.100', dst: '192.168.0.1', proto: 'tcp', dport: 30080 });
    expect(parsed.env).toMatchObject({ sourceIsLocal: false });
    expect(parsed.env.localAddresses).toContain('192.168.0.1');
    expect(parsed.outcomes.map((o) => o.dnat?.addr)).toEqual(['10.244.0.5', '10.244.1.6', '10.244.1.7']);
    expect(parsed.outcomes.every((o) => o.masquerade)).toBe(true);
  });

  it('--from-node uses the node address from the Node object (or --node-ip) as source', async () => {
    const parsed = JSON.parse(await trace('--dst', '10.96.0.20:80', '--from-node', '--json')) as { packet: Packet; env: TraceEnv };
    expect(parsed.packet.src).toBe('192.168.0.1');
    expect(parsed.env.sourceIsLocal).toBe(true);
    const withIp = JSON.parse(await trace('--dst', '10.96.0.20:80', '--from-node', '--node-ip', '192.168.0.9', '--json')) as { packet: Packet };
    expect(withIp.packet.src).toBe('192.168.0.9');
  });

  it('IPv6 destinations', async () => {
    const text = await trace('--src', 'fd00:10:244::99', '--dst', '[fd00:10:96::50]:80/tcp', '--max-branches', '0');
    expect(text).toContain('DNAT [fd00:10:244::11]:8080');
    expect(text).toContain('... 2 more branches');
  });

  it('refuses a destination without port, and mixed families', async () => {
    await expect(trace('--dst', '10.96.0.20')).rejects.toThrow(/--dst expects/);
    await expect(trace('--src', 'fd00::1', '--dst', '10.96.0.20:80')).rejects.toThrow(/different IP families/);
    await expect(trace('--src', '10.0.0.1', '--dst', '[fd00:10:96::50]:80', '--from-node')).rejects.toThrow(/different IP families/);
    await expect(trace('--dst', '[fd00:10:96::50]:80', '--from-node')).rejects.toThrow(/--from-node needs the node's IPv6 address/);
  });
});
