import { describe, expect, it } from 'vitest';
import { categorizeEndpoints, useZoneHints } from '../../compiler/model/categorize.js';
import { ep } from './fixtures.js';

const ips = (eps: { ip: string }[]): string[] => eps.map((e) => e.ip);

describe('categorizeEndpoints', () => {
  it('uses ready endpoints only when some are ready', () => {
    const eps = [
      ep('10.0.0.1'),
      ep('10.0.0.2', { ready: false, serving: true, terminating: true }),
      ep('10.0.0.3', { ready: false, serving: false, terminating: false }),
    ];
    const c = categorizeEndpoints(eps, 'Cluster', {});
    expect(ips(c.cluster)).toEqual(['10.0.0.1']);
    expect(ips(c.internal)).toEqual(['10.0.0.1']);
  });

  it('falls back to serving+terminating endpoints when none is ready', () => {
    const eps = [
      ep('10.0.0.1', { ready: false, serving: true, terminating: true }),
      ep('10.0.0.2', { ready: false, serving: false, terminating: true }),
      ep('10.0.0.3', { ready: false, serving: true, terminating: false }),
    ];
    expect(ips(categorizeEndpoints(eps, 'Cluster', {}).cluster)).toEqual(['10.0.0.1']);
  });

  it('never uses endpoints that are neither ready nor serving-terminating', () => {
    const eps = [ep('10.0.0.1', { ready: false, serving: false, terminating: false, isLocal: true })];
    const c = categorizeEndpoints(eps, 'Local', {});
    expect(c).toEqual({ cluster: [], local: [], internal: [] });
  });

  it('internalTrafficPolicy Local keeps local endpoints only, with its own terminating fallback', () => {
    const eps = [
      ep('10.0.0.1'),
      ep('10.0.0.2', { isLocal: true, ready: false, serving: true, terminating: true }),
      ep('10.0.0.3', { isLocal: true, ready: false, serving: false, terminating: false }),
    ];
    const c = categorizeEndpoints(eps, 'Local', {});
    // A remote ready endpoint exists, but under ITP Local only the local terminating one may serve.
    expect(ips(c.internal)).toEqual(['10.0.0.2']);
    expect(ips(c.local)).toEqual(['10.0.0.2']);
    expect(ips(c.cluster)).toEqual(['10.0.0.1']);
  });

  it('internalTrafficPolicy Local with no local endpoint yields none (traffic is dropped)', () => {
    const c = categorizeEndpoints([ep('10.0.0.1'), ep('10.0.0.2')], 'Local', {});
    expect(c.internal).toEqual([]);
    expect(c.local).toEqual([]);
  });

  it('local endpoints prefer ready ones', () => {
    const eps = [ep('10.0.0.1', { isLocal: true }), ep('10.0.0.2', { isLocal: true, ready: false, serving: true, terminating: true })];
    expect(ips(categorizeEndpoints(eps, 'Cluster', {}).local)).toEqual(['10.0.0.1']);
  });

  describe('topology hints', () => {
    const hinted = [
      ep('10.0.0.1', { zone: 'a', hintZones: ['a'] }),
      ep('10.0.0.2', { zone: 'b', hintZones: ['b'] }),
      ep('10.0.0.3', { zone: 'c', hintZones: ['a', 'c'] }),
    ];

    it('keeps endpoints hinted for the node zone', () => {
      expect(ips(categorizeEndpoints(hinted, 'Cluster', { zone: 'a' }).cluster)).toEqual(['10.0.0.1', '10.0.0.3']);
      expect(ips(categorizeEndpoints(hinted, 'Cluster', { zone: 'b' }).cluster)).toEqual(['10.0.0.2']);
    });

    it('ignores hints when the node zone is unknown or nothing is hinted for it', () => {
      expect(ips(categorizeEndpoints(hinted, 'Cluster', {}).cluster)).toHaveLength(3);
      expect(ips(categorizeEndpoints(hinted, 'Cluster', { zone: 'd' }).cluster)).toHaveLength(3);
    });

    it('ignores hints unless every ready endpoint has them', () => {
      const partly = [...hinted, ep('10.0.0.4', { zone: 'a' })];
      expect(useZoneHints(partly, 'a')).toBe(false);
      expect(ips(categorizeEndpoints(partly, 'Cluster', { zone: 'a' }).cluster)).toHaveLength(4);
      // Not-ready endpoints without hints do not count.
      const withNotReady = [...hinted, ep('10.0.0.4', { ready: false, serving: false })];
      expect(useZoneHints(withNotReady, 'a')).toBe(true);
    });

    it('does not apply hints to the terminating fallback', () => {
      const terminating = hinted.map((e) => ({ ...e, ready: false, serving: true, terminating: true }));
      expect(ips(categorizeEndpoints(terminating, 'Cluster', { zone: 'a' }).cluster)).toHaveLength(3);
    });

    it('does not apply hints to local endpoints', () => {
      const eps = [ep('10.0.0.1', { hintZones: ['a'] }), ep('10.0.0.2', { hintZones: ['b'], isLocal: true })];
      const c = categorizeEndpoints(eps, 'Cluster', { zone: 'a' });
      expect(ips(c.cluster)).toEqual(['10.0.0.1']);
      expect(ips(c.local)).toEqual(['10.0.0.2']);
    });
  });
});
