// Namespaces and servers must not outlive a test: not after destroy(), not when the process exits
// or crashes without destroying, and a SIGKILLed run's leftovers are removed by the next run.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  createNamespace,
  destroyNamespace,
  exec,
  listOurNamespaces,
  liveNamespaces,
  removeStaleNamespaces,
  createTopology,
  tcpRequest,
} from '../harness/index.js';

const LEAKER = fileURLToPath(new URL('./fixtures/leaker.ts', import.meta.url));

interface LeakerReport {
  pid: number;
  namespaces: string[];
  serverPids: number[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** Run the leaker; resolve with its report once printed, plus a promise of its exit. */
function runLeaker(mode: 'exit' | 'throw' | 'hang') {
  const child = spawn(process.execPath, ['--import', 'tsx', LEAKER, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const report = new Promise<LeakerReport>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(JSON.parse(line) as LeakerReport);
    });
    child.on('exit', (code) => reject(new Error(`leaker exited (${code}) without a report:\n${err}`)));
  });
  return { child, report, exited };
}

describe('cleanup', () => {
  it('destroy() kills the servers and deletes every namespace of the topology', async () => {
    const topo = await createTopology({ pods: [{ name: 'a', serve: { tcp: [8080] } }, 'b'] });
    const mine = [topo.node.ns, ...topo.pods.map((p) => p.ns), ...topo.clients.map((c) => c.ns)];
    expect(listOurNamespaces()).toEqual(expect.arrayContaining(mine));
    const serverPids = (await exec(topo.pod('a').ns, ['ip', 'netns', 'pids', topo.pod('a').ns])).stdout
      .split('\n')
      .filter(Boolean)
      .map(Number);
    expect(serverPids.length).toBeGreaterThan(0);
    expect((await tcpRequest(topo.client('client').ns, '10.244.0.10', 8080)).ok).toBe(true);
    await topo.destroy();
    await topo.destroy(); // idempotent
    const left = listOurNamespaces();
    for (const ns of mine) expect(left).not.toContain(ns);
    expect(liveNamespaces()).toEqual([]);
    expect(await eventually(() => serverPids.every((p) => !alive(p)))).toBe(true);
  });

  it('refuses to run anything in a namespace it did not create', async () => {
    await expect(exec('default', ['true'])).rejects.toThrow(/refusing/);
    await expect(destroyNamespace('some-other-ns')).rejects.toThrow(/refusing/);
    const ns = await createNamespace('solo');
    expect((await exec(ns, ['ip', '-o', 'link'])).stdout).toMatch(/^1: lo:/);
    await destroyNamespace(ns);
    expect(listOurNamespaces()).not.toContain(ns);
  });

  it('a process that ends by process.exit or by an uncaught error, without destroy(), leaves nothing', async () => {
    // Both children in parallel: each pays a TypeScript loader start-up.
    await Promise.all(
      (['exit', 'throw'] as const).map(async (mode) => {
        const { report, exited } = runLeaker(mode);
        const r = await report;
        const code = await exited;
        expect(code, mode).toBe(mode === 'exit' ? 0 : 1);
        expect(r.namespaces).toHaveLength(3);
        const left = listOurNamespaces();
        for (const ns of r.namespaces) expect(left, mode).not.toContain(ns);
        expect(await eventually(() => r.serverPids.every((p) => !alive(p))), mode).toBe(true);
      }),
    );
  });

  it("a SIGKILLed run's namespaces and servers are removed by the next run", async () => {
    const { child, report, exited } = runLeaker('hang');
    const r = await report;
    expect(listOurNamespaces()).toEqual(expect.arrayContaining(r.namespaces));
    child.kill('SIGKILL');
    await exited;
    // Still there: nobody could clean up a SIGKILLed process from inside.
    expect(listOurNamespaces()).toEqual(expect.arrayContaining(r.namespaces));
    removeStaleNamespaces();
    const left = listOurNamespaces();
    for (const ns of r.namespaces) expect(left).not.toContain(ns);
    expect(await eventually(() => r.serverPids.every((p) => !alive(p)))).toBe(true);
  });
});
