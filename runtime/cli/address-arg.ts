// Address arguments of `trace` (--src, --dst, and the same fields of a --packets line).

import type { Family } from '../../ir/types.js';
import { normalizeIp } from '../../ir/ip.js';
import type { L4Proto } from '../../ir/interpret.js';

export interface AddressArg {
  addr: string;
  family: Family;
  port?: number;
  proto?: L4Proto;
}

const protos: L4Proto[] = ['tcp', 'udp', 'sctp'];

/**
 * Parses `ADDR`, `ADDR:PORT`, `ADDR:PORT/PROTO`, with IPv6 as `[ADDR]:PORT/PROTO` (a bare IPv6
 * address without port is accepted too). Returns undefined when the text is not of that shape.
 */
export function parseAddressArg(text: string): AddressArg | undefined {
  let rest = text.trim();
  let proto: L4Proto | undefined;
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (!protos.includes(p as L4Proto)) return undefined;
    proto = p as L4Proto;
    rest = rest.slice(0, slash);
  }
  let addrText: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    addrText = bracketed[1] as string;
    portText = bracketed[2];
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    [addrText, portText] = rest.split(':') as [string, string];
  } else addrText = rest;
  const addr = normalizeIp(addrText);
  if (!addr) return undefined;
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return undefined;
    port = Number(portText);
  }
  return { addr, family: addr.includes(':') ? 'ip6' : 'ip', ...(port !== undefined ? { port } : {}), ...(proto ? { proto } : {}) };
}
