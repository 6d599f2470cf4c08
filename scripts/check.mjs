// `pnpm check`: every static check, in one command, in the order CI runs them (before the tests).
// Each step runs even when an earlier one failed, so one run shows every problem; the exit status
// is 1 when any step failed. `node scripts/check.mjs lint types` runs only the named steps.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const workspaceDirs = ['packages', 'apps']
  .flatMap((group) =>
    existsSync(join(root, group)) ? readdirSync(join(root, group)).map((name) => join(group, name)) : [],
  )
  .filter((dir) => existsSync(join(root, dir, 'package.json')))
  .sort();

const run = (command, args, cwd = root) =>
  spawnSync(command, args, { cwd, stdio: 'inherit', env: process.env }).status === 0;

/** @type {Record<string, { what: string, run: () => boolean }>} */
const steps = {
  lint: {
    what: 'biome: lint and format check (biome.json)',
    run: () => run('biome', ['ci', '--error-on-warnings', '.']),
  },
  knip: { what: 'knip: unused files, exports and dependencies (knip.json)', run: () => run('knip', []) },
  build: {
    what: "turbo: build every package (the src type-checks of adapters read core's built .d.ts, as users do)",
    run: () => run('turbo', ['run', 'build', '--filter=./packages/*', '--output-logs=errors-only']),
  },
  types: {
    what: 'tsc: sources, tests and type tests (expectTypeOf) of every package',
    run: () => {
      let ok = true;
      for (const dir of workspaceDirs) {
        const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
        if (!pkg.scripts?.typecheck) continue;
        console.log(`--- ${pkg.name}: typecheck`);
        ok = run('pnpm', ['run', '--silent', 'typecheck'], join(root, dir)) && ok;
      }
      return ok;
    },
  },
  packs: {
    what: 'pnpm pack of every published package: no workspace: ranges, LICENSE, README and every exported file inside',
    run: () => run('node', ['scripts/check-packs.mjs']),
  },
  size: {
    what: "bundle-size budgets of core's entry points (scripts/check-size.mjs)",
    run: () => run('node', ['scripts/check-size.mjs']),
  },
  packages: {
    what: 'publint --strict and attw --pack on every published package',
    run: () =>
      run('turbo', ['run', 'lint:package', '--filter=./packages/*', '--continue', '--output-logs=errors-only']),
  },
};

const only = process.argv.slice(2);
const unknown = only.filter((name) => !(name in steps));
if (unknown.length > 0) {
  console.error(`unknown step(s): ${unknown.join(', ')}; the steps are: ${Object.keys(steps).join(', ')}`);
  process.exit(2);
}
const results = [];
for (const [name, step] of Object.entries(steps)) {
  if (only.length > 0 && !only.includes(name)) continue;
  console.log(`\n=== check ${name}: ${step.what} ===`);
  results.push({ name, ok: step.run() });
}
console.log('\n=== check summary ===');
for (const { name, ok } of results) console.log(`${name}: ${ok ? 'ok' : 'FAILED'}`);
const failed = results.filter((result) => !result.ok).length;
console.log(failed === 0 ? 'check: all passed' : `check: ${failed} step(s) failed`);
process.exitCode = failed === 0 ? 0 : 1;
