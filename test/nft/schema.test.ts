import { describe, expect, it } from 'vitest';
import { rulesetToJson } from '../../compiler/nft/json.js';
import {
  NftCommandSchema,
  NftJsonRootSchema,
  NftStmtSchema,
  describeIssues,
} from '../../compiler/nft/schema.js';
import { fullRuleset } from './fixtures.js';

const tuple = {
  concat: [{ payload: { protocol: 'ip', field: 'daddr' } }, { meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }],
};
const rule = (expr: unknown[], extra: Record<string, unknown> = {}) => ({
  add: { rule: { family: 'ip', table: 't', chain: 'c', expr, ...extra } },
});
const chain = (extra: Record<string, unknown>) => ({ add: { chain: { family: 'ip', table: 't', name: 'c', ...extra } } });

function rejectReason(cmd: unknown): string {
  const r = NftCommandSchema.safeParse(cmd);
  expect(r.success, `should be rejected: ${JSON.stringify(cmd)}`).toBe(false);
  return r.success ? '' : describeIssues(r.error);
}

describe('nft JSON schema: accepts what we emit', () => {
  it('accepts the JSON of the full fixture ruleset', () => {
    const json = rulesetToJson(fullRuleset());
    expect(NftJsonRootSchema.safeParse(JSON.parse(JSON.stringify(json))).success).toBe(true);
  });

  it('accepts the JSON snippets nft 1.0.6 was tested with', () => {
    const ok = [
      { vmap: { key: tuple, data: '@service-ips' } },
      {
        vmap: {
          key: { numgen: { mode: 'random', mod: 3, offset: 0 } },
          data: { set: [[0, { goto: { target: 'be0' } }], [1, { goto: { target: 'be1' } }], [2, { goto: { target: 'be2' } }]] },
        },
      },
      { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
      { dnat: { addr: '10.1.0.10', port: 8080 } },
      { dnat: { family: 'ip', addr: { map: { key: tuple, data: '@addr' } }, port: { map: { key: tuple, data: '@port' } } } },
      { reject: { type: 'tcp reset' } },
      { reject: null },
      { masquerade: { flags: ['fully-random'] } },
      { set: { op: 'update', elem: { elem: { val: { payload: { protocol: 'ip', field: 'saddr' } }, timeout: 60 } }, set: '@aff' } },
    ];
    for (const stmt of ok) expect(NftStmtSchema.safeParse(stmt).success, JSON.stringify(stmt)).toBe(true);
  });

  it('accepts a root with metainfo, elements with wrappers and map entries', () => {
    const root = {
      nftables: [
        { metainfo: { json_schema_version: 1 } },
        { add: { map: { family: 'ip', table: 't', name: 'm', type: ['ipv4_addr', 'inet_service'], map: 'verdict' } } },
        {
          add: {
            element: {
              family: 'ip',
              table: 't',
              name: 'm',
              elem: [
                [{ elem: { val: { concat: ['10.0.0.1', 80] }, comment: 'ns/svc:p' } }, { goto: { target: 'x' } }],
                [{ concat: ['10.0.0.2', { range: [1, 2] }] }, { drop: null }],
              ],
            },
          },
        },
        { delete: { element: { family: 'ip', table: 't', name: 'm', elem: [{ concat: ['10.0.0.1', 80] }] } } },
        { flush: { map: { family: 'ip', table: 't', name: 'm' } } },
      ],
    };
    expect(NftJsonRootSchema.safeParse(root).success).toBe(true);
  });
});

describe('nft JSON schema: rejects what 1.0.6 would misread or crash on', () => {
  it('rejects an empty jump target (crashes 1.0.6)', () => {
    expect(rejectReason(rule([{ jump: { target: '' } }]))).toMatch(/expr\[0\]\.jump\.target/);
    expect(NftStmtSchema.safeParse({ goto: { target: '' } }).success).toBe(false);
    expect(
      NftStmtSchema.safeParse({ vmap: { key: 1, data: { set: [[0, { goto: { target: '' } }]] } } }).success,
    ).toBe(false);
  });

  it('rejects a string prio (would silently create a regular chain)', () => {
    expect(rejectReason(chain({ type: 'nat', hook: 'prerouting', prio: '-100' }))).toMatch(/prio/);
    expect(rejectReason(chain({ type: 'nat', hook: 'prerouting', prio: 1.5 }))).toMatch(/prio/);
  });

  it('rejects incomplete base chains and a policy on a regular chain', () => {
    rejectReason(chain({ type: 'nat', prio: -100 }));
    rejectReason(chain({ policy: 'accept' }));
    expect(NftCommandSchema.safeParse(chain({ type: 'nat', hook: 'output', prio: -100, policy: 'drop' })).success).toBe(true);
  });

  it('rejects comments over 128 bytes, with quotes or control characters', () => {
    expect(rejectReason(rule([{ accept: null }], { comment: 'x'.repeat(129) }))).toMatch(/comment/);
    expect(NftCommandSchema.safeParse(rule([{ accept: null }], { comment: 'x'.repeat(128) })).success).toBe(true);
    rejectReason(rule([{ accept: null }], { comment: 'say "hi"' }));
    rejectReason(rule([{ accept: null }], { comment: 'a\nb' }));
  });

  it('rejects unknown properties at every level (1.0.6 ignores them silently)', () => {
    expect(rejectReason({ add: { table: { family: 'ip', name: 't', comment: 'x' } } })).toMatch(/comment/);
    rejectReason(rule([{ accept: null }], { handle: 3 }));
    rejectReason(rule([{ counter: null, accept: null }]));
    rejectReason(rule([{ match: { op: '==', left: { meta: { key: 'mark', extra: 1 } }, right: 1 } }]));
    rejectReason({ add: { table: { family: 'ip', name: 't' } }, delete: { table: { family: 'ip', name: 't' } } });
    rejectReason({ add: { set: { family: 'ip', table: 't', name: 's', type: 'ipv4_addr', comment: 'x' } } });
  });

  it('rejects bad names', () => {
    rejectReason({ add: { table: { family: 'ip', name: '' } } });
    rejectReason({ add: { table: { family: 'ip', name: 'a b' } } });
    rejectReason({ add: { table: { family: 'ip', name: '1abc' } } });
    rejectReason({ add: { table: { family: 'ip', name: 'a'.repeat(256) } } });
    expect(NftCommandSchema.safeParse({ add: { table: { family: 'ip', name: 'a'.repeat(255) } } }).success).toBe(true);
    rejectReason(rule([{ vmap: { key: tuple, data: '@' } }]));
    rejectReason({ add: { table: { family: 'inet', name: 't' } } });
  });

  it('rejects address strings that are not literals (they would go to DNS) and bad prefixes', () => {
    const match = (right: unknown) => rule([{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right } }]);
    expect(rejectReason(match('10.0.0.0/8'))).toMatch(/literal|prefix/);
    rejectReason(match('example.com'));
    rejectReason(match('10.0.0.256'));
    rejectReason(match({ prefix: { addr: '10.0.0.0', len: 33 } }));
    rejectReason(match({ prefix: { addr: 'example.com', len: 8 } }));
    expect(NftCommandSchema.safeParse(match({ prefix: { addr: '10.0.0.0', len: 8 } })).success).toBe(true);
    expect(NftCommandSchema.safeParse(match({ prefix: { addr: 'fd00::', len: 64 } })).success).toBe(true);
  });

  it('rejects set flags that are not an array, the dynamic flag and concatenated map data', () => {
    const set = (extra: Record<string, unknown>) => ({ add: { set: { family: 'ip', table: 't', name: 's', type: 'ipv4_addr', ...extra } } });
    rejectReason(set({ flags: 'interval' }));
    rejectReason(set({ flags: ['dynamic', 'timeout'] }));
    rejectReason({ add: { map: { family: 'ip', table: 't', name: 'm', type: 'ipv4_addr', map: ['ipv4_addr', 'inet_service'] } } });
    rejectReason({ add: { set: { family: 'ip', table: 't', name: 's', type: 'ipv4_addr', map: 'verdict' } } });
  });

  it('rejects binary ops with other than two operands and binary match ops', () => {
    rejectReason(rule([{ match: { op: '==', left: { '&': [{ meta: { key: 'mark' } }, 1, 2] }, right: 1 } }]));
    rejectReason(rule([{ match: { op: '&', left: { meta: { key: 'mark' } }, right: 1 } }]));
    rejectReason(rule([{ match: { op: '!', left: { meta: { key: 'mark' } }, right: 1 } }]));
  });

  it('rejects icmpx reject (unsupported in ip/ip6 tables) and an empty rule', () => {
    rejectReason(rule([{ reject: { type: 'icmpx', expr: 'port-unreachable' } }]));
    rejectReason(rule([]));
  });

  it('explains a failed union by the branch that was meant', () => {
    const why = rejectReason(rule([{ accept: null }, { match: { op: '<', left: { meta: { key: 'mark' } }, right: 1 } }]));
    expect(why).toMatch(/^add\.rule\.expr\[1\]\.match\.op: /);
  });
});
