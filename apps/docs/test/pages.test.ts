// The pages' sources and the built pages: examples come from examples/ (no inline code), the
// comparison page carries the recorded benchmark tables, and the API reference covers every export.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { distDir, docsDir, rootDir, walk } from './site.js';

const siteDir = join(docsDir, 'site');
const pageSources = walk(siteDir).filter(
  (path) =>
    path.endsWith('.md') && !path.startsWith(join(siteDir, 'api')) && !path.startsWith(join(siteDir, 'generated')),
);
const exampleFiles = walk(join(docsDir, 'examples')).filter((path) => path.endsWith('.ts') || path.endsWith('.sh'));

/** The visible text of a built page: tags removed, entities decoded, whitespace collapsed per line. */
function pageText(relativePath: string): string {
  return readFileSync(join(distDir, relativePath), 'utf8')
    .replace(/<script[\s\S]*?<\/script>/g, '')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

const snippetPattern = /^<<< @\/\.\.\/examples\/([\w./-]+)$/gm;

describe('page sources', () => {
  test('every snippet import names an existing example, and every example is shown on some page', () => {
    const imported = new Set<string>();
    for (const source of pageSources) {
      for (const match of readFileSync(source, 'utf8').matchAll(snippetPattern)) {
        const file = join(docsDir, 'examples', match[1]!);
        expect(existsSync(file), `${source} imports ${match[1]}`).toBe(true);
        imported.add(file);
      }
    }
    expect([...imported].sort()).toEqual([...exampleFiles].sort());
  });

  test('no page has inline TypeScript or JavaScript code: code examples are files that CI runs', () => {
    for (const source of pageSources) {
      expect(readFileSync(source, 'utf8'), source).not.toMatch(/^```(ts|js|typescript|javascript|mjs|tsx)\b/m);
    }
  });
});

describe('built pages', () => {
  test('each page shows the full text of the examples it imports', () => {
    for (const source of pageSources) {
      const built = source.slice(siteDir.length + 1).replace(/\.md$/, '.html');
      const text = pageText(built);
      for (const match of readFileSync(source, 'utf8').matchAll(snippetPattern)) {
        const code = readFileSync(join(docsDir, 'examples', match[1]!), 'utf8');
        for (const line of code.split('\n').filter((line) => line.trim() !== '')) {
          expect(text, `${built} shows ${match[1]}`).toContain(line.trim());
        }
      }
    }
  });

  test('the comparison page includes the recorded benchmark results from the root BENCHMARKS.md', () => {
    const text = pageText('comparison.html');
    const benchmarksFile = join(rootDir, 'BENCHMARKS.md');
    if (!existsSync(benchmarksFile)) {
      expect(text).toContain('No benchmark results are recorded in this checkout yet');
      return;
    }
    const rows = readFileSync(benchmarksFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      // Markdown inline syntax is rendered, so compare the cells' plain words.
      const firstCell = row.split('|')[1]!.replace(/[*`_]/g, '').trim();
      if (firstCell !== '') expect(text).toContain(firstCell);
    }
  });

  test('the API reference has a page for every package source and names each of its exports', () => {
    const packages = ['core', 'node-streams', 'web-streams', 'cli', 'redis'].filter((dir) =>
      existsSync(join(rootDir, 'packages', dir, 'src', 'index.ts')),
    );
    expect(packages).toContain('core');
    for (const dir of packages) {
      const index = readFileSync(join(rootDir, 'packages', dir, 'src', 'index.ts'), 'utf8');
      // Drop comments so a doc example's import line does not count as an export.
      const code = index.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      const names = [...code.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)].flatMap((match) =>
        match[1]!
          .split(',')
          .map((name) =>
            name
              .trim()
              .replace(/^type\s+/, '')
              .split(/\s+as\s+/)
              .pop()!
              .trim(),
          )
          .filter(Boolean),
      );
      const text = pageText(join('api', dir, 'index.html'));
      for (const name of names) expect(text, `api/${dir} names ${name}`).toContain(name);
    }
  });
});
