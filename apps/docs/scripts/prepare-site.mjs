// Generates the parts of the site that must never drift from the repository, before VitePress runs:
//   site/api/<package>/...        the API reference, by typedoc + typedoc-plugin-markdown, from each
//                                 packages/<name>/src/index.ts that exists right now (TSDoc is the source)
//   site/api/index.md             the list of packages documented
//   site/generated/benchmarks.md  the root BENCHMARKS.md, headings moved one level down, included by
//                                 the Comparison page (never retyped)
//   site/public/benchmarks/*.svg  the charts the benchmark scripts write beside BENCHMARKS.md
//   site/generated/api-sidebar.json  the sidebar for /api/, read by .vitepress/config.ts
//   site/changelog.md             the changelog: each package's CHANGELOG.md (released versions) and the
//                                 pending .changeset/*.md files (the next release), newest first
// All of these are gitignored: every build makes them afresh.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application, Converter, ReflectionKind } from 'typedoc';

const docsDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const siteDir = join(docsDir, 'site');
const rootDir = join(docsDir, '..', '..');
const apiDir = join(siteDir, 'api');
const generatedDir = join(siteDir, 'generated');

/** The packages the reference covers, in the order the site presents them. */
const PACKAGE_DIRS = ['core', 'node-streams', 'web-streams', 'cli', 'redis'];

/** Names an entry re-exports from another @lac package: documented once, on that package's pages. */
function reExportsFromSiblings(entrySource) {
  const code = entrySource.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  return [...code.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'@lac\/([\w-]+)'/g)].flatMap((match) =>
    match[1]
      .split(',')
      .map((name) => name.trim().replace(/^type\s+/, ''))
      .filter(Boolean)
      .map((name) => ({
        name: name
          .split(/\s+as\s+/)
          .pop()
          .trim(),
        from: match[2],
      })),
  );
}

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
    .replace(/^(#{2,6}) /gm, (_, hashes) => `${'#'.repeat(Math.min(6, hashes.length + 1))} `)
    // Charts are linked relative to the repository root; the site serves them from public/benchmarks/.
    .replace(/\]\(benchmarks\//g, '](/benchmarks/');
} else {
  benchmarks =
    '_No benchmark results are recorded in this checkout yet: run `pnpm bench` at the repository root to produce BENCHMARKS.md._\n';
}
writeFileSync(join(generatedDir, 'benchmarks.md'), benchmarks);
const chartsDir = join(rootDir, 'benchmarks');
const publicCharts = join(siteDir, 'public', 'benchmarks');
rmSync(publicCharts, { recursive: true, force: true });
if (existsSync(chartsDir)) {
  mkdirSync(publicCharts, { recursive: true });
  for (const name of readdirSync(chartsDir).filter((file) => file.endsWith('.svg'))) {
    copyFileSync(join(chartsDir, name), join(publicCharts, name));
  }
}

// --- API reference ----------------------------------------------------------------------------
const documented = [];
const sidebar = [];
/** The reference page of `name` in package `dir`, relative to another package's index page. */
function apiLink(dir, name) {
  for (const kind of ['interfaces', 'type-aliases', 'classes', 'functions', 'variables']) {
    if (existsSync(join(apiDir, dir, kind, `${name}.md`))) return `../${dir}/${kind}/${name}.md`;
  }
  return `../${dir}/index.md`;
}
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
  // Members inherited from outside the workspace (Node's Duplex and EventEmitter, say) are Node's to
  // document: the page says what the type extends and lists only what @lac adds. (Collected first:
  // removing while iterating would skip some.)
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const inherited = context.project
      .getReflectionsByKind(ReflectionKind.All)
      .filter((reflection) => reflection.inheritedFrom && !reflection.inheritedFrom.reflection);
    for (const reflection of inherited) context.project.removeReflection(reflection);
  });
  const project = await app.convert();
  if (!project) throw new Error(`typedoc could not convert ${entry}`);
  // A type an adapter re-exports from @lac/core is documented once, on core's pages.
  const reExports = reExportsFromSiblings(readFileSync(entry, 'utf8'));
  for (const { name } of reExports) {
    const reflection = project.children?.find((child) => child.name === name);
    if (reflection) project.removeReflection(reflection);
  }
  await app.generateOutputs(project);
  if (reExports.length > 0) {
    const index = join(out, 'index.md');
    writeFileSync(
      index,
      `${readFileSync(index, 'utf8').trimEnd()}\n\n## Re-exported\n\nAlso exported from this package, and documented with the package that defines them:\n\n${reExports
        .map(({ name, from }) => `- \`${name}\`: see [${name} in @lac/${from}](${apiLink(from, name)})`)
        .join('\n')}\n`,
    );
  }
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

// --- changelog ---------------------------------------------------------------------------------
/** The date a file was first committed (YYYY-MM-DD), or undefined outside a git checkout. */
function firstCommitted(path) {
  const log = spawnSync('git', ['log', '--diff-filter=A', '--format=%cs', '--', path], {
    cwd: rootDir,
    encoding: 'utf8',
  });
  return log.status === 0 ? log.stdout.trim().split('\n').pop() || undefined : undefined;
}
const changesetDir = join(rootDir, '.changeset');
const pending = (existsSync(changesetDir) ? readdirSync(changesetDir) : [])
  .filter((name) => name.endsWith('.md') && name !== 'README.md')
  .map((name) => {
    const text = readFileSync(join(changesetDir, name), 'utf8');
    const front = /^---\n([\s\S]*?)\n---\n?([\s\S]*)$/.exec(text);
    const bumps = [...(front?.[1] ?? '').matchAll(/^\s*["']?(@lac\/[\w-]+)["']?\s*:\s*(major|minor|patch)/gm)].map(
      (match) => ({ pkg: match[1], bump: match[2] }),
    );
    return { name, date: firstCommitted(join(changesetDir, name)) ?? '', bumps, body: (front?.[2] ?? text).trim() };
  })
  .filter((changeset) => changeset.bumps.length > 0)
  .sort((a, b) => b.date.localeCompare(a.date) || a.name.localeCompare(b.name));
const released = PACKAGE_DIRS.map((dir) => join(rootDir, 'packages', dir, 'CHANGELOG.md')).filter((path) =>
  existsSync(path),
);
writeFileSync(
  join(siteDir, 'changelog.md'),
  [
    '---',
    'description: What changed in each @lac package, built from the changesets in the repository (the pending ones and each package CHANGELOG).',
    '---',
    '',
    '# Changelog',
    '',
    "Built from the repository when the site is built: the [changesets](https://github.com/lac-dev/lac/tree/main/.changeset) not yet released, then each package's CHANGELOG.md. Every user-facing change gets a changeset, so this is the whole list.",
    '',
    '## Next release (pending changesets)',
    '',
    pending.length === 0 ? '_No pending changesets._' : '',
    ...pending.flatMap(({ name, date, bumps, body }) => [
      `### ${bumps.map(({ pkg, bump }) => `${pkg} (${bump})`).join(', ')}`,
      '',
      `<small>${date ? `${date}, ` : ''}<code>.changeset/${name}</code></small>`,
      '',
      body,
      '',
    ]),
    ...released.flatMap((path) => [
      readFileSync(path, 'utf8')
        .replace(/^# (.*)$/m, '## Released: $1')
        .replace(/^(#{2,5}) (?!Released)/gm, (_, hashes) => `${hashes}# `),
      '',
    ]),
  ].join('\n'),
);
console.log(
  `changelog: ${pending.length} pending changesets, ${released.length} CHANGELOG.md files -> site/changelog.md`,
);
