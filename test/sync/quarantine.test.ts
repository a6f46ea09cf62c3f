// Quarantine against a real kernel in a private namespace: the compiler is the real one, and so
// is the kernel's refusal (RefusingApplier makes every transaction that programs an address in
// 10.96.250.0/24 clash with itself: `File exists`, as in issue 11). Shows: everything else is
// programmed, the culprit is reported, it is retried when it changes and cleared when fixed, a
// bad update keeps the version the kernel last accepted, and the search is O(change) probes
// against the mirror (full probes only without a trustworthy mirror).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, buildUnresolvedModel } from '../../compiler/model/build.js';
import { compile, createLowerCache } from '../../compiler/lower.js';
import { defaultCompileOptions, type ServicePort } from '../../compiler/model/types.js';
import { CliApplier } from '../../runtime/apply/cli.js';
import { DEFAULT_CANARY_SET, SyncEngine, SyncError } from '../../runtime/sync/index.js';
import { portKey, Quarantine } from '../../runtime/sync/quarantine.js';
import { createNamespace, destroyNamespace, exec, nsExecArgv } from '../harness/netns.js';
import type { KubeObject } from '../fake-apiserver/server.js';
import { NODE, node, service, slice } from '../daemon/fixtures.js';
import { normalizedListing } from './kernel.js';
import { RefusingApplier } from './refusing-applier.js';

const opts = { ...defaultCompileOptions, tableName: 'nfp-q', clusterCIDRs: ['10.244.0.0/16'], nodeName: NODE };
const POISON = '10.96.250.';

