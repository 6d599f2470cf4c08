// The same behaviour checks as web-streams.test.ts, against the built package, on Deno, Bun,
// headless Chromium and a plain Node process.
import { fileURLToPath } from 'node:url';
import { checks } from './checks/web-streams.checks.mjs';
import { defineRuntimeSuites } from '@lac/test-tools/runtime-suites';

defineRuntimeSuites(
  '@lac/web-streams',
  fileURLToPath(new URL('./checks/web-streams.checks.mjs', import.meta.url)),
  checks.map((check) => check.name),
  ['core', 'web-streams'],
);
