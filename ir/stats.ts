// Object counts of a ruleset, as the kernel would hold them after a full load.

import type { Ruleset } from './types.js';

export interface RulesetStats {
  tables: number;
  chains: number;
  rules: number;
  sets: number;
  maps: number;
  elements: number;
}

export function rulesetStats(rs: Ruleset): RulesetStats {
  const s: RulesetStats = { tables: 0, chains: 0, rules: 0, sets: 0, maps: 0, elements: 0 };
  for (const t of rs.tables) {
    s.tables++;
    s.chains += t.chains.length;
    for (const c of t.chains) s.rules += c.rules.length;
    for (const set of t.sets) {
      if (set.dataType) s.maps++;
      else s.sets++;
      if (!set.dynamic) s.elements += set.elements.length;
    }
  }
  return s;
}
