import { execFileSync } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadAverage, memAvailable, parseLoad, parseSize } from '../src/room.js';
import { ensureBuilt, lac, start, tempDir } from './helpers.js';

beforeAll(ensureBuilt, 120_000);

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.dispose());

const meminfo = (kB: number) => `MemTotal:       16000000 kB\nMemFree:          100000 kB\nMemAvailable:   ${kB} kB\n`;

/** A /proc stand-in whose meminfo is a FIFO: each time lac looks, the test chooses what it sees. */
function fifoProc(): { path: string; fifo: string } {
  dir = tempDir();
  const fifo = join(dir.path, 'meminfo');
  execFileSync('mkfifo', [fifo]);
  return { path: dir.path, fifo };
}

/** Puts a plain file with `text` at `path` in one step (rename), so lac never sees it half written. */
async function replaceWith(path: string, text: string): Promise<void> {
  await writeFile(`${path}.new`, text);
  await rename(`${path}.new`, path);
}

describe('--memfree and --load', () => {
  it('parse sizes with GNU parallel suffixes and loads as numbers or % of the CPUs', () => {
    expect([parseSize('512'), parseSize('1k'), parseSize('1K'), parseSize('2M'), parseSize('1g')]).toEqual([
      512,
      1000,
      1024,
      2 * 1024 ** 2,
      1e9,
    ]);
    expect(() => parseSize('1x')).toThrow(/Expected a size in bytes >= 1.*got `1x`/);
    expect(() => parseSize('0')).toThrow(/got `0`/);
    expect(parseLoad('2.5')).toBe(2.5);
    expect(parseLoad('100%')).toBeGreaterThanOrEqual(1);
    expect(() => parseLoad('-1')).toThrow(/Expected a load average > 0.*got `-1`/);
  });

  it('read MemAvailable and the 1-minute load from /proc text', () => {
    expect(memAvailable(meminfo(2048))).toBe(2048 * 1024);
    expect(memAvailable('MemTotal: 1 kB\n')).toBeUndefined();
    expect(loadAverage('0.52 0.58 0.59 1/467 12345\n')).toBe(0.52);
    expect(loadAverage('')).toBeUndefined();
  });

  it('--memfree waits while too little memory is available and starts the job once there is room', async () => {
    const proc = fifoProc();
    const run = start(['--memfree', '1G', 'echo', 'ran', ':::', 'a'], {
      prelude: `export LAC_PROC_DIR='${proc.path}'`,
      input: '',
    });
    // The write completes only once lac has opened the FIFO to look: that look finds 1 MB. Then a
    // plain file with 10 GB takes the FIFO's place, and the job starts only if lac looks again.
    await writeFile(proc.fifo, meminfo(1000));
    await replaceWith(proc.fifo, meminfo(10_000_000));
    const result = await run.result;
    expect(result).toMatchObject({ code: 0, stdout: 'ran a\n', stderr: '' });
  }, 20_000);

  it('a job waiting for --memfree room starts nothing after SIGINT', async () => {
    const proc = fifoProc();
    const run = start(['--memfree', '1G', 'echo', 'ran', ':::', 'a'], {
      prelude: `export LAC_PROC_DIR='${proc.path}'`,
      input: '',
    });
    await writeFile(proc.fifo, meminfo(1000));
    run.child.kill('SIGINT');
    const result = await run.result;
    expect(result).toMatchObject({ code: 130, stdout: '' });
  }, 20_000);

  it('--load waits while the load average is too high', async () => {
    dir = tempDir();
    const fifo = join(dir.path, 'loadavg');
    execFileSync('mkfifo', [fifo]);
    const run = start(['--load', '4', 'echo', 'ran', ':::', 'a'], {
      prelude: `export LAC_PROC_DIR='${dir.path}'`,
      input: '',
    });
    await writeFile(fifo, '9.00 8.00 7.00 3/400 1234\n');
    await replaceWith(fifo, '0.50 8.00 7.00 3/400 1234\n');
    const result = await run.result;
    expect(result).toMatchObject({ code: 0, stdout: 'ran a\n', stderr: '' });
  }, 20_000);

  it('refuses a --memfree that is not a size', async () => {
    const result = await lac(['--memfree', 'lots', 'echo', ':::', 'a']);
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/--memfree <size>' argument 'lots' is invalid/);
  });
});
