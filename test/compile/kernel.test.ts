// Every compiled transaction is what the kernel accepts: the examples load as JSON (twice in a
// row: the full transaction replaces our table) and as text, and random valid clusters always load.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileObjects, compileText } from '../../compiler/index.js';
import { defaultCompileOptions, type CompileOptions } from '../../compiler/model/types.js';
import { rulesetToJson } from '../../compiler/nft/json.js';
import { rulesetToText } from '../../compiler/nft/text.js';
import { createNamespace, destroyNamespace, exec, nftList, nftLoad } from '../harness/index.js';
import { objectsFor, type ServiceSpec } from '../datapath/cluster.js';

const examples = path.resolve(import.meta.dirname, '../../examples');
const opts: CompileOptions = {
  ...defaultCompileOptions,
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/64'],
  nodeName: 'node-a',
};

let ns: string;
beforeAll(async () => {
  ns = await createNamespace('kern');
});
afterAll(async () => {
  await destroyNamespace(ns);
});

async function flushAll(): Promise<void> {
  await exec(ns, ['nft', 'flush', 'ruleset']);
}

describe('examples load into the kernel', () => {
  for (const file of readdirSync(examples).filter((f) => /\.ya?ml$/.test(f))) {
    it(`${file}: JSON loads twice, text loads, both list the same`, async () => {
      const { ruleset } = compileText(readFileSync(path.join(examples, file), 'utf8'), opts);
      await flushAll();
      const json = JSON.stringify(rulesetToJson(ruleset));
      await nftLoad(ns, json, { format: 'json' });
      await nftLoad(ns, json, { format: 'json' });
      const fromJson = await nftList(ns);
      expect(fromJson).toContain('table ip nftproxy');
      expect(fromJson).toContain('table ip6 nftproxy');
      await flushAll();
      await nftLoad(ns, rulesetToText(ruleset), { format: 'text' });
      expect(await nftList(ns)).toBe(fromJson);
    });
  }
});

// Random valid clusters: families, protocols, ports, endpoint counts, node names, features.
const protoArb = fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const);
const serviceArb = (i: number) =>
  fc.record({
    v6: fc.boolean(),
    dual: fc.boolean(),
    ports: fc.uniqueArray(fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: protoArb }), {
      minLength: 1,
      maxLength: 3,
      selector: (p) => `${p.port}/${p.protocol}`,
    }),
    endpoints: fc.array(fc.record({ node: fc.constantFrom('node-a', 'node-b'), ready: fc.boolean(), terminating: fc.boolean() }), { maxLength: 12 }),
    nodePort: fc.boolean(),
    etpLocal: fc.boolean(),
    itpLocal: fc.boolean(),
    affinity: fc.option(fc.integer({ min: 1, max: 86400 }), { nil: undefined }),
    externalIP: fc.boolean(),
    lbRanges: fc.boolean(),
  }).map((r): ServiceSpec => {
    const v4 = `10.96.${i >> 8}.${i & 255}`;
    const v6 = `fd00:10:96::${i.toString(16)}`;
    const clusterIPs = r.dual ? [v4, v6] : r.v6 ? [v6] : [v4];
    const eps = (fam: 'IPv4' | 'IPv6') =>
      r.endpoints.map((e, k) => ({
        ip: fam === 'IPv4' ? `10.244.${i & 255}.${k + 1}` : `fd00:10:244::${i.toString(16)}:${(k + 1).toString(16)}`,
        node: e.node,
        ready: e.ready,
        serving: e.ready || e.terminating,
        terminating: e.terminating,
      }));
    const families = clusterIPs.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4') as 'IPv4' | 'IPv6');
    return {
      name: `s${i}`,
      clusterIPs,
      type: r.lbRanges ? 'LoadBalancer' : r.nodePort ? 'NodePort' : 'ClusterIP',
      ports: r.ports.map((p, k) => ({
        name: `p${k}`,
        protocol: p.protocol,
        port: p.port,
        ...(r.nodePort || r.lbRanges ? { nodePort: 30000 + ((i * 3 + k) % 2700) } : {}),
      })),
      ...(r.externalIP ? { externalIPs: families.map((f) => (f === 'IPv4' ? `203.0.113.${i & 255}` : `2001:db8::${i.toString(16)}`)) } : {}),
      ...(r.lbRanges
        ? { loadBalancerIPs: [`198.51.100.${i & 255}`], loadBalancerSourceRanges: ['192.168.0.0/24', '10.0.0.0/8'] }
        : {}),
      ...(r.etpLocal && (r.nodePort || r.lbRanges || r.externalIP) ? { externalTrafficPolicy: 'Local' as const } : {}),
      ...(r.itpLocal ? { internalTrafficPolicy: 'Local' as const } : {}),
      ...(r.affinity ? { affinitySeconds: r.affinity } : {}),
      slices: families.map((f) => ({ family: f, targetPort: 8080, endpoints: eps(f) })),
    };
  });

const clusterArb = fc.integer({ min: 1, max: 12 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => serviceArb(i + 1))));

describe('random valid clusters', () => {
  it('always give a transaction the kernel accepts (loaded twice)', async () => {
    await fc.assert(
      fc.asyncProperty(clusterArb, fc.boolean(), async (services, masqueradeAll) => {
        const { model, ruleset } = compileObjects(objectsFor(services, [{ name: 'node-a', ip: '192.168.0.1' }]), { ...opts, masqueradeAll });
        expect(model.problems).toEqual([]);
        const json = JSON.stringify(rulesetToJson(ruleset));
        await nftLoad(ns, json, { format: 'json' });
        await nftLoad(ns, json, { format: 'json' });
      }),
      { numRuns: process.env.CI ? 40 : 25 },
    );
  });
});
