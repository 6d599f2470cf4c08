// Bundle-size budgets of @lac/core's entry points: what an app pays, minified and gzipped, when it
// imports only one function from the package (esbuild, ESM, tree-shaken with `sideEffects: false`).
// Needs core built. Fails when a budget is exceeded; prints every size either way.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const core = `${root}packages/core/dist/index.js`;

/**
 * Budgets in bytes of min+gzip (1 KB = 1000 bytes). `allowance`, where set, is a temporary ceiling
 * above the budget: between the two the check warns but passes. limitedAsCompleted was 3548 B
 * before the issue-10 correctness fixes and the issue-12 push protocol, and is 4320 B after them
 * (2026-12-01): LimitedRun carries every option's code (rate, slots, ordered, settled, push input),
 * so a bundler cannot drop what a run does not use. The 3500 B budget is MISSED; the allowance
 * keeps CI meaningful (it fails on any further growth) until the engine is split into gates that
 * are only imported with their options. Remove the allowance once that lands.
 */
const budgets = [
  { imports: ['createLimiter'], budget: 1200 },
  { imports: ['limitedAsCompleted'], budget: 3500, allowance: 4400 },
];

let failed = 0;
for (const { imports, budget, allowance = budget } of budgets) {
  const names = imports.join(', ');
  const result = await build({
    stdin: {
      contents: `import { ${names} } from ${JSON.stringify(core)};\nglobalThis.__keep = [${names}];\n`,
      resolveDir: root,
    },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  });
  const code = result.outputFiles[0].contents;
  const size = gzipSync(code, { level: 9 }).length;
  const verdict = size <= budget ? 'ok  ' : size <= allowance ? 'WARN' : 'OVER';
  if (verdict === 'OVER') failed++;
  const limits = allowance > budget ? `budget ${budget} B, allowed for now up to ${allowance} B` : `budget ${budget} B`;
  console.log(`${verdict} import { ${names} } from '@lac/core': ${size} B min+gzip (${code.length} B min), ${limits}`);
}
if (failed > 0) {
  console.error(`${failed} bundle-size budget(s) exceeded`);
  process.exitCode = 1;
}
