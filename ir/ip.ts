// IP address and CIDR utilities shared by the compiler (validation, normalisation) and the IR
// interpreter (prefix matching). Pure, no dependencies beyond node:net. Addresses are handled
// as bigints so that IPv4 and IPv6 share one code path for ranges and comparisons.

import { isIPv4, isIPv6 } from 'node:net';

export type IpFamilyNumber = 4 | 6;

export interface ParsedIp {
  family: IpFamilyNumber;
  value: bigint;
}

export interface Cidr {
  /** Network address (host bits cleared), canonical text. */
  addr: string;
  len: number;
  family: IpFamilyNumber;
}

const V4_BITS = 32;
const V6_BITS = 128;

export function familyBits(family: IpFamilyNumber): number {
  return family === 4 ? V4_BITS : V6_BITS;
}

function parseV4(s: string): bigint {
  let v = 0;
  for (const part of s.split('.')) v = v * 256 + Number(part);
  return BigInt(v);
}

function parseV6(s: string): bigint | undefined {
  let text = s;
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups: rewrite it as hex.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = parseV4(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (h: string | undefined): number[] =>
    h === undefined || h === '' ? [] : h.split(':').map((g) => parseInt(g, 16));
  const head = toGroups(halves[0]);
  const tail = toGroups(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0) return undefined;
  const groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) {
    if (!Number.isInteger(g) || g < 0 || g > 0xffff) return undefined;
    v = (v << 16n) | BigInt(g);
  }
  return v;
}

/** Parses an IPv4 or IPv6 literal (no zone, no brackets, no leading zeros in IPv4 octets). */
export function parseIp(s: string): ParsedIp | undefined {
  if (typeof s !== 'string') return undefined;
  if (isIPv4(s)) return { family: 4, value: parseV4(s) };
  if (isIPv6(s) && !s.includes('%')) {
    const value = parseV6(s);
    return value === undefined ? undefined : { family: 6, value };
  }
  return undefined;
}

export function isValidIp(s: string): boolean {
  return parseIp(s) !== undefined;
}

export function ipFamily(s: string): IpFamilyNumber | undefined {
  return parseIp(s)?.family;
}

/**
 * A numeric sort key: a number for IPv4 (cheap, no BigInt), a bigint for IPv6. JavaScript
 * compares numbers and bigints correctly with < and >. Undefined for invalid addresses.
 */
export function ipSortKey(s: string): number | bigint | undefined {
  if (isIPv4(s)) {
    let v = 0;
    let octet = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 46) {
        v = v * 256 + octet;
        octet = 0;
      } else octet = octet * 10 + (c - 48);
    }
    return v * 256 + octet;
  }
  return ipToBigInt(s);
}

export function ipToBigInt(s: string): bigint | undefined {
  return parseIp(s)?.value;
}

function v4Text(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((sh) => String(Number((v >> sh) & 0xffn))).join('.');
}

/** Canonical text: IPv4 dotted decimal; IPv6 as RFC 5952 (lowercase, longest zero run compressed). */
export function bigIntToIp(value: bigint, family: IpFamilyNumber): string {
  if (family === 4) return v4Text(value);
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${v4Text(value & 0xffffffffn)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  // RFC 5952 §4.2.2: a single zero group is not compressed.
  if (bestLen < 2) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

export function normalizeIp(s: string): string | undefined {
  // node's isIPv4 accepts only canonical dotted quads (no leading zeros): already normal.
  if (typeof s === 'string' && isIPv4(s)) return s;
  const p = parseIp(s);
  return p === undefined ? undefined : bigIntToIp(p.value, p.family);
}

function hostMask(len: number, family: IpFamilyNumber): bigint {
  return (1n << BigInt(familyBits(family) - len)) - 1n;
}

/** Parses `addr/len`, clearing host bits (`10.1.2.3/8` → `10.0.0.0/8`). A bare address is not a CIDR. */
export function parseCidr(s: string): Cidr | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (ip === undefined || !/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > familyBits(ip.family)) return undefined;
  const network = ip.value & ~hostMask(len, ip.family);
  return { addr: bigIntToIp(network, ip.family), len, family: ip.family };
}

export function normalizeCidr(s: string): string | undefined {
  const c = parseCidr(s);
  return c === undefined ? undefined : `${c.addr}/${c.len}`;
}

export function cidrContains(cidr: string | Cidr, ip: string): boolean {
  const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  const a = parseIp(ip);
  if (c === undefined || a === undefined || c.family !== a.family) return false;
  const net = ipToBigInt(c.addr);
  if (net === undefined) return false;
  return (a.value & ~hostMask(c.len, c.family)) === net;
}

/** Orders addresses: IPv4 before IPv6, then numerically. Unparseable strings sort last, by text. */
export function compareIps(a: string, b: string): number {
  const pa = parseIp(a);
  const pb = parseIp(b);
  if (pa === undefined || pb === undefined) {
    if (pa !== undefined) return -1;
    if (pb !== undefined) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (pa.family !== pb.family) return pa.family - pb.family;
  return pa.value < pb.value ? -1 : pa.value > pb.value ? 1 : 0;
}