/** The cluster as objects, keyed `kind/ns/name`; svc(i) is a good Service with one endpoint. */
class Cluster {
  objects = new Map<string, KubeObject>();
  put(o: KubeObject): void {
    this.objects.set(`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, structuredClone(o));
  }
  svc(name: string, ip: string, extra: Record<string, unknown> = {}): void {
    const s = service({ name, ip });
    Object.assign(s['spec'] as object, extra);
    this.put(s);
    this.put(slice('default', name, [{ ip: `10.244.${Number(ip.split('.')[2]) % 200}.${ip.split('.')[3]}` }]));
  }
  get list(): KubeObject[] {
    return [...this.objects.values()];
  }
}

/** As the daemon's ModelCache does: unchanged service ports keep their objects across builds. */
function keepUnchanged(prev: ServicePort[], next: ServicePort[]): ServicePort[] {
  const old = new Map(prev.map((sp) => [portKey(sp), sp]));
  return next.map((sp) => {
    const o = old.get(portKey(sp));
    return o && JSON.stringify(o) === JSON.stringify(sp) ? o : sp;
  });
}

describe('quarantine: a service port the kernel refuses costs only itself', () => {
  let ns: string;
  let ref: string;
  let refApplier: CliApplier;
  let applier: RefusingApplier;

  beforeAll(async () => {
    ns = await createNamespace('quar');
    ref = await createNamespace('quar-ref');
    applier = new RefusingApplier(new CliApplier({ wrap: nsExecArgv(ns) }), POISON);
    refApplier = new CliApplier({ wrap: nsExecArgv(ref) });
  });
  afterAll(async () => {
    applier?.close();
    refApplier?.close();
    await destroyNamespace(ns);
    await destroyNamespace(ref);
  });

  /** Our table in the namespace equals a fresh load (no quarantine, plain applier) of `objects`. */
  async function expectKernelHolds(objects: KubeObject[]): Promise<void> {
    await exec(ref, ['nft', 'flush', 'ruleset']);
    await new SyncEngine({ applier: refApplier }).sync(compile(buildModel(objects, opts), opts));
    const o = { dropSets: [DEFAULT_CANARY_SET] };
    expect(await normalizedListing(ns, o)).toEqual(await normalizedListing(ref, o));
  }

  const table = async (): Promise<string> => (await exec(ns, ['nft', 'list', 'table', 'ip', opts.tableName])).stdout;

  it('isolates the culprit at start, programs the rest, retries it on change, clears it when fixed', async () => {
    const c = new Cluster();
    c.put(node(NODE, ['192.168.0.1']));
    for (let i = 1; i <= 40; i++) c.svc(`good-${i}`, `10.96.1.${i}`);
    c.svc('bad', '10.96.2.1', { externalIPs: ['10.96.250.1'] });
    const good = c.list.filter((o) => o.metadata.name !== 'bad' && o.metadata.name !== 'bad-abc');

    const cache = createLowerCache();
    const engine = new SyncEngine({ applier, ownedTables: [{ family: 'ip', name: opts.tableName }] });
    const q = new Quarantine(engine);
    let model = buildModel(c.list, opts);
    const comp = (sps: ServicePort[]) => compile({ ...model, servicePorts: sps }, opts, cache);

    // 1. First sync: nothing in the kernel yet, so the search probes full transactions.
    const r1 = await q.sync(model.servicePorts, comp, { full: true });
    expect(r1.kind).toBe('full');
    expect(r1.newlyQuarantined.map((e) => e.key)).toEqual(['ip default/bad:p/tcp']);
    expect(r1.newlyQuarantined[0]?.reason).toMatch(/File exists/);
    expect(r1.newlyQuarantined[0]?.kept).toEqual([]);
    // O(log n) probes for one culprit among 41 ports (+2 sanity probes of the empty base).
    expect(r1.probes).toBeLessThanOrEqual(2 + 2 * Math.ceil(Math.log2(41)));
    console.log(`[quarantine] start, 41 ports, 1 culprit: ${r1.probes} full check-only probes`);
    await expectKernelHolds(good);

    // 2. An unrelated change: a plain partial sync, the culprit stays out, no probe.
    const rebuild = (): void => {
      const prev = model.servicePorts;
      model = buildModel(c.list, opts);
      model.servicePorts = keepUnchanged(prev, model.servicePorts);
    };
    c.svc('good-41', '10.96.1.41');
    rebuild();
    const r2 = await q.sync(model.servicePorts, comp);
    expect(r2).toMatchObject({ kind: 'partial', probes: 0, newlyQuarantined: [], released: [] });
    expect(r2.quarantined.map((e) => e.key)).toEqual(['ip default/bad:p/tcp']);
    expect(await table()).toContain('10.96.1.41');
    expect(await table()).not.toContain('10.96.2.1');

    // 3. The culprit changes but is still refused, together with a good change: the good one is
    //    programmed, the culprit re-quarantined; the search ran against the mirror.
    c.svc('bad', '10.96.2.1', { externalIPs: ['10.96.250.1', '10.96.3.3'] });
    c.svc('good-42', '10.96.1.42');
    rebuild();
    const before = applier.refused;
    const r3 = await q.sync(model.servicePorts, comp);
    expect(r3.newlyQuarantined.map((e) => e.key)).toEqual(['ip default/bad:p/tcp']);
    expect(r3.probes).toBeLessThanOrEqual(3);
    console.log(`[quarantine] 2 changed ports, 1 culprit, mirror trusted: ${r3.probes} partial check-only probes`);
    expect(applier.refused - before).toBeGreaterThanOrEqual(2); // the failed sync + the failing probe
    expect(await table()).toContain('10.96.1.42');
    await expectKernelHolds(c.list.filter((o) => !['bad', 'bad-abc'].includes(o.metadata.name)));

    // 4. Fixed: retried because it changed, accepted, released.
    c.svc('bad', '10.96.2.1', { externalIPs: ['10.96.3.3'] });
    rebuild();
    const r4 = await q.sync(model.servicePorts, comp);
    expect(r4.quarantined).toEqual([]);
    expect(r4.released.map((e) => e.key)).toEqual(['ip default/bad:p/tcp']);
    expect(r4.probes).toBe(0);
    await expectKernelHolds(c.list);
  }, 240_000);

  it('a refused update keeps the version the kernel last accepted; a full sync retries it; drift makes the search probe full transactions', async () => {
    const c = new Cluster();
    c.put(node(NODE, ['192.168.0.1']));
    for (let i = 1; i <= 20; i++) c.svc(`s-${i}`, `10.96.1.${i}`);
    const cache = createLowerCache();
    const engine = new SyncEngine({ applier, ownedTables: [{ family: 'ip', name: opts.tableName }] });
    const q = new Quarantine(engine);
    let model = buildModel(c.list, opts);
    const comp = (sps: ServicePort[]) => compile({ ...model, servicePorts: sps }, opts, cache);
    expect((await q.sync(model.servicePorts, comp, { full: true })).quarantined).toEqual([]);
    const v1 = c.list;

    // s-7 gains a poisoned external IP; s-8 a good one; meanwhile someone deletes our table.
    await exec(ns, ['nft', 'delete', 'table', 'ip', opts.tableName]);
    c.svc('s-7', '10.96.1.7', { externalIPs: ['10.96.250.7'] });
    c.svc('s-8', '10.96.1.8', { externalIPs: ['10.96.4.8'] });
    const prev = model.servicePorts;
    model = buildModel(c.list, opts);
    model.servicePorts = keepUnchanged(prev, model.servicePorts);
    const r = await q.sync(model.servicePorts, comp);
    expect(r.kind).toBe('full');
    expect(r.newlyQuarantined.map((e) => e.key)).toEqual(['ip default/s-7:p/tcp']);
    // Two changed ports, full probes: the base, then one half on top of it.
    expect(r.probes).toBeLessThanOrEqual(3);
    // The old s-7 is still programmed, the new s-8 too.
    const expected = [...c.list.filter((o) => o.metadata.name !== 's-7'), ...v1.filter((o) => o.metadata.name === 's-7')];
    await expectKernelHolds(expected);
    expect(await table()).toContain('10.96.4.8');

    // A full sync (start, periodic) retries every quarantined port: refused again, not news.
    const again = await q.sync(model.servicePorts, comp, { full: true });
    expect(again.newlyQuarantined).toEqual([]);
    expect(again.quarantined.map((e) => e.key)).toEqual(['ip default/s-7:p/tcp']);
    expect(again.quarantined[0]?.since).toBe(r.quarantined[0]?.since);
    await expectKernelHolds(expected);

    // With the poison lifted (e.g. a kernel upgrade), the next full sync programs it.
    applier.prefix = '10.255.255.';
    const fixed = await q.sync(model.servicePorts, comp, { full: true });
    expect(fixed.quarantined).toEqual([]);
    expect(fixed.released.map((e) => e.key)).toEqual(['ip default/s-7:p/tcp']);
    await expectKernelHolds(c.list);
    applier.prefix = POISON;
  }, 240_000);

  it('quarantine alone unfreezes the node on issue 11\'s conflict (model conflict resolution off: the kernel really refuses)', async () => {
    // Without compiler/model/conflicts.ts, externalIPs [kube-dns's cluster IP] is two claims to
    // one service-ips key: `File exists`, every sync, forever. Quarantine confines it.
    const plain = new CliApplier({ wrap: nsExecArgv(ns) });
    const engine = new SyncEngine({ applier: plain, ownedTables: [{ family: 'ip', name: opts.tableName }] });
    const q = new Quarantine(engine);
    const c = new Cluster();
    c.put(node(NODE, ['192.168.0.1']));
    c.put(service({ ns: 'kube-system', name: 'kube-dns', ip: '10.96.0.10', port: 53 }));
    c.put(slice('kube-system', 'kube-dns', [{ ip: '10.244.0.10' }], { port: 53 }));
    const cache = createLowerCache();
    let model = buildUnresolvedModel(c.list, opts);
    const comp = (sps: ServicePort[]) => compile({ ...model, servicePorts: sps }, opts, cache);
    expect((await q.sync(model.servicePorts, comp, { full: true })).quarantined).toEqual([]);

    const grab = service({ ns: 'other', name: 'grab', ip: '10.96.0.20', port: 53 });
    (grab['spec'] as Record<string, unknown>)['externalIPs'] = ['10.96.0.10'];
    c.put(grab);
    c.put(slice('other', 'grab', [{ ip: '10.244.0.12' }], { port: 53 }));
    c.svc('later', '10.96.1.77');
    const prev = model.servicePorts;
    model = buildUnresolvedModel(c.list, opts);
    model.servicePorts = keepUnchanged(prev, model.servicePorts);
    const r = await q.sync(model.servicePorts, comp);
    expect(r.newlyQuarantined.map((e) => e.key)).toEqual(['ip other/grab:p/tcp']);
    expect(r.newlyQuarantined[0]?.reason).toMatch(/File exists/);
    const t = (await exec(ns, ['nft', 'list', 'map', 'ip', opts.tableName, 'service-ips'])).stdout;
    expect(t).toMatch(/10\.96\.0\.10 \. tcp \. 53 comment "kube-system\/kube-dns:p cluster IP" : goto/);
    expect(t).toContain('10.96.1.77');
    expect(t).not.toContain('10.96.0.20');
    plain.close();
  }, 120_000);

  it('throws (no quarantine) when the kernel refuses even a ruleset without services', async () => {
    const engine = new SyncEngine({ applier: new CliApplier({ wrap: nsExecArgv(ns), nft: '/nonexistent/nft' }) });
    const q = new Quarantine(engine);
    const model = buildModel([service({ name: 'x', ip: '10.96.1.1' })], opts);
    const err = await q.sync(model.servicePorts, (sps) => compile({ ...model, servicePorts: sps }, opts)).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect(String((err as Error).message)).toMatch(/not a service's fault/);
    expect(q.list).toEqual([]);
  });
});
