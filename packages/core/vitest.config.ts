import { lacVitestConfig } from '../../vitest.shared.ts';

// test/setup.ts: every test runs under the unhandled-rejection watch.
export default lacVitestConfig({ setupFiles: ['test/setup.ts'] });
