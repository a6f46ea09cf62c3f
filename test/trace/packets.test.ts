// `nftproxy trace --packets FILE`: many packets against one compile, one JSON result per line.
// Each result must be exactly what `trace --json` gives for the same packet on its own, and a bad
// line must cost only itself.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileText } from '../../compiler/index.js';
import { defaultCompileOptions } from '../../compiler/model/types.js';
import { readFileSync } from 'node:fs';
import { traceCommand } from '../../runtime/cli/trace.js';
import { parsePacketLine } from '../../runtime/cli/trace-packets.js';

const root = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(root, 'examples/cluster.yaml');
const work = mkdtempSync(path.join(tmpdir(), 'nfp-packets-'));
const FLAGS = ['--cluster-cidr', '10.244.0.0/16', '--node-name', 'node-a'];

async function trace(...args: string[]): Promise<{ text: string; error?: Error }> {
  let text = '';
  const cmd = traceCommand((s) => {
    text += s;
  });
  cmd.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  try {
    await cmd.parseAsync([EXAMPLE, ...FLAGS, ...args], { from: 'user' });
    return { text };
  } catch (error) {
    return { text, error: error as Error };
  }
}

const bracket = (a: string): string => (a.includes(':') ? `[${a}]` : a);

/** Every cluster IP, external IP and NodePort of the example, from outside and from the node, from a pod. */
function suite(): { src?: string; dst: string; fromNode?: boolean; id: string }[] {
  const { model } = compileText(readFileSync(EXAMPLE, 'utf8'), { ...defaultCompileOptions, clusterCIDRs: ['10.244.0.0/16'], nodeName: 'node-a' });
  const out: { src?: string; dst: string; fromNode?: boolean; id: string }[] = [];
  for (const sp of model.servicePorts) {
    const proto = sp.protocol.toLowerCase();
    const dsts = [...(sp.clusterIP ? [sp.clusterIP] : []), ...sp.externalIPs, ...sp.loadBalancerIPs].map((a) => `${bracket(a)}:${sp.port}/${proto}`);
    if (sp.nodePort !== undefined && sp.family === 4) dsts.push(`192.168.0.1:${sp.nodePort}/${proto}`);
    for (const dst of dsts) {
      const pod = sp.family === 4 ? '10.244.3.3' : 'fd00:10:244::33';
      out.push({ dst, id: `${sp.id} ${dst} outside` });
      out.push({ dst, src: `${pod}:5555`, id: `${sp.id} ${dst} pod` });
      if (sp.family === 4) out.push({ dst, fromNode: true, id: `${sp.id} ${dst} node` });
    }
  }
  return out;
}

describe('parsePacketLine', () => {
  it('reads the fields of the single-packet flags', () => {
    expect(parsePacketLine('{"dst":"10.96.0.10:53/udp"}')).toEqual({ request: { dst: { addr: '10.96.0.10', family: 'ip', port: 53, proto: 'udp' } } });
    expect(parsePacketLine('{"dst":"[fd00::1]:80/tcp","src":"fd00::9:1234","fromNode":true,"id":7}')).toEqual({
      id: 7,
      request: { dst: { addr: 'fd00::1', family: 'ip6', port: 80, proto: 'tcp' }, src: { addr: 'fd00::9:1234', family: 'ip6' }, fromNode: true },
    });
  });

  it('refuses a destination without port, a source with a protocol, unknown fields and non-JSON, naming the field', () => {
    expect(parsePacketLine('{"dst":"10.0.0.1","id":"x"}')).toMatchObject({ id: 'x', error: expect.stringMatching(/^dst: expects ADDR:PORT/) });
    expect(parsePacketLine('{"dst":"10.0.0.1:80","src":"10.0.0.2:1/udp"}').error).toMatch(/^src: /);
    expect(parsePacketLine('{"dst":"10.0.0.1:80","from_node":true}').error).toMatch(/from_node/);
    expect(parsePacketLine('{"dst":80}').error).toMatch(/^dst: /);
    expect(parsePacketLine('{dst: 1}').error).toMatch(/^not JSON/);
  });
});

