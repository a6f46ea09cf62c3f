// The layering of the README's Design section: ir/ ← compiler/ ← runtime/. ir imports nothing from compiler or runtime; compiler
// imports nothing from runtime. Beside them, netns/ (namespaces and traffic) and bench/ stand on
// their own: nothing shipped imports them, and neither imports from test/. Checked on the real
// import graph with ts-morph.
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
  it('ir/, compiler/ and runtime/ (the shipped code) import nothing from netns/, bench/ or test/', () => {
    const bad = ['ir', 'compiler', 'runtime'].flatMap(importsOf).filter((i) => /^(netns|bench|test)\//.test(i.target));
    expect(bad).toEqual([]);
  });
  it('bench/ and netns/ import nothing from test/; netns/ nothing from bench/', () => {
    const bad = [...importsOf('bench'), ...importsOf('netns')]
      .filter((i) => /^test\//.test(i.target) || (i.file.startsWith('netns/') && /^bench\//.test(i.target)))
      .map((i) => `${i.file} -> ${i.target}`);
    expect(bad).toEqual([]);
  });
  it('finds imports at all (the check is not vacuous)', () => {
    expect(importsOf('compiler').some((i) => i.target.startsWith('ir/'))).toBe(true);
    expect(importsOf('bench').some((i) => i.target.startsWith('netns/'))).toBe(true);
  });
});
