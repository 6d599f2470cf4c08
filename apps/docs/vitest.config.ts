import { lacVitestConfig } from '../../vitest.shared.ts';

export default lacVitestConfig({
  // Builds the site once (when dist/ is missing) before the tests that read it.
  globalSetup: ['test/global-setup.ts'],
  hookTimeout: 120_000,
  testTimeout: 120_000,
});
