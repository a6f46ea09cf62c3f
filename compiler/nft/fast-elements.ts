// A sound fast path for validating set/map elements. A full sync at 10k services carries ~200k
// elements, and zod's ordered unions (each failed branch builds an issue) cost seconds there.
// `fastElementOk` accepts only the common shapes and only when the zod schema would accept them
// too; anything it does not accept goes through the full schema, which decides and explains.

import { isIP } from 'node:net';
import { IMMEDIATE_PATTERN, MAX_MARK, isValidComment, isValidName } from './limits.js';

const ONE_KEY = 1;

function immediateOk(v: unknown): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= MAX_MARK;
  if (typeof v !== 'string') return false;
  if (!IMMEDIATE_PATTERN.test(v) || v.startsWith('@')) return false;
  return !/[.:]/.test(v) || isIP(v) !== 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueOk(v: unknown): boolean {
  if (immediateOk(v)) return true;
  if (!isPlainObject(v)) return false;
  const c = v['concat'];
  return Object.keys(v).length === ONE_KEY && Array.isArray(c) && c.length >= 2 && c.every(immediateOk);
}

function verdictOk(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  if (keys.length !== ONE_KEY) return false;
  const k = keys[0] as string;
  const body = v[k];
  if (k === 'accept' || k === 'drop' || k === 'continue' || k === 'return') return body === null;
  if (k !== 'goto' && k !== 'jump') return false;
  if (!isPlainObject(body) || Object.keys(body).length !== ONE_KEY) return false;
  const t = body['target'];
  return typeof t === 'string' && isValidName(t);
}

function itemOk(v: unknown): boolean {
  if (valueOk(v)) return true;
  if (!isPlainObject(v) || Object.keys(v).length !== ONE_KEY) return false;
  const e = v['elem'];
  if (!isPlainObject(e)) return false;
  for (const k of Object.keys(e)) if (k !== 'val' && k !== 'timeout' && k !== 'comment') return false;
  if (!valueOk(e['val'])) return false;
  const t = e['timeout'];
  if (t !== undefined && !(typeof t === 'number' && Number.isInteger(t) && t > 0)) return false;
  const c = e['comment'];
  return c === undefined || (typeof c === 'string' && isValidComment(c));
}

/** True only for elements the zod element schema accepts. */
export function fastElementOk(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 2 && itemOk(v[0]) && (valueOk(v[1]) || verdictOk(v[1]));
  return itemOk(v);
}
