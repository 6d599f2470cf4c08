import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  // @lac/shared (private, never published) is bundled in, so it is never a runtime dependency.
  noExternal: ['@lac/shared'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'node',
});
