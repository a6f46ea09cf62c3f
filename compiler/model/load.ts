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

/** Real dumps nest lists two or three deep (a document list, a List, its items). */
const MAX_LIST_DEPTH = 32;

type Inherited = { kind: string; apiVersion?: unknown } | undefined;

/**
 * Lists (arrays, `kind: List`, typed `ServiceList`s), nested ones too, flattened in document order.
 * Iterative: a 5,000-deep array must not overflow the stack (issue 11).
 */
function flatten(root: unknown, out: unknown[]): void {
  // A stack of pending values; pushed in reverse so they pop in document order.
  const stack: { value: unknown; inherited: Inherited; depth: number }[] = [{ value: root, inherited: undefined, depth: 0 }];
  let depth = 0;
  const pushAll = (values: unknown[], inherited: Inherited): void => {
    if (depth >= MAX_LIST_DEPTH) throw new InputError(`lists nested more than ${MAX_LIST_DEPTH} deep (expected Kubernetes objects, or lists of them)`);
    for (let i = values.length - 1; i >= 0; i--) stack.push({ value: values[i], inherited, depth: depth + 1 });
  };
  while (stack.length > 0) {
    const next = stack.pop() as { value: unknown; inherited: Inherited; depth: number };
    const { value, inherited } = next;
    depth = next.depth;
    if (Array.isArray(value)) {
      pushAll(value, inherited);
      continue;
    }
    if (!isRecord(value)) {
      out.push(value);
      continue;
    }
    const kind = value['kind'];
    if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value['items'])) {
      // Typed lists from the API (ServiceList, ...) omit kind and apiVersion on their items.
      const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
      pushAll(value['items'] as unknown[], itemKind === undefined ? undefined : { kind: itemKind, apiVersion: value['apiVersion'] });
      continue;
    }
    if (inherited !== undefined && kind === undefined) {
      const filled: Record<string, unknown> = { ...value, kind: inherited.kind };
      if (filled['apiVersion'] === undefined && inherited.apiVersion !== undefined) filled['apiVersion'] = inherited.apiVersion;
      out.push(filled);
      continue;
    }
    out.push(value);
  }
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
      throw new InputError(`input is not valid YAML or JSON (document ${i + 1}): ${firstLine(err)}`);
    }
    try {
      values.push(doc.toJS({ maxAliasCount: 1000 }) as unknown);
    } catch (e) {
      // yaml throws a ReferenceError ("Excessive alias count ...") for alias bombs.
      throw new InputError(`input is not usable YAML (document ${i + 1}): ${firstLine(e)}`);
    }
  });
  return values;
}

/** The first line of an error's message: the CLI prints input errors as one line. */
function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}

/**
 * Parses a cluster dump into objects. Throws InputError (a one-line message) for anything
 * unusable as a whole, whatever the parser's own failure (deep nesting, alias bombs, ...).
 */
export function loadObjects(text: string): LoadedObjects {
  try {
    return loadUnchecked(text);
  } catch (e) {
    if (e instanceof InputError) throw e;
    // A RangeError (stack or memory exhaustion inside a parser) or any other parser failure.
    throw new InputError(`input is not usable YAML or JSON: ${firstLine(e)}`);
  }
}

function loadUnchecked(text: string): LoadedObjects {
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
