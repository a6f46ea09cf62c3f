import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareIps, ipSortKey } from '../../ir/ip.js';

describe('ipSortKey', () => {
  it('orders IPv4 addresses like compareIps', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
    fc.assert(
      fc.property(v4, v4, (a, b) => {
        const ka = ipSortKey(a)!;
        const kb = ipSortKey(b)!;
        expect(Math.sign(ka < kb ? -1 : ka > kb ? 1 : 0)).toBe(Math.sign(compareIps(a, b)));
      }),
    );
  });
  it('is undefined for invalid addresses', () => {
    expect(ipSortKey('10.0.0.256')).toBeUndefined();
    expect(ipSortKey('nope')).toBeUndefined();
  });
});
