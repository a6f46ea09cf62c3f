// Comparing rulesets by what the datapath does, not by how slots happen to be assigned.
import type { Ruleset } from '../../ir/types.js';

/** A ruleset up to element order and slot assignment: what the datapath does, not how it is laid out. */
export function semantic(rs: Ruleset): unknown {
  return rs.tables.map((t) => {
    const slotMaps = t.sets.filter((s) => /-(addr-\d+|port(-\d+)?)$/.test(s.name));
    const perKey = new Map<string, string[]>();
    for (const m of slotMaps.filter((s) => /-addr-\d+$/.test(s.name))) {
      const portMap = t.sets.find((s) => s.name === m.name.replace('-addr-', '-port-')) ?? t.sets.find((s) => s.name === m.name.replace(/-addr-\d+$/, '-port'))!;
      const ports = new Map(portMap.elements.map((e) => [JSON.stringify(e.key), e.data]));
      for (const e of m.elements) {
        const k = `${m.name.replace(/-addr-\d+$/, '')} ${JSON.stringify(e.key)}`;
        const list = perKey.get(k) ?? [];
        list.push(`${String(e.data)}:${String(ports.get(JSON.stringify(e.key)))}`);
        perKey.set(k, list);
      }
    }
    return {
      sets: t.sets
        .filter((s) => !slotMaps.includes(s))
        .map((s) => ({ ...s, elements: s.elements.map((e) => JSON.stringify(e)).sort() })),
      slots: [...perKey.entries()].map(([k, v]) => [k, v.sort()]).sort(),
      chains: t.chains,
    };
  });
}