describe('trace --packets', () => {
  it('gives, for every packet of a suite, the result trace --json gives for it alone', async () => {
    const packets = suite();
    expect(packets.length).toBeGreaterThan(30);
    const file = path.join(work, 'suite.jsonl');
    writeFileSync(file, '# the example, every service address\n' + packets.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const { text, error } = await trace('--packets', file);
    expect(error).toBeUndefined();
    const results = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(results.map((r) => r.id)).toEqual(packets.map((p) => p.id));
    expect(results.map((r) => r.line)).toEqual(packets.map((_, i) => i + 2));
    // Not a tautology: at least some packets are DNATed, some not, some masqueraded.
    const outcomes = results.flatMap((r) => r.outcomes as { dnat?: unknown; masquerade: boolean }[]);
    expect(outcomes.some((o) => o.dnat)).toBe(true);
    expect(outcomes.some((o) => !o.dnat)).toBe(true);
    expect(outcomes.some((o) => o.masquerade)).toBe(true);
    for (const [i, p] of packets.entries()) {
      if (i % 3 !== 0) continue; // a third of them, one compile each
      const args = ['--dst', p.dst, '--json', ...(p.src ? ['--src', p.src] : []), ...(p.fromNode ? ['--from-node'] : [])];
      const single = JSON.parse((await trace(...args)).text) as Record<string, unknown>;
      expect({ packet: results[i]?.packet, env: results[i]?.env, outcomes: results[i]?.outcomes }).toEqual(single);
    }
  });

  it('a bad line gets an error result and the others are still traced; the command then fails with exit 2', async () => {
    const file = path.join(work, 'mixed.jsonl');
    writeFileSync(file, ['{"dst":"10.96.0.10:53/udp","id":"ok"}', '{"dst":"10.96.0.10"}', '', 'nope', '{"dst":"[fd00:10:96::50]:80","src":"10.0.0.1"}', '{"dst":"10.96.0.20:80","id":"ok2"}'].join('\n'));
    const { text, error } = await trace('--packets', file);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { line: number; id?: string; error?: string; outcomes?: unknown[] });
    expect(lines.map((l) => l.line)).toEqual([1, 2, 4, 5, 6]);
    expect(lines[0]?.outcomes?.length).toBe(2);
    expect(lines[1]?.error).toMatch(/^dst: /);
    expect(lines[2]?.error).toMatch(/^not JSON/);
    expect(lines[3]?.error).toMatch(/different IP families/);
    expect(lines[4]).toMatchObject({ id: 'ok2' });
    expect(lines[4]?.outcomes?.length).toBeGreaterThan(0);
    expect(error?.message).toMatch(/^3 packet lines of .* could not be traced/);
  });

  it('refuses --packets with the single-packet flags, and a trace without --dst or --packets', async () => {
    const file = path.join(work, 'one.jsonl');
    writeFileSync(file, '{"dst":"10.96.0.10:53/udp"}\n');
    expect((await trace('--packets', file, '--dst', '10.96.0.10:53/udp')).error?.message).toMatch(/cannot be used with/);
    expect((await trace()).error?.message).toMatch(/needs --dst .* or --packets/);
  });

  it.skipIf(!existsSync(path.join(root, 'dist/runtime/cli/main.js')))('the built CLI traces a suite of hundreds of packets from stdin in one process', () => {
    const packets = suite();
    const many = Array.from({ length: 300 }, (_, i) => JSON.stringify({ ...packets[i % packets.length], id: i })).join('\n');
    const r = spawnSync('node', [path.join(root, 'bin/nftproxy.js'), 'trace', EXAMPLE, ...FLAGS, '--packets', '-'], { input: many, encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const ids = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: number }).id);
    expect(ids).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});
