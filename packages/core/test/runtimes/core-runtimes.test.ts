// core.checks.mjs against the built @lac/core on Deno, Bun, headless Chromium and a plain Node
// process. The runtime driver (esbuild, playwright-core, deno, bun) lives in @lac/test-tools.
import { fileURLToPath } from 'node:url';
import { defineRuntimeSuites } from '@lac/test-tools/runtime-suites';
import { checks } from './core.checks.mjs';

defineRuntimeSuites(
  '@lac/core',
  fileURLToPath(new URL('./core.checks.mjs', import.meta.url)),
  checks.map((check) => check.name),
  ['core'],
);
