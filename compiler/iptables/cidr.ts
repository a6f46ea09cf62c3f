// Minimal address helpers for the baselines (family detection, CIDR containment).

export function isIpv6(ip: string): boolean {
  return ip.includes(':');
}

function v4ToBig(ip: string): bigint | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(Number(p));
  }
  return v;
}

function v6ToBig(ip: string): bigint | undefined {
  const halves = ip.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = v4ToBig(g);
        if (v4 === undefined) return undefined;
        groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        groups.push(parseInt(g, 16));
      }
    }
    return groups;
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) return undefined;
  let v = 0n;
  for (const g of [...head, ...new Array<number>(fill).fill(0), ...tail]) v = (v << 16n) | BigInt(g);
  return v;
}

export function ipToBig(ip: string): bigint | undefined {
  return isIpv6(ip) ? v6ToBig(ip) : v4ToBig(ip);
}

export function cidrContains(cidr: string, ip: string): boolean {
  const [base, lenText] = cidr.split('/');
  if (base === undefined || isIpv6(base) !== isIpv6(ip)) return false;
  const bitsTotal = isIpv6(base) ? 128 : 32;
  const len = lenText === undefined ? bitsTotal : Number(lenText);
  const a = ipToBig(base);
  const b = ipToBig(ip);
  if (a === undefined || b === undefined) return false;
  const shift = BigInt(bitsTotal - len);
  return a >> shift === b >> shift;
}

export function cidrFamily(cidr: string): 4 | 6 {
  return isIpv6(cidr) ? 6 : 4;
}
