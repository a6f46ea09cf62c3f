// Runs an applier (argv[2]: lib | cli) inside the network namespace this process was started in
// (the test starts it with `ip netns exec`), serving apply/check/list requests as JSON lines on stdin/stdout. The
// vitest process itself stays in the host namespace and must never load libnftables' effects there.

import { createInterface } from 'node:readline';
import { createApplier } from '../../runtime/apply/index.js';
import { ApplyError } from '../../runtime/apply/types.js';

interface Request {
  id: number;
  method: 'apply' | 'check' | 'listSetElements' | 'listJson' | 'timeApply';
  args: unknown[];
}

const applier = createApplier(process.argv[2] === 'cli' ? 'cli' : 'lib');
const rl = createInterface({ input: process.stdin });

async function handle(req: Request): Promise<unknown> {
  const a = req.args as [never, never, never, never];
  switch (req.method) {
    case 'apply':
      return applier.apply(a[0]);
    case 'check':
      return applier.check(a[0]);
    case 'listSetElements':
      return applier.listSetElements(a[0], a[1], a[2], a[3]);
    case 'listJson':
      return applier.listJson(a[0]);
    case 'timeApply': {
      // Apply each root in turn, timing only the in-process call (no IPC in the measurement).
      const times: number[] = [];
      for (const root of a[0] as unknown as unknown[]) {
        const t0 = performance.now();
        await applier.apply(root as never);
        times.push(performance.now() - t0);
      }
      return times;
    }
  }
}

rl.on('line', (line) => {
  const req = JSON.parse(line) as Request;
  handle(req).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: true, result: result ?? null })}\n`),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      const commandIndex = e instanceof ApplyError ? e.commandIndex : undefined;
      const nftOutput = e instanceof ApplyError ? e.nftOutput : undefined;
      process.stdout.write(`${JSON.stringify({ id: req.id, ok: false, error: { name: e.name, message: e.message, commandIndex, nftOutput } })}\n`);
    },
  );
});
rl.on('close', () => {
  applier.close();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
