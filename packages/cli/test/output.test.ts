import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, lac, start, tempDir, waitFor } from './helpers.js';

beforeAll(ensureBuilt, 120_000);

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.dispose());

describe('grouped output (the default)', () => {
  it("prints each job's stdout then its stderr whole, never interleaved with another job's", async () => {
    const items = Array.from({ length: 12 }, (_, i) => `job${i}`);
    // Every job writes in three pieces with pauses between, while 6 others run.
    const template = 'echo {} out1; sleep 0.05; echo {} err >&2; sleep 0.05; echo {} out2';
    const result = await lac(['-j', '6', template, ':::', ...items], { mergeStderr: true });
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(36);
    for (let at = 0; at < lines.length; at += 3) {
      const job = lines[at]!.split(' ')[0];
      expect(lines.slice(at, at + 3)).toEqual([`${job} out1`, `${job} out2`, `${job} err`]);
    }
    expect(new Set(lines.map((line) => line.split(' ')[0])).size).toBe(12);
  });

  it('-k prints in input order even when later jobs finish first', async () => {
    const result = await lac(['-k', '-j', '4', 'sleep 0.{}; echo {}', ':::', '4', '3', '2', '1']);
    expect(result.stdout).toBe('4\n3\n2\n1\n');
  });

  it('--tag prefixes every line of stdout and stderr with the item and a tab', async () => {
    const result = await lac(['--tag', '-k', 'echo one; echo two; echo three >&2; echo', ':::', 'a b']);
    expect(result.stdout).toBe('a b\tone\na b\ttwo\na b\ta b\n');
    expect(result.stderr).toBe('a b\tthree\n');
  });
});

describe('--line-buffer', () => {
  it('prints complete lines while the job is still running', async () => {
    dir = tempDir();
    const gate = join(dir.path, 'gate');
    const { child, result } = start([
      '--line-buffer',
      `echo first {}; while [ ! -e ${gate} ]; do sleep 0.01; done; echo second {}`,
      ':::',
      'x',
    ]);
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    await waitFor(() => seen.includes('first x\n'), 'the first line before the job ends');
    expect(seen).not.toContain('second');
    writeFileSync(gate, '');
    const { code, stdout } = await result;
    expect(code).toBe(0);
    expect(stdout).toBe('first x\nsecond x\n');
  });

  it("with -k holds a later job's lines until the earlier job is done", async () => {
    dir = tempDir();
    const gate = join(dir.path, 'gate');
    const laterDone = join(dir.path, 'later-done');
    const template = `if [ {} = 1 ]; then echo one-a; while [ ! -e ${gate} ]; do sleep 0.01; done; echo one-b; else echo two; touch ${laterDone}; fi`;
    const { child, result } = start(['-k', '--line-buffer', '-j', '2', template, ':::', '1', '2']);
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    await waitFor(() => seen.includes('one-a\n') && existsSync(laterDone), 'job 1 printing and job 2 finishing');
    expect(seen).not.toContain('two');
    writeFileSync(gate, '');
    const { stdout } = await result;
    expect(stdout).toBe('one-a\none-b\ntwo\n');
  });
});

describe('streaming input', () => {
  it('starts jobs before stdin closes', async () => {
    dir = tempDir();
    const { child, result } = start(['-j', '2', 'touch', `${dir.path}/{}`]);
    child.stdin!.write('first\n');
    // The job for the first line runs while stdin is still open.
    await waitFor(() => existsSync(join(dir!.path, 'first')), 'the first job to run');
    expect(child.exitCode).toBeNull();
    child.stdin!.end('second\n');
    const { code } = await result;
    expect(code).toBe(0);
    expect(existsSync(join(dir.path, 'second'))).toBe(true);
  });

  it('reads stdin only as jobs can start, so a huge input stays in flat memory', async () => {
    dir = tempDir();
    const gate = join(dir.path, 'gate');
    const started = join(dir.path, 'started');
    const { child, result } = start(['-j', '1', `touch ${started}; while [ ! -e ${gate} ]; do sleep 0.01; done; : {}`]);
    const line = `${'x'.repeat(99)}\n`;
    const input = Buffer.from(line.repeat(200_000)); // 20 MB, 200,000 items
    // lac is killed with input still unread: the pipe then breaks, as expected.
    child.stdin!.on('error', () => {});
    child.stdin!.write(input);
    child.stdin!.end();
    await waitFor(() => existsSync(started), 'the first job to start');
    // Wait until lac stops taking input while its only job is blocked.
    let last = -1;
    await waitFor(() => {
      const pending = child.stdin!.writableLength;
      const isStable = pending === last;
      last = pending;
      return isStable;
    }, 'stdin to stall');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const consumed = input.length - child.stdin!.writableLength;
    // Pipe buffers and one read chunk, not the 20 MB.
    expect(consumed).toBeLessThan(2_000_000);
    child.kill('SIGTERM');
    expect((await result).code).toBe(143);
  });

  it('-j 0 runs every job at once', async () => {
    dir = tempDir();
    // Each job waits until all five have started: it only ends if nothing limits them.
    const template = `touch ${dir.path}/{}; while [ $(ls ${dir.path} | wc -l) -lt 5 ]; do sleep 0.01; done; echo {}`;
    const result = await lac(['-j', '0', '-k', template, ':::', '1', '2', '3', '4', '5']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('1\n2\n3\n4\n5\n');
  });

  it('--rate lets every job run', async () => {
    const result = await lac(['--rate', '1000/s', '-k', 'echo', ':::', 'a', 'b', 'c']);
    expect(result.stdout).toBe('a\nb\nc\n');
  });

  it('--bar draws nothing when stderr is not a terminal', async () => {
    const result = await lac(['--bar', 'echo', ':::', 'a']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('a\n');
  });
});
