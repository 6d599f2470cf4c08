// The pages' sources and the built pages: examples come from examples/ (no inline code), the
// comparison page carries the recorded benchmark tables, and the API reference covers every export.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { benchFigure, FIGURE_FILES, figureMarkers, readBenchmarks } from '../../../scripts/bench-figures.mjs';
import { exportedCallables } from './exports.js';
import { distDir, docsDir, rootDir, walk } from './site.js';

const siteDir = join(docsDir, 'site');
const pageSources = walk(siteDir).filter(
  (path) =>
    path.endsWith('.md') &&
    !path.startsWith(join(siteDir, 'api')) &&
    !path.startsWith(join(siteDir, 'generated')) &&
    !path.startsWith(join(siteDir, 'parts')), // included into pages, not pages
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

describe('figures, changelog and the reference built from the repository', () => {
  const benchmarks = existsSync(join(rootDir, 'BENCHMARKS.md')) ? readBenchmarks() : undefined;

  test.skipIf(benchmarks === undefined)(
    'every benchmark figure quoted in a README is the one BENCHMARKS.md holds',
    () => {
      let quoted = 0;
      for (const file of FIGURE_FILES) {
        for (const { spec, shown, expected } of figureMarkers(readFileSync(file, 'utf8'), benchmarks!)) {
          expect(shown, `${file.pathname}: ${spec}`).toBe(expected);
          quoted++;
        }
      }
      expect(quoted).toBeGreaterThan(0);
    },
  );

  test.skipIf(benchmarks === undefined)(
    'the pages show benchmark figures from BENCHMARKS.md, and no page types one by hand',
    () => {
      for (const source of pageSources) {
        // A figure in prose is a marker, never a hand-typed number of MiB/GiB or times the floor.
        const prose = readFileSync(source, 'utf8').replace(/<!-- figure:[\s\S]*?<!-- \/figure -->/g, '');
        expect(prose, source).not.toMatch(/\d(\.\d+)? ?(MiB|GiB)\b|\d\.\d+x\b/);
      }
      const text = pageText('the-original-problem.html');
      for (const spec of ['core|p-limit|peak RSS', 'core|p-queue|peak RSS', 'core|lac limitedAsCompleted|peak RSS']) {
        expect(text).toContain(benchFigure(benchmarks!, spec));
      }
      expect(readFileSync(join(distDir, 'the-original-problem.html'), 'utf8')).not.toContain('figure:');
    },
  );

  test('a figure spec that names no cell fails loudly instead of showing a stale number', () => {
    const sample =
      '<!-- bench:x:start -->\n| contestant | peak RSS |\n| --- | --- |\n| **a** | 5 MiB |\n<!-- bench:x:end -->';
    expect(benchFigure(sample, 'x|a|peak RSS')).toBe('5 MiB');
    expect(() => benchFigure(sample, 'x|b|peak RSS')).toThrow(/no table/);
    expect(() => benchFigure(sample, 'y|a|peak RSS')).toThrow(/no section/);
  });

  test('the changelog page lists every pending changeset', () => {
    const text = pageText('changelog.html');
    const dir = join(rootDir, '.changeset');
    const files = walk(dir).filter((path) => path.endsWith('.md') && !path.endsWith('README.md'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(text).toContain(`.changeset/${file.slice(dir.length + 1)}`);
  });

  test('a type an adapter re-exports from @lac/core is documented once, on core pages, and linked from the adapter', () => {
    const index = readFileSync(join(rootDir, 'packages', 'web-streams', 'src', 'index.ts'), 'utf8');
    const reExported = [...index.matchAll(/export type \{([^}]*)\} from '@lac\/core'/g)].flatMap((match) =>
      match[1]!
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    );
    expect(reExported.length).toBeGreaterThan(0);
    const adapterPages = walk(join(distDir, 'api', 'web-streams')).map((path) => path.split('/').pop());
    const adapterIndex = readFileSync(join(distDir, 'api', 'web-streams', 'index.html'), 'utf8');
    for (const name of reExported) {
      expect(adapterPages, name).not.toContain(`${name}.html`);
      expect(
        walk(join(distDir, 'api', 'core')).some((path) => path.endsWith(`/${name}.html`)),
        name,
      ).toBe(true);
      expect(adapterIndex).toMatch(new RegExp(`href="[^"]*core/[a-z-]+/${name}(\\.html)?"`));
    }
  });
});

describe('the API reference has prose', () => {
  const callables = exportedCallables();

  test('every exported function and class constructor documents each parameter, its return value, what it throws, and an example', () => {
    expect(callables.length).toBeGreaterThan(10);
    const missing = callables
      .filter(({ missingTags }) => missingTags.length > 0)
      .map(({ dir, name, missingTags }) => `${dir} ${name}: ${missingTags.join(', ')}`);
    expect(missing).toEqual([]);
  });

  test("each function's reference page shows its parameters' descriptions and its return value", () => {
    for (const { dir, name, kind } of callables.filter((callable) => callable.kind === 'function')) {
      const text = pageText(join('api', dir, kind === 'function' ? 'functions' : 'classes', `${name}.html`));
      expect(text, `${dir} ${name}`).toMatch(/Parameters[\s\S]*Returns/);
      expect(text, `${dir} ${name}`).toMatch(/Throws/);
    }
  });
});
