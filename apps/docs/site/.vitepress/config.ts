import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type DefaultTheme } from 'vitepress';

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
    ],
  },
];

export default defineConfig({
  title: '@lac',
  description: 'Run many async tasks with limited concurrency and get each result as soon as it is ready.',
  lang: 'en-US',
  outDir: '../dist',
  // Generated partials are included into pages, not pages of their own.
  srcExclude: ['generated/**'],
  lastUpdated: false,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: '/favicon.svg' }]],
  themeConfig: {
    logo: '/favicon.svg',
    nav: [
      { text: 'Guide', link: '/getting-started' },
      { text: 'Timeline', link: '/timeline' },
      { text: 'Comparison', link: '/comparison' },
      { text: 'API', link: '/api/' },
    ],
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
