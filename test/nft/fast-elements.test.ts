// The fast element check must be sound: whatever it accepts, the full zod schema accepts too.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fastElementOk } from '../../compiler/nft/fast-elements.js';
import { NftElemItemSchema, NftMapEntrySchema } from '../../compiler/nft/schema.js';

const full = z.union([NftMapEntrySchema, NftElemItemSchema]);

const scalar = fc.oneof(
  fc.integer({ min: -5, max: 2 ** 32 + 5 }),
  fc.double(),
  fc.constantFrom('tcp', 'udp', '10.0.0.1', 'fd00::1', '10.0.0.0/8', '@set', 'a b', 'example.com', '', 'local', '1.2.3'),
  fc.string(),
);
const value = fc.oneof(scalar, fc.record({ concat: fc.array(scalar, { maxLength: 4 }) }), fc.record({ prefix: fc.record({ addr: scalar, len: fc.integer() }) }));
const verdict = fc.oneof(
  fc.constantFrom({ accept: null }, { drop: null }, { goto: { target: 'svc-lb-2' } }, { jump: { target: '' } }, { goto: { target: 'a b' } }, { drop: 1 }),
  fc.record({ goto: fc.record({ target: fc.string() }) }),
);
const item = fc.oneof(value, fc.record({ elem: fc.record({ val: value, timeout: fc.integer(), comment: fc.string() }, { requiredKeys: ['val'] }) }));
const entry = fc.oneof(item, fc.tuple(item, fc.oneof(value, verdict)), fc.array(item, { maxLength: 3 }));

describe('fastElementOk', () => {
  it('accepts only what the full schema accepts', () => {
    fc.assert(
      fc.property(entry, (e) => {
        if (fastElementOk(e)) expect(full.safeParse(e).success).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
  it('accepts the common shapes (so it is a fast path at all)', () => {
    expect(fastElementOk([{ concat: ['10.96.0.1', 'tcp', 80] }, { goto: { target: 'svc-lb-2' } }])).toBe(true);
    expect(fastElementOk([{ elem: { val: { concat: ['10.96.0.1', 'tcp', 80] }, comment: 'ns/a:http cluster IP' } }, { goto: { target: 'x' } }])).toBe(true);
    expect(fastElementOk([{ concat: ['tcp', 30080] }, 8080])).toBe(true);
    expect(fastElementOk('10.0.0.1')).toBe(true);
    expect(fastElementOk('10.0.0.0/8')).toBe(false);
  });
});
