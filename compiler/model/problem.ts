// The one text form of a model problem (`Service ns/name spec.ports[0].port: message`), shared by
// the CLI's warnings and the daemon's log so both name an invalid object the same way.

import type { Problem } from './types.js';

export function describeProblem(p: Problem): string {
  const who = [p.kind, p.namespace && p.name ? `${p.namespace}/${p.name}` : (p.name ?? '')].filter(Boolean).join(' ');
  return `${who}${p.field ? ` ${p.field}` : ''}: ${p.message}`;
}
