import { fileURLToPath } from 'node:url';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
/** Installed in every package's run: the test that leaves a rejection unhandled fails by name. */
const unhandledWatch = `${packagesDir}test-tools/src/vitest-setup.ts`;

/**
 * The vitest config every workspace package shares: sibling `@lac/*` packages resolve to their
 * sources (tests need no build of their dependencies), and each run writes `test-results.json`,
 * which `scripts/test-all.mjs` sums into the closing `N passed, N failed` line. Every test runs
 * under the unhandled-rejection watch of `@lac/test-tools/vitest-setup`, before the package's own
 * setup files.
 */
export function lacVitestConfig(overrides: ViteUserConfig['test'] = {}): ViteUserConfig {
  return defineConfig({
    resolve: {
      alias: [
        { find: /^@lac\/core$/, replacement: `${packagesDir}core/src/index.ts` },
        { find: /^@lac\/core\/internal$/, replacement: `${packagesDir}core/src/internal.ts` },
        { find: /^@lac\/node-streams$/, replacement: `${packagesDir}node-streams/src/index.ts` },
        { find: /^@lac\/web-streams$/, replacement: `${packagesDir}web-streams/src/index.ts` },
        { find: /^@lac\/test-tools$/, replacement: `${packagesDir}test-tools/src/index.ts` },
        { find: /^@lac\/shared$/, replacement: `${packagesDir}shared/src/index.ts` },
      ],
    },
    test: {
      reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
      testTimeout: 30_000,
      ...overrides,
      setupFiles: [unhandledWatch, ...[overrides.setupFiles ?? []].flat()],
    },
  });
}
