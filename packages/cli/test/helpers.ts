import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageDir = fileURLToPath(new URL('..', import.meta.url));
/** The built CLI; `LAC_TEST_BIN` points the tests at another build (to check that a new test fails on the old code). */
export const bin = process.env.LAC_TEST_BIN ?? join(packageDir, 'dist', 'cli.js');

/** Builds the package once if dist is missing: the tests run the real built binary. */
export function ensureBuilt(): void {
  if (existsSync(bin)) return;
  execFileSync(process.execPath, [join(packageDir, 'node_modules', 'tsup', 'dist', 'cli-default.js')], {
    cwd: packageDir,
    stdio: 'ignore',
  });
}

export interface Result {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as bytes. */
  readonly stdoutBytes: Buffer;
}

export interface RunOptions {
  readonly input?: string | Buffer;
  /** Shell commands run before lac is exec'ed in the same process (`ulimit -n 64`, say). */
  readonly prelude?: string;
  /** Options for node itself (`--expose-gc`). */
  readonly nodeArgs?: readonly string[];
  readonly cwd?: string;
  /** Send stderr into the same pipe as stdout, to see how the two interleave. */
  readonly mergeStderr?: boolean;
  /** Variables added to lac's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts `lac ARGS` and returns the child plus a promise of its result. */
export function start(
  args: readonly string[],
  options: RunOptions = {},
): { child: ChildProcess; result: Promise<Result> } {
  const nodeArgs = options.nodeArgs ?? [];
  const env = options.env === undefined ? undefined : { ...process.env, ...options.env };
  const child =
    options.mergeStderr || options.prelude !== undefined
      ? spawn(
          '/bin/sh',
          [
            '-c',
            `${options.prelude ?? ':'}; exec "$0" "$@"${options.mergeStderr ? ' 2>&1' : ''}`,
            process.execPath,
            ...nodeArgs,
            bin,
            ...args,
          ],
          {
            cwd: options.cwd,
            env,
            stdio: ['pipe', 'pipe', 'pipe'],
          },
        )
      : spawn(process.execPath, [...nodeArgs, bin, ...args], {
          cwd: options.cwd,
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
  // lac may exit before reading all its input.
  child.stdin!.on('error', () => {});
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const result = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(stdout);
      resolve({ code, signal, stdout: stdoutBytes.toString(), stderr, stdoutBytes });
    });
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  return { child, result };
}

/** Runs `lac ARGS` to the end. Stdin is closed at once unless `input` is given. */
export function lac(args: readonly string[], options: RunOptions = {}): Promise<Result> {
  const { result } = start(args, { ...options, input: options.input ?? '' });
  return result;
}

/** A temporary directory removed by `dispose()`. */
export function tempDir(): { path: string; dispose(): void } {
  const path = mkdtempSync(join(tmpdir(), 'lac-cli-test-'));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls until `check()` is truthy; no test asserts on how long that took. */
export async function waitFor<T>(check: () => T | undefined | false, what: string, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** True while `pid` is a live process (a zombie left for a reaper counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export function readLines(path: string): string[] {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
    : [];
}

/** True when GNU parallel is installed: the side-by-side tests compare against it. */
export const hasGnuParallel = (() => {
  try {
    return execFileSync('parallel', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).startsWith('GNU parallel');
  } catch {
    return false;
  }
})();

/** Throws unless GNU parallel is installed: a side-by-side test fails, saying why, rather than pass unchecked. */
export function requireGnuParallel(): void {
  if (!hasGnuParallel)
    throw new Error(
      'GNU parallel is not installed: run `apt-get install parallel` (scripts/provision.mjs does it for the test command)',
    );
}

/** Runs GNU parallel with the same arguments, its jobs under /bin/sh as lac's are. */
export function gnuParallel(
  args: readonly string[],
  options: { input?: string | Buffer; cwd?: string } = {},
): Promise<Result> {
  const child = spawn('parallel', args, {
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, SHELL: '/bin/sh', PARALLEL_HOME: join(tmpdir(), 'lac-cli-test-parallel-home') },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, stdoutBytes: Buffer.from(stdout) }));
  });
}

/** The parent pid of `pid`, from /proc. */
export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
