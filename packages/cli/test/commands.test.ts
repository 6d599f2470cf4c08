import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { bin, ensureBuilt, lac, packageDir, start, tempDir, waitFor } from './helpers.js';

beforeAll(ensureBuilt, 120_000);

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.dispose());

const keepAlive = join(packageDir, 'test', 'fixtures', 'keep-alive.mjs');
const holdUntilStdinEnds = join(packageDir, 'test', 'fixtures', 'hold-until-stdin-ends.mjs');

/** What the child has written to a stream so far, read as it comes. */
function collect(stream: NodeJS.ReadableStream): () => string {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

/** With `holdUntilStdinEnds` loaded: closes lac's stdout, then lets lac start, so its first write gets EPIPE. */
async function startWithStdoutClosed(child: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => child.stdout!.once('close', resolve));
  child.stdout!.destroy();
  await closed;
  child.stdin!.end();
}

const packageJson = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string };

describe('lac demo', () => {
  it('runs 100 tasks at most 10 at once, printing Starting/Finishing/Result, and reports a peak of 10', async () => {
    const result = await lac(['demo']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const last = lines.pop()!;
    expect(last).toMatch(/^Done: 100 tasks in \d+\.\d\d s, peak in flight 10 \(limit 10\)$/);
    expect(lines).toHaveLength(300);
    expect(lines.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `Starting ${i + 1}`));
    const position = new Map(lines.map((line, at) => [line, at]));
    for (let n = 1; n <= 100; n++) {
      const started = position.get(`Starting ${n}`);
      const finished = position.get(`Finishing ${n}`);
      const result = position.get(`Result ${n}`);
      expect(started !== undefined && finished !== undefined && result !== undefined).toBe(true);
      expect(started! < finished! && finished! < result!).toBe(true);
    }
    // Never more than 10 started and not yet finished.
    let inFlight = 0;
    for (const line of lines) {
      if (line.startsWith('Starting')) inFlight++;
      if (line.startsWith('Finishing')) inFlight--;
      expect(inFlight).toBeLessThanOrEqual(10);
    }
  });

  for (const [signal, status] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`on ${signal}, starts nothing new, stops the running tasks and exits ${status} with one line on stderr`, async () => {
      // Task n sleeps 600/n s: nothing finishes before the signal.
      const { child, result } = start(['demo'], { env: { LAC_DEMO_UNIT_MS: '600000' } });
      const stdout = collect(child.stdout!);
      await waitFor(() => stdout().includes('Starting 10\n'), 'the first 10 tasks to start');
      child.kill(signal);
      const { code, stderr } = await result;
      expect(code).toBe(status);
      expect(stdout().trim().split('\n')).toEqual(Array.from({ length: 10 }, (_, i) => `Starting ${i + 1}`));
      // No stack trace, no unhandled rejection: the summary alone.
      expect(stderr).toBe(`lac demo: interrupted by ${signal}: 0 of 100 tasks done, 10 running stopped\n`);
    });
  }

  it('a second SIGINT forces the exit when something still holds the process after the first', async () => {
    const { child, result } = start(['demo'], {
      env: { LAC_DEMO_UNIT_MS: '600000' },
      nodeArgs: ['--import', keepAlive],
    });
    const stdout = collect(child.stdout!);
    const stderr = collect(child.stderr!);
    await waitFor(() => stdout().includes('Starting 10\n'), 'the first 10 tasks to start');
    child.kill('SIGINT');
    await waitFor(() => stderr().includes('interrupted by SIGINT'), 'the demo to stop');
    child.kill('SIGINT');
    const { code, signal } = await result;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
  });

  it('stops at once and exits 255 without a stack trace when its stdout goes away (lac demo | head -1)', async () => {
    const { child, result } = start(['demo'], {
      env: { LAC_DEMO_UNIT_MS: '600000' },
      nodeArgs: ['--import', holdUntilStdinEnds],
    });
    await startWithStdoutClosed(child);
    const { code, stderr } = await result;
    expect(code).toBe(255);
    expect(stderr).toBe('');
  });
});

describe('a closed stdout', () => {
  for (const args of [['--help'], ['fetch', '--help'], ['--version']]) {
    it(`lac ${args.join(' ')} | head -1: exits 255 without a stack trace`, async () => {
      const { child, result } = start(args, { nodeArgs: ['--import', holdUntilStdinEnds] });
      await startWithStdoutClosed(child);
      const { code, stderr } = await result;
      expect(stderr).toBe('');
      expect(code).toBe(255);
    });
  }
});

