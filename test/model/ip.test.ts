import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bigIntToIp,
  cidrContains,
  compareIps,
  ipFamily,
  ipToBigInt,
  normalizeCidr,
  normalizeIp,
  parseCidr,
  parseIp,
} from '../../ir/ip.js';

describe('parseIp / normalizeIp', () => {
  it.each([
    ['10.96.0.10', '10.96.0.10'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::', '::'],
    ['::1', '::1'],
    ['FD00:10:96:0:0:0:0:50', 'fd00:10:96::50'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    // RFC 5952 §4.2.3: the longest run of zeros is compressed; on a tie, the first one.
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    // §4.2.2: a single zero group is not compressed.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ['::ffff:a01:203', '::ffff:10.1.2.3'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  it.each(['', 'x', '10.96.0.300', '010.1.1.1', '1.2.3', '1.2.3.4.5', 'fe80::1%eth0', '1::2::3', '[::1]', '::1/128', ' 10.0.0.1', '12345::'])(
    'rejects %j',
    (input) => {
      expect(parseIp(input)).toBeUndefined();
      expect(normalizeIp(input)).toBeUndefined();
      expect(ipFamily(input)).toBeUndefined();
    },
  );

  it('tells the family', () => {
    expect(ipFamily('10.0.0.1')).toBe(4);
    expect(ipFamily('fd00::1')).toBe(6);
    expect(ipFamily('::ffff:1.2.3.4')).toBe(6);
  });

  it('converts to and from bigint', () => {
    expect(ipToBigInt('10.0.0.1')).toBe(0x0a000001n);
    expect(ipToBigInt('::1')).toBe(1n);
    expect(ipToBigInt('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe((1n << 128n) - 1n);
    expect(bigIntToIp(0x0a000001n, 4)).toBe('10.0.0.1');
  });
});

describe('CIDRs', () => {
  it('clears host bits and validates the length', () => {
    expect(parseCidr('10.1.2.3/8')).toEqual({ addr: '10.0.0.0', len: 8, family: 4 });
    expect(parseCidr('fd00:10:244::1/64')).toEqual({ addr: 'fd00:10:244::', len: 64, family: 6 });
    expect(normalizeCidr('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(normalizeCidr('1.2.3.4/32')).toBe('1.2.3.4/32');
    expect(normalizeCidr('::/0')).toBe('::/0');
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/-1', 'x/8', '10.0.0.0/8/8']) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });

  it('tests membership within one family only', () => {
    expect(cidrContains('10.0.0.0/8', '10.255.255.255')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '11.0.0.0')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '1.2.3.4')).toBe(true);
    expect(cidrContains('::/0', '1.2.3.4')).toBe(false);
    expect(cidrContains('fd00:10:244::/64', 'fd00:10:244::5')).toBe(true);
    expect(cidrContains('fd00:10:244::/64', 'fd00:10:245::5')).toBe(false);
    expect(cidrContains('10.0.0.0/33', '10.0.0.1')).toBe(false);
  });
});

describe('compareIps', () => {
  it('orders numerically, IPv4 before IPv6', () => {
    const sorted = ['fd00::2', '10.0.0.10', '10.0.0.9', '::1', '9.255.255.255'].sort(compareIps);
    expect(sorted).toEqual(['9.255.255.255', '10.0.0.9', '10.0.0.10', '::1', 'fd00::2']);
  });
});

describe('properties', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
  const v6 = fc.ipV6();
  const anyIp = fc.oneof(v4, v6);

  it('normalizeIp accepts every generated address and is idempotent', () => {
    fc.assert(
      fc.property(anyIp, (ip) => {
        const n = normalizeIp(ip);
        expect(n).toBeDefined();
        expect(normalizeIp(n ?? '')).toBe(n);
        expect(ipToBigInt(n ?? '')).toBe(ipToBigInt(ip));
      }),
    );
  });

  it('agrees with the bigint round trip for every 128-bit value', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => {
        const text = bigIntToIp(v, 6);
        expect(ipToBigInt(text)).toBe(v);
        // Canonical text never has uppercase, leading zeros in a group, or two "::".
        expect(text).toBe(text.toLowerCase());
        expect(text.split('::').length).toBeLessThanOrEqual(2);
        expect(/(^|:)0[0-9a-f]/.test(text)).toBe(false);
      }),
    );
  });

  it('a CIDR contains its own network address and every address with the same prefix', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }), fc.integer({ min: 0, max: 32 }), fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }), (a, len, b) => {
        const cidr = parseCidr(`${bigIntToIp(a, 4)}/${len}`);
        expect(cidr).toBeDefined();
        if (cidr === undefined) return;
        expect(cidrContains(cidr, cidr.addr)).toBe(true);
        expect(cidrContains(cidr, bigIntToIp(a, 4))).toBe(true);
        const shift = BigInt(32 - len);
        const samePrefix = a >> shift === b >> shift || len === 0;
        expect(cidrContains(cidr, bigIntToIp(b, 4))).toBe(samePrefix);
      }),
    );
  });
});
