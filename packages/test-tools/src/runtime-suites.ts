// Runs a file of runtime-neutral checks (see ./checks/harness.mjs) on Deno, Bun, headless Chromium
// and a plain Node process, against the BUILT packages, and turns every check into a vitest test
// per runtime, so the root `N passed, N failed` line counts them. Used by @lac/core's and
// @lac/web-streams' test/runtimes.test.ts (`@lac/test-tools/runtime-suites`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CHROMIUM_ARGS, CHROMIUM_ENV, findChromium, findProgram } from './programs.js';

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));
const testToolsDir = join(packagesDir, 'test-tools');
const harnessFile = fileURLToPath(new URL('./checks/harness.mjs', import.meta.url));

/** Where each `@lac/*` import of a check file resolves in the bundles: the package's built ESM entry. */
const builtEntries: Record<string, string> = {
  '@lac/core': join(packagesDir, 'core', 'dist', 'index.js'),
  '@lac/core/internal': join(packagesDir, 'core', 'dist', 'internal.js'),
  '@lac/web-streams': join(packagesDir, 'web-streams', 'dist', 'index.js'),
  // The checks' assertions are plain runtime-neutral ESM: bundled from source.
  '@lac/test-tools/assert': join(testToolsDir, 'src', 'checks', 'assert.mjs'),
};

// One variable names the browser for every browser test; else it is looked up on PATH.
const CHROMIUM = findChromium();

/**
 * Deno and Bun are installed when these suites first run, not by the workspace install (so
 * `pnpm install && pnpm demo` downloads neither): a copy on PATH is used, else the npm packages
 * are installed once into node_modules/.cache/lac-runtimes at the workspace root.
 */
const RUNTIME_PACKAGES = { deno: 'deno@2.9.6', bun: 'bun@1.4.5' } as const;
const runtimeCacheDir = join(packagesDir, '..', 'node_modules', '.cache', 'lac-runtimes');

function provisionRuntime(name: keyof typeof RUNTIME_PACKAGES): {
  path: string | undefined;
  problem: string | undefined;
} {
  const found = findProgram([name]);
  if (found !== undefined) return { path: found, problem: undefined };
  const cached = join(runtimeCacheDir, 'node_modules', '.bin', name);
  if (!existsSync(cached)) {
    // Both runtimes in one manifest: a later `npm install` of one would prune the other.
    mkdirSync(runtimeCacheDir, { recursive: true });
    const dependencies = Object.fromEntries(
      Object.values(RUNTIME_PACKAGES).map((spec) => spec.split('@') as [string, string]),
    );
    writeFileSync(join(runtimeCacheDir, 'package.json'), JSON.stringify({ private: true, dependencies }, null, 2));
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const install = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--no-package-lock'], {
      cwd: runtimeCacheDir,
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (install.status !== 0 || !existsSync(cached)) {
      const why = (install.stderr || install.error?.message || '').trim().split('\n').at(-1);
      return {
        path: undefined,
        problem: `skipped: ${name} is not on PATH and \`npm install ${RUNTIME_PACKAGES[name]}\` failed (${why}); install ${name} to run these tests`,
      };
    }
  }
  return { path: cached, problem: undefined };
}
const RUN_TIMEOUT_MS = 90_000;

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
}

