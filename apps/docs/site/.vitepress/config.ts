import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DefaultTheme, defineConfig } from 'vitepress';
import { readBenchmarks, renderFigures } from '../../../../scripts/bench-figures.mjs';
import { pageDescription, tableDataLabels } from './markdown.js';

const repository = 'https://github.com/lac-dev/lac';

const packagesDir = fileURLToPath(new URL('../../../../packages/', import.meta.url));
const apiSidebarFile = fileURLToPath(new URL('../generated/api-sidebar.json', import.meta.url));

/** Written by scripts/prepare-site.mjs (run before every dev and build); empty if it has not run. */
const apiSidebar: DefaultTheme.SidebarItem[] = existsSync(apiSidebarFile)
  ? (JSON.parse(readFileSync(apiSidebarFile, 'utf8')) as DefaultTheme.SidebarItem[])
  : [];

const guideSidebar: DefaultTheme.SidebarItem[] = [
  {
    text: 'Introduction',
    items: [
      { text: 'Getting started', link: '/getting-started' },
      { text: 'The original problem', link: '/the-original-problem' },
      { text: 'Live timeline', link: '/timeline' },
    ],
  },
  {
    text: 'Guides',
    items: [
      { text: 'Core', link: '/guide/core' },
      { text: 'Node streams', link: '/guide/node-streams' },
      { text: 'Web streams', link: '/guide/web-streams' },
      { text: 'CLI recipes', link: '/guide/cli' },
      { text: 'Sharing a limit across processes', link: '/guide/sharing-a-limit' },
      { text: 'Adaptive concurrency', link: '/guide/adaptive' },
    ],
  },
  {
    text: 'Reference',
    items: [
      { text: 'Comparison and benchmarks', link: '/comparison' },
      { text: 'API reference', link: '/api/' },
      { text: 'Changelog', link: '/changelog' },
    ],
  },
];

export default defineConfig({
  title: '@lac',
  description: 'Run many async tasks with limited concurrency and get each result as soon as it is ready.',
  lang: 'en-US',
  outDir: '../dist',
  // Generated partials are included into pages, not pages of their own.
  srcExclude: ['generated/**', 'parts/**'],
  lastUpdated: false,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: '/favicon.svg' }]],
  markdown: {
    config(md) {
      // Benchmark figures in prose come from BENCHMARKS.md (scripts/bench-figures.mjs), never typed by hand.
      md.core.ruler.before('normalize', 'lac-bench-figures', (state) => {
        if (state.src.includes('<!-- figure:')) state.src = renderFigures(state.src, readBenchmarks());
      });
      md.use(tableDataLabels);
    },
  },
  // Each page's description (for search engines and link previews) is its own first paragraph.
  transformPageData(pageData, { siteConfig }) {
    if (pageData.frontmatter.description) return;
    const description = pageDescription(readFileSync(join(siteConfig.srcDir, pageData.relativePath), 'utf8'));
    if (description) pageData.description = description;
  },
  themeConfig: {
    logo: '/favicon.svg',
    nav: [
      { text: 'Guide', link: '/getting-started' },
      { text: 'Timeline', link: '/timeline' },
      { text: 'Comparison', link: '/comparison' },
      { text: 'API', link: '/api/' },
      {
        text: 'Links',
        items: [
          { text: 'Repository', link: repository },
          { text: 'Issues', link: `${repository}/issues` },
          { text: 'npm: @lac/core', link: 'https://www.npmjs.com/package/@lac/core' },
          { text: 'npm: all @lac packages', link: 'https://www.npmjs.com/org/lac' },
          { text: 'Changelog', link: '/changelog' },
        ],
      },
    ],
    socialLinks: [{ icon: 'github', link: repository, ariaLabel: 'The @lac repository on GitHub' }],
    editLink: {
      // API pages and the changelog are generated: their edit link goes to what they are generated from.
      // (VitePress sends this function to the browser as source: it may not use anything from this file.)
      pattern: ({ filePath }) => {
        const repo = 'https://github.com/lac-dev/lac';
        const api = /^api\/([^/]+)\//.exec(filePath);
        if (api) return `${repo}/tree/main/packages/${api[1]}/src`;
        if (filePath === 'api/index.md') return `${repo}/tree/main/packages`;
        if (filePath === 'changelog.md') return `${repo}/tree/main/.changeset`;
        return `${repo}/edit/main/apps/docs/site/${filePath}`;
      },
      text: 'Edit this page on GitHub',
    },
    footer: {
      message: `MIT licensed. <a href="${repository}">Repository</a> · <a href="${repository}/issues">Issues</a> · <a href="https://www.npmjs.com/package/@lac/core">npm</a> · <a href="/changelog">Changelog</a>`,
      copyright: 'The @lac authors',
    },
    sidebar: {
      '/api/': apiSidebar,
      '/': guideSidebar,
    },
    outline: [2, 3],
    search: { provider: 'local' },
  },
  vite: {
    resolve: {
      // The site runs the workspace's own sources (Vite bundles them), so it never shows a stale build.
      alias: [
        { find: /^@lac\/core$/, replacement: `${packagesDir}core/src/index.ts` },
        { find: /^@lac\/web-streams$/, replacement: `${packagesDir}web-streams/src/index.ts` },
      ],
    },
  },
});
