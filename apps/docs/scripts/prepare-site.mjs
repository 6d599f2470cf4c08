// Generates the parts of the site that must never drift from the repository, before VitePress runs:
//   site/api/<package>/...        the API reference, by typedoc + typedoc-plugin-markdown, from each
//                                 packages/<name>/src/index.ts that exists right now (TSDoc is the source)
//   site/api/index.md             the list of packages documented
//   site/generated/benchmarks.md  the root BENCHMARKS.md, headings moved one level down, included by
//                                 the Comparison page (never retyped)
//   site/generated/api-sidebar.json  the sidebar for /api/, read by .vitepress/config.ts
// All of these are gitignored: every build makes them afresh.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application } from 'typedoc';

const docsDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const siteDir = join(docsDir, 'site');
const rootDir = join(docsDir, '..', '..');
const apiDir = join(siteDir, 'api');
const generatedDir = join(siteDir, 'generated');

/** The packages the reference covers, in the order the site presents them. */
const PACKAGE_DIRS = ['core', 'node-streams', 'web-streams', 'cli', 'redis'];

rmSync(apiDir, { recursive: true, force: true });
rmSync(generatedDir, { recursive: true, force: true });
mkdirSync(apiDir, { recursive: true });
mkdirSync(generatedDir, { recursive: true });

// --- benchmarks -------------------------------------------------------------------------------
const benchmarksFile = join(rootDir, 'BENCHMARKS.md');
let benchmarks;
if (existsSync(benchmarksFile)) {
  // The page has its own h1 and an h2 for this section: drop the document's h1 (its title) and move
  // every other heading one level down, so its sections (## per package) nest under that h2.
  benchmarks = readFileSync(benchmarksFile, 'utf8')
    .replace(/^# .*\n/m, '')
    .replace(/^(#{2,6}) /gm, (_, hashes) => `${'#'.repeat(Math.min(6, hashes.length + 1))} `);
} else {
  benchmarks =
    '_No benchmark results are recorded in this checkout yet: run `pnpm bench` at the repository root to produce BENCHMARKS.md._\n';
}
writeFileSync(join(generatedDir, 'benchmarks.md'), benchmarks);

// --- API reference ----------------------------------------------------------------------------
const documented = [];
const sidebar = [];
for (const dir of PACKAGE_DIRS) {
  const packageDir = join(rootDir, 'packages', dir);
  const entry = join(packageDir, 'src', 'index.ts');
  if (!existsSync(entry) || !existsSync(join(packageDir, 'package.json'))) continue;
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const tsconfig = join(packageDir, 'tsconfig.json');
  const out = join(apiDir, dir);
  const app = await Application.bootstrapWithPlugins({
    entryPoints: [entry],
    ...(existsSync(tsconfig) ? { tsconfig } : {}),
    plugin: ['typedoc-plugin-markdown', 'typedoc-vitepress-theme'],
    out,
    docsRoot: siteDir,
    name: pkg.name,
    readme: 'none',
    // Other packages may be mid-change in this checkout: the reference documents what is there, and
    // each package's own typecheck is where type errors fail.
    skipErrorChecking: true,
    excludePrivate: true,
    excludeInternal: true,
    disableSources: true,
    gitRevision: 'main',
    hidePageHeader: true,
    entryFileName: 'index.md',
    sidebar: { autoConfiguration: true, format: 'vitepress', pretty: true, collapsed: true },
    logLevel: 'Warn',
  });
  const project = await app.convert();
  if (!project) throw new Error(`typedoc could not convert ${entry}`);
  await app.generateOutputs(project);
  const items = JSON.parse(readFileSync(join(out, 'typedoc-sidebar.json'), 'utf8'));
  rmSync(join(out, 'typedoc-sidebar.json'));
  documented.push({ dir, name: pkg.name, description: pkg.description ?? '' });
  sidebar.push({ text: pkg.name, link: `/api/${dir}/`, collapsed: true, items });
  console.log(`api: ${pkg.name} -> site/api/${dir}/`);
}
if (documented.length === 0) throw new Error('No package sources found under packages/*/src/index.ts');

writeFileSync(
  join(apiDir, 'index.md'),
  [
    '# API reference',
    '',
    "Generated at build time by typedoc from the TSDoc comments in each package's `src/index.ts`, so it always matches the code it was built from.",
    '',
    '| package | what it is |',
    '| --- | --- |',
    ...documented.map(
      ({ dir, name, description }) => `| [${name}](./${dir}/index.md) | ${description.replace(/\|/g, '\\|')} |`,
    ),
    '',
  ].join('\n'),
);
writeFileSync(
  join(generatedDir, 'api-sidebar.json'),
  JSON.stringify([{ text: 'API reference', link: '/api/', items: sidebar }], null, 2),
);
