// What the daemon image and a production install carry: the shipped layers and their runtime
// dependencies, never the benchmark (bench/, netns/) or the tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

describe('shipped artefacts', () => {
  it('the image copies only ir/, compiler/, runtime/ and bin/ from the source tree', () => {
    const dockerfile = readFileSync(path.join(root, 'deploy/Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => (m[1] ?? '').trim().split(/\s+/).slice(0, -1));
    expect(copied).toContain('compiler');
    expect(copied.filter((c) => /^(bench|netns|test|docs|examples)\b/.test(c))).toEqual([]);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });
  it('benchmark-only packages are devDependencies, in package.json and package-lock.json alike', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dependencies?: Record<string, string>; devDependencies?: Record<string, string>; dev?: boolean }> };
    for (const name of ['benchmark', 'cli-progress']) {
      expect(pkg.dependencies[name]).toBeUndefined();
      expect(pkg.devDependencies[name]).toBeDefined();
      expect(lock.packages['']?.dependencies?.[name]).toBeUndefined();
      expect(lock.packages['']?.devDependencies?.[name]).toBe(pkg.devDependencies[name]);
      expect(lock.packages[`node_modules/${name}`]?.dev).toBe(true);
    }
  });
});
