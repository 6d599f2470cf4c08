import {
  type ChildProcess,
  execFileSync,
  spawn,
  type SpawnOptionsWithStdioTuple,
  type StdioNull,
  type StdioOptions,
  type StdioPipe,
} from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { constants } from 'node:os';
import { byteExactArgvScript, byteExactLineScript, hasEscapedBytes } from './bytes.js';
import type { RenderedCommand } from './template.js';

/** How long a job has to exit after SIGTERM before it gets SIGKILL. */
const KILL_GRACE_MS = 1000;

// Each job leads its own process group (detached), so a timeout or Ctrl-C reaches whatever the
// job started too (`sh -c 'a; b'` forks), and no grandchild outlives lac's stop.
const SPAWN_OPTIONS: SpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioPipe> = {
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
};

const resolved = new Map<string, string>();

/**
 * Whether any process of group `pgid` is still running. Linux: a look through /proc that skips
 * zombies (an orphan stays one forever under a PID 1 that does not reap, as in some containers);
 * elsewhere: whether the group can still be signalled.
 */
function isGroupRunning(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && Number(fields[2]) === pgid) return true;
  }
  return false;
}

/**
 * The program's path as execvp would find it, looked up once per name: otherwise every job's
 * child tries each PATH entry in turn (8 failed execve calls before /usr/bin on some machines).
 */
function resolveProgram(name: string): string {
  if (name.includes('/')) return name;
  let path = resolved.get(name);
  if (path === undefined) {
    path = name;
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      const candidate = join(dir === '' ? '.' : dir, name);
      try {
        accessSync(candidate, fsConstants.X_OK);
        if (statSync(candidate).isFile()) {
          path = candidate;
          break;
        }
      } catch {
        // Not here: try the next entry.
      }
    }
    resolved.set(name, path);
  }
  return path;
}

// tmpfs where there is one: the files live only as long as a job.
const CAPTURE_DIR = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const CAPTURE_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL;
let captureCount = 0;
let isCaptureBroken = false;