describe('help and version', () => {
  it('--version prints the package version', async () => {
    const result = await lac(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${packageJson.version}\n`, stderr: '' });
  });

  it('lac --help shows every option with an example, the replacement strings and the exit statuses', async () => {
    const result = await lac(['--help']);
    expect(result.code).toBe(0);
    for (const option of [
      '--jobs',
      '--keep-order',
      '--arg-file',
      '--null',
      '--line-buffer',
      '--tag',
      '--halt',
      '--retries',
      '--timeout',
      '--joblog',
      '--bar',
      '--dry-run',
      '--rate',
      '--version',
      '--help',
    ]) {
      const at = result.stdout.indexOf(option);
      expect(at, option).toBeGreaterThan(-1);
      // Each option's text (up to the next option) carries an example.
      const rest = result.stdout.slice(at);
      const next = rest.slice(option.length).search(/\n {2}-/);
      expect(rest.slice(0, next === -1 ? undefined : next + option.length), option).toContain('e.g.');
    }
    for (const token of ['{}', '{.}', '{/}', '{//}', '{/.}', '{#}', '{%}', 'lac fetch', 'lac demo', '101'])
      expect(result.stdout).toContain(token);
  });

  it('lac fetch --help shows every fetch option with an example', async () => {
    const result = await lac(['fetch', '--help']);
    expect(result.code).toBe(0);
    for (const option of [
      '--jobs',
      '--keep-order',
      '--arg-file',
      '--retries',
      '--backoff',
      '--timeout',
      '--rate',
      '--output-dir',
      '--bar',
    ]) {
      const at = result.stdout.indexOf(option);
      expect(at, option).toBeGreaterThan(-1);
      const rest = result.stdout.slice(at);
      const next = rest.slice(option.length).search(/\n {2}-/);
      expect(rest.slice(0, next === -1 ? undefined : next + option.length), option).toContain('e.g.');
    }
  });
});

describe('--bar on a terminal', () => {
  it('draws done/total with a rate and ETA on stderr', () => {
    // util-linux `script` gives lac a pseudo-terminal, so stderr is a TTY.
    const command = `${process.execPath} ${bin} --bar -j 2 true ::: 1 2 3 >/dev/null`;
    const output = execFileSync('/usr/bin/script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    expect(output).toContain('3/3 jobs');
    expect(output).toMatch(/\/s \| ETA/);
  });
});

describe('the packed package', () => {
  it('installs from tarballs with npm and its `lac` bin runs', () => {
    dir = tempDir();
    const pnpm = ['-y', 'pnpm@12.4.2'];
    // pnpm pack, not npm pack: it rewrites `workspace:^` to the real version range, as publishing does.
    for (const pkg of ['core', 'cli']) {
      execFileSync('npx', [...pnpm, 'pack', '--pack-destination', dir.path], {
        cwd: join(packageDir, '..', pkg),
        stdio: 'ignore',
      });
    }
    const tarballs = readdirTarballs(dir.path);
    expect(tarballs).toHaveLength(2);
    const app = join(dir.path, 'app');
    execFileSync('mkdir', ['-p', app]);
    execFileSync('npm', ['init', '-y'], { cwd: app, stdio: 'ignore' });
    execFileSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs.map((file) => join(dir!.path, file))],
      { cwd: app, stdio: 'ignore' },
    );
    const lacBin = join(app, 'node_modules', '.bin', 'lac');
    expect(execFileSync(lacBin, ['--version'], { encoding: 'utf8' })).toBe(`${packageJson.version}\n`);
    expect(execFileSync(lacBin, ['-k', 'echo', '{}', ':::', 'a', 'b c'], { encoding: 'utf8' })).toBe('a\nb c\n');
    // The programmatic entry resolves in both module systems.
    const cjs = execFileSync(process.execPath, ['-e', "console.log(typeof require('@lac/cli').main)"], {
      cwd: app,
      encoding: 'utf8',
    });
    expect(cjs).toBe('function\n');
  }, 240_000);
});

function readdirTarballs(path: string): string[] {
  return execFileSync('ls', [path], { encoding: 'utf8' })
    .split('\n')
    .filter((name) => name.endsWith('.tgz'))
    .sort();
}
