// Reads what an operator has at hand: `kubectl get services,endpointslices,nodes -A -o yaml`
// (a `kind: List`), `-o json`, multi-document YAML as written by hand, or raw API lists
// (`ServiceList` whose items carry no kind). Lists are flattened, nested ones too.
// Only a file that is unusable as a whole throws; the objects themselves are validated later
// (compiler/model/build.ts), where a bad one is reported and skipped.

import { parseAllDocuments } from 'yaml';

export class InputError extends Error {
  override readonly name = 'InputError';
}

export interface LoadedObjects {
  objects: unknown[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function flatten(value: unknown, out: unknown[], inherited?: { kind: string; apiVersion?: unknown }): void {
  if (Array.isArray(value)) {
    for (const v of value) flatten(v, out, inherited);
    return;
  }
  if (!isRecord(value)) {
    out.push(value);
    return;
  }
  const kind = value['kind'];
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value['items'])) {
    // Typed lists from the API (ServiceList, ...) omit kind and apiVersion on their items.
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    const next = itemKind === undefined ? undefined : { kind: itemKind, apiVersion: value['apiVersion'] };
    for (const item of value['items'] as unknown[]) flatten(item, out, next);
    return;
  }
  if (inherited !== undefined && kind === undefined) {
    const filled: Record<string, unknown> = { ...value, kind: inherited.kind };
    if (filled['apiVersion'] === undefined && inherited.apiVersion !== undefined) filled['apiVersion'] = inherited.apiVersion;
    out.push(filled);
    return;
  }
  out.push(value);
}

function parseJson(text: string): unknown[] | undefined {
  try {
    return [JSON.parse(text) as unknown];
  } catch {
    return undefined; // not JSON after all (or a YAML stream starting with '{'): try YAML
  }
}

function parseYaml(text: string): unknown[] {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  // parseAllDocuments returns an EmptyStream (not an array) when there is nothing but comments.
  if (!Array.isArray(docs)) return [];
  const values: unknown[] = [];
  docs.forEach((doc, i) => {
    const err = doc.errors[0];
    if (err !== undefined) {
      throw new InputError(`input is not valid YAML or JSON (document ${i + 1}): ${err.message}`);
    }
    values.push(doc.toJS({ maxAliasCount: 1000 }) as unknown);
  });
  return values;
}

export function loadObjects(text: string): LoadedObjects {
  if (typeof text !== 'string') throw new InputError('input must be text (YAML or JSON)');
  const trimmed = text.trimStart();
  // JSON.parse is an order of magnitude faster than the YAML parser on large dumps.
  const docs = (trimmed.startsWith('{') || trimmed.startsWith('[') ? parseJson(text) : undefined) ?? parseYaml(text);
  const present = docs.filter((d) => d !== null && d !== undefined);
  if (present.length === 0) throw new InputError('input contains no objects (expected Kubernetes objects in YAML or JSON)');
  present.forEach((d, i) => {
    if (!isRecord(d) && !Array.isArray(d)) {
      throw new InputError(
        `input document ${i + 1} is a ${typeof d}, not an object (expected Kubernetes objects such as the output of kubectl get -o yaml)`,
      );
    }
  });
  const objects: unknown[] = [];
  flatten(present, objects);
  return { objects };
}
