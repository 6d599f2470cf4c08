// core.checks.mjs against the built @lac/core on Deno, Bun, headless Chromium and a plain Node
// process. The runtime driver (esbuild, playwright-core, deno, bun) lives in @lac/web-streams' tests.
import { fileURLToPath } from 'node:url';
import { defineRuntimeSuites } from '../../../web-streams/test/runtimes/runtime-suites.ts';
import { checks } from './core.checks.mjs';

defineRuntimeSuites(
  '@lac/core',
  fileURLToPath(new URL('./core.checks.mjs', import.meta.url)),
  checks.map((check) => check.name),
  ['core'],
);
