import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageDir = fileURLToPath(new URL('..', import.meta.url));
export const bin = join(packageDir, 'dist', 'cli.js');

/** Builds the package once if dist is missing: the tests run the real built binary. */
export function ensureBuilt(): void {
  if (existsSync(bin)) return;
  execFileSync(process.execPath, [join(packageDir, 'node_modules', 'tsup', 'dist', 'cli-default.js')], { cwd: packageDir, stdio: 'ignore' });
}

export interface Result {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string;
  readonly cwd?: string;
  /** Send stderr into the same pipe as stdout, to see how the two interleave. */
  readonly mergeStderr?: boolean;
}

/** Starts `lac ARGS` and returns the child plus a promise of its result. */
export function start(args: readonly string[], options: RunOptions = {}): { child: ChildProcess; result: Promise<Result> } {
  const child = options.mergeStderr
    ? spawn('/bin/sh', ['-c', '"$0" "$@" 2>&1', process.execPath, bin, ...args], { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, [bin, ...args], { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const result = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
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
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line !== '') : [];
}
