// design.md: ir/ ← compiler/ ← runtime/. ir imports nothing from compiler or runtime; compiler
// imports nothing from runtime. Checked on the real import graph with ts-morph.
import { Project } from 'ts-morph';
import { describe, expect, it } from 'vitest';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

function importsOf(layer: string): { file: string; target: string }[] {
  const project = new Project({ skipAddingFilesFromTsConfig: true });
  project.addSourceFilesAtPaths(path.join(root, layer, '**/*.ts'));
  const out: { file: string; target: string }[] = [];
  for (const sf of project.getSourceFiles()) {
    const decls = [...sf.getImportDeclarations(), ...sf.getExportDeclarations()];
    for (const d of decls) {
      const spec = d.getModuleSpecifierValue();
      if (!spec || !spec.startsWith('.')) continue;
      const target = path.relative(root, path.resolve(path.dirname(sf.getFilePath()), spec));
      out.push({ file: path.relative(root, sf.getFilePath()), target });
    }
  }
  return out;
}

describe('layering', () => {
  it('ir/ imports nothing from compiler/ or runtime/', () => {
    const bad = importsOf('ir').filter((i) => /^(compiler|runtime)\//.test(i.target));
    expect(bad).toEqual([]);
  });
  it('compiler/ imports nothing from runtime/', () => {
    const bad = importsOf('compiler').filter((i) => /^runtime\//.test(i.target));
    expect(bad).toEqual([]);
  });
  it('finds imports at all (the check is not vacuous)', () => {
    expect(importsOf('compiler').some((i) => i.target.startsWith('ir/'))).toBe(true);
  });
});