export interface RuntimeReport {
  /** What the runtime said it is (e.g. `deno 2.9.6`); undefined when it never reported. */
  readonly runtime: string | undefined;
  readonly results: readonly CheckResult[];
  /** Why the runtime produced no report, or what went wrong around it. */
  readonly problem: string | undefined;
  /** Whether the process ended by itself after reporting (no timer or handle left open); undefined for the browser. */
  readonly exitedCleanly: boolean | undefined;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds a workspace package with its tsup when its dist is missing or older than its sources. */
export function ensureBuilt(packageName: string): void {
  const dir = join(packagesDir, packageName);
  const entry = join(dir, 'dist', 'index.js');
  if (existsSync(entry) && statSync(entry).mtimeMs >= newestMtime(join(dir, 'src'))) return;
  const result = spawnSync(join(dir, 'node_modules', '.bin', 'tsup'), [], { cwd: dir, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`building ${packageName} failed:\n${result.stdout}\n${result.stderr}`);
}

/** One ESM file holding the checks, the harness and the built packages; it reports and sets `globalThis.__lacReport`. */
export async function bundleChecks(checksFile: string): Promise<string> {
  const contents = [
    `import { checks } from ${JSON.stringify(checksFile)};`,
    `import { runChecks } from ${JSON.stringify(harnessFile)};`,
    'const report = await runChecks(checks);',
    'globalThis.__lacReport = report;',
    "console.log('LAC_REPORT ' + JSON.stringify(report));",
  ].join('\n');
  const result = await build({
    stdin: { contents, resolveDir: testToolsDir, sourcefile: 'run-checks.mjs', loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'lac-built-packages',
        setup(pluginBuild) {
          pluginBuild.onResolve({ filter: /^@lac\// }, (args) => {
            const path = builtEntries[args.path];
            return path === undefined ? { errors: [{ text: `unknown workspace package ${args.path}` }] } : { path };
          });
        },
      },
    ],
  });
  return result.outputFiles[0]!.text;
}

function parseReport(stdout: string): { runtime: string; results: CheckResult[] } | undefined {
  const line = stdout.split('\n').find((text) => text.startsWith('LAC_REPORT '));
  return line === undefined ? undefined : JSON.parse(line.slice('LAC_REPORT '.length));
}

/** Runs the bundle as a program (Deno, Bun, Node) and waits for it to exit by itself. */
function runProcess(command: string, args: string[], file: string, cwd: string): Promise<RuntimeReport> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args, file], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let isTimedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      isTimedOut = true;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    const finish = (problem: string | undefined, code: number | null) => {
      clearTimeout(timer);
      const report = parseReport(stdout);
      resolve({
        runtime: report?.runtime,
        results: report?.results ?? [],
        problem: report === undefined ? (problem ?? `no report (exit ${code})\n${stdout}\n${stderr}`) : problem,
        exitedCleanly: report !== undefined && !isTimedOut && code === 0,
      });
    };
    child.on('error', (error) => finish(`could not start ${command}: ${error.message}`, null));
    child.on('close', (code) =>
      finish(
        isTimedOut
          ? `killed after ${RUN_TIMEOUT_MS} ms\n${stderr}`
          : code === 0
            ? undefined
            : `exit ${code}\n${stderr}`,
        code,
      ),
    );
  });
}

