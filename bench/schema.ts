// The shape of results.json (issue #6), as a zod schema: the bench validates its own output
// before writing it, and the tests validate what the bench wrote. Numbers that could not be
// measured (a load that timed out, a column the system has no meaning for) are null, with the
// reason in `notes`.

import { z } from 'zod';

const ms = z.number().finite().nonnegative();
const maybe = ms.nullable();

const count = z.number().int().nonnegative();
/** Percentiles over n samples (null when nothing was measured). */
const percentiles = z.strictObject({ p50: maybe, p99: maybe, n: count });
const method = z.enum(['benchmark.js', 'direct']);

// Every object is strict: a field the bench writes must be declared here (and so typed for the
// report), or validating the results before writing them fails.

export const objectsSchema = z.strictObject({
  tables: count,
  chains: count,
  rules: count,
  sets: count,
  maps: count,
  elements: count,
  source: z.enum(['kernel', 'artefact']),
});

export const systemResultSchema = z.strictObject({
  objects: objectsSchema,
  rulesPerNewConnection: z.strictObject({ worst: ms, median: ms, sampledServices: count, notDnated: count }),
  compileMs: z.strictObject({
    full: ms,
    diffP50: ms,
    fullSamples: count,
    fullMethod: method,
    diffSamples: count,
    diffMethod: method,
    encodeMs: ms.optional(),
  }),
  fullLoadMs: maybe,
  fullLoadSamplesMs: z.array(ms),
  /** Set when the full load did not finish within the timeout (fullLoadMs is then null). */
  fullLoadTimedOutMs: ms.optional(),
  updateMs: percentiles,
  updatesPlanned: count,
  connectUs: z.strictObject({ first: maybe, middle: maybe, last: maybe, samplesPerTarget: count }),
  rssMb: maybe,
  notes: z.array(z.string()),
  // nftproxy only: the update split by applier, the recompile alone, whole-cluster syncs, memory.
  updateMsByApplier: z.strictObject({ cli: percentiles, lib: percentiles }).optional(),
  recompileMs: percentiles.optional(),
  fullSyncMs: z.strictObject({ cli: ms, lib: ms.optional() }).optional(),
  encodeFullMs: maybe.optional(),
  heapUsedMb: maybe.optional(),
});

export const machineSchema = z.strictObject({ cpu: z.string(), cores: z.number().int().positive(), memGb: z.number().nonnegative() });

export const benchResultsSchema = z.strictObject({
  scenario: z.strictObject({
    services: z.number().int().positive(),
    endpointsPerService: z.number().int().positive(),
    /** uniform: endpointsPerService each; realistic: seeded heavy-tailed counts (bench/scenario.ts). */
    distribution: z.enum(['uniform', 'realistic']).optional(),
    /** One more Service with this many endpoints; the updates are changes inside it. */
    bigService: z.number().int().positive().optional(),
    totalServices: count.optional(),
    totalEndpoints: count.optional(),
    updates: count,
    date: z.string().min(1),
    kernel: z.string().min(1),
    nft: z.string().min(1),
    iptables: z.string().min(1),
    seed: z.number().int(),
    machine: machineSchema,
  }),
  systems: z.strictObject({
    nftproxy: systemResultSchema,
    'kube-proxy-iptables': systemResultSchema,
    'kube-proxy-nftables': systemResultSchema,
    'kube-proxy-iptables-nft': systemResultSchema.optional(),
  }),
});

export type SystemResult = z.infer<typeof systemResultSchema>;
export type BenchResults = z.infer<typeof benchResultsSchema>;