function openCaptureFile(): number {
  for (;;) {
    const path = join(CAPTURE_DIR, `lac-${process.pid}-${captureCount++}`);
    try {
      const fd = openSync(path, CAPTURE_FLAGS, 0o600);
      // Unlinked at once: nothing is left behind whatever happens to lac.
      unlinkSync(path);
      return fd;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Errors that mean "not now": too many open files or processes. The job is retried when another ends. */
const RESOURCE_ERRORS = new Set(['EMFILE', 'ENFILE', 'EAGAIN']);

/**
 * Two unlinked files for a job's stdout and stderr; undefined (use pipes) if the directory cannot
 * hold them; 'exhausted' when lac is out of file descriptors.
 */
function openCaptureFiles(): [number, number] | undefined | 'exhausted' {
  if (isCaptureBroken) return undefined;
  let first: number | undefined;
  try {
    first = openCaptureFile();
    return [first, openCaptureFile()];
  } catch (error) {
    if (first !== undefined) closeSync(first);
    if (RESOURCE_ERRORS.has((error as NodeJS.ErrnoException).code ?? '')) return 'exhausted';
    isCaptureBroken = true;
    return undefined;
  }
}

/** The system's limit on a command line (argv plus environment), looked up only when one was too long. */
function argMax(): string {
  try {
    return `${execFileSync('getconf', ['ARG_MAX'], { encoding: 'utf8' }).trim()} bytes`;
  } catch {
    return 'unknown';
  }
}

function commandBytes(command: RenderedCommand): number {
  const words = command.argv ?? ['/bin/sh', '-c', command.line];
  let bytes = 0;
  for (const word of words) bytes += Buffer.byteLength(word) + 1;
  return bytes;
}

function spawnError(error: NodeJS.ErrnoException, command: RenderedCommand): string {
  if (error.code === 'E2BIG') {
    return `lac: cannot run a job: its command line is ${commandBytes(command)} bytes, over the system's limit (ARG_MAX ${argMax()}, environment included; 131072 bytes per argument on Linux)\n`;
  }
  const name = command.argv?.[0] ?? '/bin/sh';
  return `lac: cannot run ${name.length > 200 ? `${name.slice(0, 200)}...` : name}: ${error.code ?? error.message}\n`;
}

/** The program and arguments to spawn for `command`, byte for byte (see bytes.ts). */
function spawnArgs(command: RenderedCommand): [string, string[]] {
  const { argv } = command;
  if (argv === undefined) {
    const line = command.line;
    return hasEscapedBytes(line) ? ['/bin/sh', ['-c', byteExactLineScript(line)]] : ['/bin/sh', ['-c', line]];
  }
  for (const word of argv) {
    if (hasEscapedBytes(word))
      return ['/bin/sh', ['-c', byteExactArgvScript([resolveProgram(argv[0]!), ...argv.slice(1)])]];
  }
  return [resolveProgram(argv[0]!), argv.slice(1)];
}

function readCaptureFiles(files: [number, number]): [Buffer, Buffer] {
  return [readAndClose(files[0]), readAndClose(files[1])];
}

function readAndClose(fd: number): Buffer {
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return Buffer.alloc(0);
    const buffer = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const count = readSync(fd, buffer, offset, size - offset, offset);
      if (count === 0) break;
      offset += count;
    }
    return offset === size ? buffer : buffer.subarray(0, offset);
  } finally {
    closeSync(fd);
  }
}

function failedToStart(startedAt: number, message: string, sink: OutputSink | undefined): JobOutcome {
  const buffer = Buffer.from(message);
  if (sink !== undefined) sink.data('stderr', buffer);
  return {
    exitCode: 126,
    signal: 0,
    isTimedOut: false,
    startedAt,
    runtime: 0,
    stdout: [],
    stderr: sink === undefined ? [buffer] : [],
    received: 0,
  };
}

function exhausted(startedAt: number, code: string): JobOutcome {
  return {
    exitCode: 126,
    signal: 0,
    isTimedOut: false,
    startedAt,
    runtime: 0,
    stdout: [],
    stderr: [],
    received: 0,
    exhausted: code,
  };
}

/** Where a running job's output goes as it arrives (`--line-buffer`); grouped mode collects it instead. */
export interface OutputSink {
  data(stream: 'stdout' | 'stderr', chunk: Buffer): void;
}

/** One finished attempt of a job. */
export interface JobOutcome {
  /** Exit code; -1 when lac killed it for its timeout (as GNU parallel's joblog shows). */
  readonly exitCode: number;
  /** The number of the signal that ended it, 0 if none. */
  readonly signal: number;
  readonly isTimedOut: boolean;
  /** Start time, ms since the epoch. */
  readonly startedAt: number;
  /** Run time in ms. */
  readonly runtime: number;
  readonly stdout: Buffer[];
  readonly stderr: Buffer[];
  /** Bytes the job wrote to stdout. */
  readonly received: number;
  /** Set when the job could not start for want of file descriptors or processes (EMFILE...): try again later. */
  readonly exhausted?: string;
}

/** A spawned job: its process group can be signalled until it has exited. */
export class RunningJob {
  readonly done: Promise<JobOutcome>;
  #pid: number | undefined;
  #isExited = false;
  #killTimer: ReturnType<typeof setTimeout> | undefined;
  /** A signal went to the job's process group: it ends when the whole group has. */
  #isStopped = false;
  #timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  #isTimedOut = false;

  /** `input`: written to the job's stdin, which is then closed (`--pipe`); without it stdin is /dev/null. */
  constructor(command: RenderedCommand, timeoutMs: number | undefined, sink: OutputSink | undefined, input?: Buffer) {
    const startedAt = Date.now();
    const started = performance.now();
    // Grouped output goes to two unlinked temporary files rather than pipes: the child writes
    // straight into them and lac reads them once at the end, which saves two pipes, two stream
    // objects and their events per job (a large share of lac's cost per job).
    const capture = sink === undefined ? openCaptureFiles() : undefined;
    if (capture === 'exhausted') {
      this.#isExited = true;
      this.done = Promise.resolve(exhausted(startedAt, 'EMFILE'));
      return;
    }
    const files = capture;
    let child: ChildProcess;
    try {
      const stdin = input === undefined ? 'ignore' : 'pipe';
      const options =
        files === undefined
          ? input === undefined
            ? SPAWN_OPTIONS
            : { stdio: ['pipe', 'pipe', 'pipe'] as StdioOptions, detached: true }
          : { stdio: [stdin, files[0], files[1]] as StdioOptions, detached: true };
      const [file, args] = spawnArgs(command);
      child = spawn(file, args, options);
    } catch (error) {
      // spawn() throws at once for arguments it cannot pass (a NUL byte, E2BIG): that job fails like a shell's 126.
      if (files !== undefined) readCaptureFiles(files);
      this.#isExited = true;
      const code = (error as NodeJS.ErrnoException).code ?? '';
      this.done = Promise.resolve(
        RESOURCE_ERRORS.has(code)
          ? exhausted(startedAt, code)
          : failedToStart(startedAt, spawnError(error as NodeJS.ErrnoException, command), sink),
      );
      return;
    }
    if (child.pid === undefined) {
      // EMFILE, ENFILE, EAGAIN, ENOENT, EACCES arrive as an 'error' event, with no stdio set up.
      this.#isExited = true;
      this.done = new Promise((resolve) => {
        child.once('error', (error: NodeJS.ErrnoException) => {
          if (files !== undefined) readCaptureFiles(files);
          const code = error.code ?? '';
          if (RESOURCE_ERRORS.has(code)) {
            resolve(exhausted(startedAt, code));
            return;
          }
          const message = `lac: ${command.argv?.[0] ?? '/bin/sh'}: ${code === 'ENOENT' ? 'command not found' : error.message}\n`;
          const outcome = failedToStart(startedAt, message, sink);
          resolve({ ...outcome, exitCode: code === 'ENOENT' ? 127 : 126 });
        });
      });
      return;
    }
    this.#pid = child.pid;
    if (input !== undefined) {
      // A job that exits without reading all of its input (EPIPE) is judged by its exit status alone.
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
    let stdout: Buffer[] = [];
    let stderr: Buffer[] = [];
    let received = 0;
    if (files !== undefined) {
      // Read when the job has ended, below.
    } else if (sink === undefined) {
      child.stdout!.on('data', (chunk: Buffer) => {
        received += chunk.length;
        stdout.push(chunk);
      });
      child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    } else {
      child.stdout!.on('data', (chunk: Buffer) => {
        received += chunk.length;
        sink.data('stdout', chunk);
      });
      child.stderr!.on('data', (chunk: Buffer) => sink.data('stderr', chunk));
    }
    if (timeoutMs !== undefined) {
      this.#timeoutTimer = setTimeout(() => {
        this.#isTimedOut = true;
        this.terminate();
      }, timeoutMs);
    }
    this.done = new Promise((resolve) => {
      let isSettled = false;
      const finish = (exitCode: number, signal: number) => {
        if (isSettled) return;
        isSettled = true;
        if (files !== undefined) {
          const [out, err] = readCaptureFiles(files);
          received = out.length;
          stdout = out.length > 0 ? [out] : [];
          stderr = err.length > 0 ? [err, ...stderr] : stderr;
        }
        this.#isExited = true;
        clearTimeout(this.#timeoutTimer);
        clearTimeout(this.#killTimer);
        resolve({
          exitCode: this.#isTimedOut ? -1 : exitCode,
          signal,
          isTimedOut: this.#isTimedOut,
          startedAt,
          runtime: performance.now() - started,
          stdout,
          stderr,
          received,
        });
      };
      child.on('error', (error: NodeJS.ErrnoException) => {
        // A spawned child's late error (a failed kill, say) changes nothing: 'close' still comes.
        void error;
      });
      child.on('close', (code, signal) => {
        const end = () => finish(code ?? 0, signal === null ? 0 : (constants.signals[signal] ?? 0));
        if (this.#isStopped) this.#whenGroupGone(end);
        else end();
      });
    });
  }

  /**
   * After a stop, the job ends only once its whole process group has: a background child of its
   * shell got the same signal but may still be exiting when the shell closes. Bounded: SIGKILL goes
   * to the group after the grace period (terminate's timer), and past twice that nobody is waited for.
   */
  #whenGroupGone(then: () => void): void {
    const pgid = this.#pid;
    if (pgid === undefined) {
      then();
      return;
    }
    const deadline = performance.now() + 2 * KILL_GRACE_MS;
    const check = (): void => {
      if (!isGroupRunning(pgid) || performance.now() > deadline) then();
      else setTimeout(check, 5);
    };
    check();
  }

  /** SIGTERM to the job's process group, then SIGKILL if it has not exited after a grace period. */
  terminate(): void {
    if (this.#isExited || this.#killTimer !== undefined) return;
    this.#signal('SIGTERM');
    this.#killTimer = setTimeout(() => this.kill(), KILL_GRACE_MS);
  }

  /** SIGKILL to the job's process group. */
  kill(): void {
    if (!this.#isExited) this.#signal('SIGKILL');
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.#pid === undefined) return;
    this.#isStopped = true;
    try {
      process.kill(-this.#pid, signal);
    } catch {
      // Already gone (ESRCH): nothing to stop.
    }
  }
}
