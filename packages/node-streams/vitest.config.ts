import { lacVitestConfig } from '../../vitest.shared.ts';

// The type tests (test/*.test-d.ts) are checked by tsc as part of `vitest run`.
export default lacVitestConfig({
  typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: 'test/tsconfig.json' },
});