/** Serves the bundle from 127.0.0.1 and runs it as a module script in headless Chromium. */
async function runChromium(bundle: string, executablePath: string): Promise<RuntimeReport> {
  const page =
    '<!doctype html><meta charset="utf-8"><title>lac checks</title><script type="module" src="/run-checks.js"></script>';
  const server: Server = createServer((request, response) => {
    if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html' }).end(page);
    else if (request.url === '/run-checks.js')
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const browser = await chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS] });
  const pageErrors: string[] = [];
  try {
    const tab = await browser.newPage();
    tab.on('pageerror', (error) => pageErrors.push(error.message));
    await tab.goto(`http://127.0.0.1:${port}/`);
    await tab.waitForFunction(() => (globalThis as { __lacReport?: unknown }).__lacReport !== undefined, undefined, {
      timeout: RUN_TIMEOUT_MS,
    });
    const report = (await tab.evaluate(() => (globalThis as { __lacReport?: unknown }).__lacReport)) as {
      runtime: string;
      results: CheckResult[];
    };
    return {
      runtime: report.runtime,
      results: report.results,
      problem: pageErrors.length > 0 ? `page errors: ${pageErrors.join('; ')}` : undefined,
      exitedCleanly: undefined,
    };
  } catch (error) {
    return {
      runtime: undefined,
      results: [],
      problem: `${(error as Error).message}\n${pageErrors.join('\n')}`,
      exitedCleanly: undefined,
    };
  } finally {
    await browser.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

export const RUNTIMES = ['deno', 'bun', 'chromium', 'node-process'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** Runs the checks file on every runtime at once, after building the workspace packages it imports. */
export async function runEverywhere(
  checksFile: string,
  packages: readonly string[],
  programs: Readonly<Record<RuntimeName, string | undefined>>,
): Promise<Record<RuntimeName, RuntimeReport>> {
  for (const name of packages) ensureBuilt(name);
  const missing = (runtime: RuntimeName): Promise<RuntimeReport> =>
    Promise.resolve({
      runtime: undefined,
      results: [],
      problem: `${runtime} is not available`,
      exitedCleanly: undefined,
    });
  const bundle = await bundleChecks(checksFile);
  const dir = mkdtempSync(join(tmpdir(), 'lac-runtimes-'));
  try {
    const file = join(dir, 'run-checks.mjs');
    writeFileSync(file, bundle);
    const [deno, bun, chromiumReport, node] = await Promise.all([
      programs.deno === undefined
        ? missing('deno')
        : runProcess(programs.deno, ['run', '--quiet', '--no-prompt', '--no-config', '--no-lock'], file, dir),
      programs.bun === undefined ? missing('bun') : runProcess(programs.bun, ['run', '--no-install'], file, dir),
      programs.chromium === undefined ? missing('chromium') : runChromium(bundle, programs.chromium),
      runProcess(process.execPath, [], file, dir),
    ]);
    return { deno, bun, chromium: chromiumReport, 'node-process': node };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Declares, for each runtime, one vitest test per check (failing with the runtime's error), one that
 * every check reported, and one that the process exited by itself afterwards.
 */
export function defineRuntimeSuites(
  label: string,
  checksFile: string,
  checkNames: readonly string[],
  packages: readonly string[],
): void {
  const deno = provisionRuntime('deno');
  const bun = provisionRuntime('bun');
  const programs: Record<RuntimeName, string | undefined> = {
    deno: deno.path,
    bun: bun.path,
    chromium: CHROMIUM,
    'node-process': process.execPath,
  };
  // A runtime that is missing here is skipped, with the reason, and counted as skipped (never as passed).
  const skipReasons: Partial<Record<RuntimeName, string>> = {};
  if (deno.problem !== undefined) skipReasons.deno = deno.problem;
  if (bun.problem !== undefined) skipReasons.bun = bun.problem;
  if (CHROMIUM === undefined) {
    skipReasons.chromium = `skipped: Chromium was not found (Debian: apt-get install chromium; elsewhere set ${CHROMIUM_ENV} to a Chromium or Chrome binary)`;
  }
  for (const reason of Object.values(skipReasons)) console.warn(`${label}: ${reason}`);
  let reports: Record<RuntimeName, RuntimeReport>;
  beforeAll(async () => {
    reports = await runEverywhere(checksFile, packages, programs);
  }, 4 * RUN_TIMEOUT_MS);
  afterAll(() => {
    for (const name of RUNTIMES)
      if (reports?.[name]?.runtime) console.log(`${label} on ${name}: ${reports[name].runtime}`);
  });

  for (const runtime of RUNTIMES) {
    describe.skipIf(skipReasons[runtime] !== undefined)(`${label} on ${runtime}`, () => {
      it('runs and reports every check', () => {
        const report = reports[runtime];
        expect(report.problem, report.problem).toBeUndefined();
        expect(report.results.map((result) => result.name)).toEqual([...checkNames]);
      });
      if (runtime !== 'chromium') {
        it('exits by itself once the checks finish (no timer or handle left open)', () => {
          expect(reports[runtime].exitedCleanly).toBe(true);
        });
      }
      for (const name of checkNames) {
        it(name, () => {
          const result = reports[runtime].results.find((candidate) => candidate.name === name);
          expect(result, `${runtime} did not report this check`).toBeDefined();
          expect(result!.error).toBeUndefined();
          expect(result!.ok).toBe(true);
        });
      }
    });
  }
}
