// The shape of results.json (issue #6), as a zod schema: the bench validates its own output
// before writing it, and the tests validate what the bench wrote. Numbers that could not be
// measured (a load that timed out, a column the system has no meaning for) are null, with the
// reason in `notes`.

import { z } from 'zod';

const ms = z.number().finite().nonnegative();
const maybe = ms.nullable();

export const objectsSchema = z.looseObject({
  tables: z.number().int().nonnegative(),
  chains: z.number().int().nonnegative(),
  rules: z.number().int().nonnegative(),
  sets: z.number().int().nonnegative(),
  maps: z.number().int().nonnegative(),
  elements: z.number().int().nonnegative(),
  source: z.enum(['kernel', 'artefact']),
});

export const systemResultSchema = z.looseObject({
  objects: objectsSchema,
  rulesPerNewConnection: z.looseObject({ worst: ms, median: ms }),
  compileMs: z.looseObject({ full: ms, diffP50: ms }),
  fullLoadMs: maybe,
  updateMs: z.looseObject({ p50: maybe, p99: maybe }),
  connectUs: z.looseObject({ first: maybe, middle: maybe, last: maybe }),
  rssMb: maybe,
  notes: z.array(z.string()),
});

export const benchResultsSchema = z.looseObject({
  scenario: z.looseObject({
    services: z.number().int().positive(),
    endpointsPerService: z.number().int().positive(),
    updates: z.number().int().nonnegative(),
    date: z.string().min(1),
    kernel: z.string().min(1),
    nft: z.string().min(1),
    iptables: z.string().min(1),
  }),
  systems: z.looseObject({
    nftproxy: systemResultSchema,
    'kube-proxy-iptables': systemResultSchema,
    'kube-proxy-nftables': systemResultSchema,
    'kube-proxy-iptables-nft': systemResultSchema.optional(),
  }),
});

export type SystemResult = z.infer<typeof systemResultSchema>;
export type BenchResults = z.infer<typeof benchResultsSchema>;
