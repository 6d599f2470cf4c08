import { defineConfig } from 'tsup';

const common = { sourcemap: true, target: 'es2022', platform: 'neutral' } as const;
// @lac/shared (private, never published) is bundled in, so it is never a runtime dependency.
const noExternal = ['@lac/shared'];

export default defineConfig([
  {
    // ESM: one entry per public piece plus the index, split into shared chunks, so a bundler that
    // imports only `createLimiter` (or only `limitedAsCompleted`) from the index drops the other
    // modules whole (`sideEffects: false`). Only the index and `internal` are exported; the other
    // entries exist to make the split. Budgets: scripts/check-size.mjs.
    ...common,
    noExternal,
    entry: {
      index: 'src/index.ts',
      internal: 'src/internal.ts',
      limiter: 'src/limiter.ts',
      'as-completed': 'src/as-completed.ts',
    },
    format: ['esm'],
    splitting: true,
    dts: { entry: { index: 'src/index.ts', internal: 'src/internal.ts' } },
  },
  {
    // CJS: one file per exported entry (bundlers tree-shake the ESM build; Node's require loads it at once).
    ...common,
    noExternal,
    entry: ['src/index.ts', 'src/internal.ts'],
    format: ['cjs'],
    dts: true,
  },
]);
