// Every code example on the site is a file in examples/: each one type-checks and runs, and prints
// what its page says it prints.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { findProgram, missingProgram } from '@lac/test-tools';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { docsDir, rootDir } from './site.js';

const hasRedisServer = findProgram(['redis-server']) !== undefined;
if (!hasRedisServer)
  console.warn(
    missingProgram('redis-server', 'Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis'),
  );

const examplesDir = join(docsDir, 'examples');
const exampleFiles = readdirSync(examplesDir)
  .filter((name) => name.endsWith('.ts'))
  .sort();
// Shell recipes for `lac`, run against the workspace's @lac/cli.
const cliSource = join(rootDir, 'packages', 'cli', 'src', 'cli.ts');
const cliExampleFiles = readdirSync(join(examplesDir, 'cli'))
  .filter((name) => name.endsWith('.sh'))
  .map((name) => `cli/${name}`)
  .sort();

function numberAfter(stdout: string, pattern: RegExp): number {
  const match = pattern.exec(stdout);
  expect(match, `output matching ${pattern}`).not.toBeNull();
  return Number(match![1]);
}

/** Examples that are not run on their own but as child processes of another example, which checks them. */
const runBy: Record<string, string> = {
  'redis-worker.ts': 'redis-shared-limit.ts',
};

/** What each example must print (beyond exiting 0). */
const expectations: Record<string, (stdout: string) => void> = {
  'getting-started.ts': (out) => {
    expect(out.trim().split('\n')).toEqual([
      'done: job 1 (100 ms)',
      'done: job 2 (150 ms)',
      'done: job 3 (60 ms)',
      'done: job 0 (400 ms)',
      'done: job 4 (500 ms)',
    ]);
  },
  'home.ts': (out) => {
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('done: file 1'); // the 30 ms task, not the first one listed
    expect([...lines].sort()).toEqual(Array.from({ length: 12 }, (_, n) => `done: file ${n}`).sort());
  },
  'orders.ts': (out) => {
    expect(out).toContain('completion order: 1 3 2 0\n');
    expect(out).toContain('source order: 0 1 2 3\n');
  },
  'settled.ts': (out) => {
    expect(out).toContain('#2 failed: record 3 is locked');
    expect(out).toContain('#5 failed: record 6 is locked');
    expect(out).toContain('4 saved, 2 failed');
  },
  'limited-map.ts': (out) => expect(out).toContain('loaded 12 profiles'),
  'backpressure.ts': (out) => {
    const pulled = numberAfter(out, /consumed 5, pulled (\d+)/);
    expect(pulled).toBeGreaterThanOrEqual(5);
    expect(pulled).toBeLessThanOrEqual(5 + 4 + 2);
  },
  'fail-fast.ts': (out) => {
    expect(out).toContain('result 1\n');
    expect(out).toContain('caught: task 0 failed');
    expect(out).toContain('aborted in flight: 2 3\n');
  },
  'early-exit.ts': (out) => {
    expect(out.trim().split('\n')).toEqual(['first result: 1', 'source closed', 'aborted in flight: 8']);
  },
  'signal.ts': (out) => {
    const processed = numberAfter(out, /stopped after (\d+) files: TimeoutError/);
    expect(processed).toBeLessThan(20);
  },
  'timeout.ts': (out) => {
    expect(out.trim().split('\n')).toEqual(['task 0: 50 ms', 'task 2: 80 ms', 'task 1: timed out']);
  },
  'rate.ts': (out) => expect(out).toContain('9 tasks started, in bursts of 3, 3, 3'),
  'drain.ts': (out) => {
    const finished = numberAfter(out, /finished (\d+) jobs/);
    expect(numberAfter(out, /started (\d+),/)).toBe(finished);
    expect(out).toContain(', 0 aborted');
    expect(finished).toBeGreaterThanOrEqual(6);
    expect(finished).toBeLessThan(100);
  },
  'per-key.ts': (out) => expect(out).toContain('15 pages, at most 2 at once per host'),
  'set-per-key.ts': (out) => expect(out).toContain('18 pages, at most 2 per host before the 429, 1 after'),
  'retry.ts': (out) => {
    expect(out).toContain('call 1 succeeded on attempt 3');
    expect(out).toContain('call 3 succeeded on attempt 3');
    expect(out).toContain('retries: 6');
  },
  'shared-limit.ts': (out) => expect(out).toContain('40 calls, at most 3 in flight (each run allows 4)'),
  'create-limiter.ts': (out) => {
    expect(out).toContain('a.webp b.webp c.webp d.webp e.webp');
    expect(out).toContain('peak active: 2, pending now: 0');
  },
  'fetch-urls.ts': (out) => {
    expect(out).toContain('30/30 OK');
    const peak = numberAfter(out, /at most (\d+) requests at once/);
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(5);
  },
  'all-at-once.ts': (out) => expect(out).toContain('100 results, peak in flight 100'),
  'polling.ts': (out) => {
    expect(out).toContain('20 results after');
    expect(numberAfter(out, /after (\d+) status checks/)).toBeGreaterThan(1000);
  },
  'original-problem.ts': (out) => {
    const lines = out.trim().split('\n');
    expect(lines.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `Starting ${i + 1}`));
    expect(
      lines
        .filter((line) => line.startsWith('Result '))
        .map((line) => Number(line.slice(7)))
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(lines.at(-1)).toMatch(/^Done in \d+\.\d\d s, peak in flight 10$/);
  },
  'node-streams-pipeline.ts': (out) => {
    expect(out).toContain('200 records written, 200 distinct');
    expect(numberAfter(out, /peak (\d+) lookups at once/)).toBeLessThanOrEqual(8);
  },
  'node-streams-readable.ts': (out) => expect(out.trim()).toBe('chunk 0, chunk 1, chunk 2'),
  'redis-shared-limit.ts': (out) => {
    expect(out).toContain('3 workers finished 60 tasks');
    const peak = numberAfter(out, /at most (\d+) running at once across all of them/);
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(5);
  },
  'redis-fencing.ts': (out) => {
    expect(out).toContain('write accepted: true\nwrite accepted: true\n');
    expect(out).toContain('late write with the older token accepted: false\n');
    expect(out).toContain('store holds: draft, final\n');
  },
  'web-streams-pipe-through.ts': (out) => {
    expect(out).toContain('squares in input order: 1 4 9 16 25 36 49 64 81 100 121 144 ');
    expect(numberAfter(out, /\(peak (\d+) at once\)/)).toBeLessThanOrEqual(4);
  },
};

/** What each CLI recipe must print (beyond exiting 0). */
const cliExpectations: Record<string, (stdout: string) => void> = {
  'cli/convert-files.sh': (out) => {
    expect(out).toContain('==> first file.upper <==\nHELLO');
    expect(out).toContain('==> $(touch pwned); x.upper <==\nWORLD');
    expect(out).toContain('odd names were passed as data, never executed');
  },
  'cli/keep-order.sh': (out) =>
    expect(out.trim().split('\n')).toEqual(Array.from({ length: 10 }, (_, i) => `item ${i + 1}`)),
  'cli/retry-flaky.sh': (out) => {
    expect(out).toContain('deployed alpha\ndeployed beta\ndeployed gamma\n');
    expect(out).toContain('0\t./deploy.sh alpha\n0\t./deploy.sh beta\n0\t./deploy.sh gamma');
  },
  'cli/fetch-urls.sh': (out) => expect(out).toContain('20 of 20 URLs fetched'),
  'cli/demo.sh': (out) => expect(out).toMatch(/peak in flight 10\b/),
};

describe('examples', () => {
  test('every example file has an expectation here, and every expectation has its file', () => {
    expect(exampleFiles).toEqual([...Object.keys(expectations), ...Object.keys(runBy)].sort());
    for (const runner of Object.values(runBy)) expect(Object.keys(expectations)).toContain(runner);
    expect(cliExampleFiles).toEqual(Object.keys(cliExpectations).sort());
  });

  test('type-check: tsc --noEmit over examples/ (and the tests and site config) passes', () => {
    const run = spawnSync(
      process.execPath,
      [join(docsDir, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json'],
      {
        cwd: docsDir,
        encoding: 'utf8',
      },
    );
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  const standalone = exampleFiles.filter((file) => !(file in runBy));
  const runExample = (file: string) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join('examples', file)], {
      cwd: docsDir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expectations[file]!(run.stdout);
  };
  const needsRedis = (file: string) => file.startsWith('redis-');
  test.each(standalone.filter((file) => !needsRedis(file)))(
    '%s runs, exits 0 and prints what its page says',
    runExample,
  );
  // The Redis examples start their own redis-server: skipped (and counted so) where it is not installed.
  test.skipIf(!hasRedisServer).each(standalone.filter(needsRedis))(
    '%s runs, exits 0 and prints what its page says',
    runExample,
  );

  describe('CLI recipes (bash, against lac from the workspace source)', () => {
    let binDir: string;
    beforeAll(() => {
      // `lac` on PATH runs packages/cli/src/cli.ts through tsx, with @lac/* mapped to their sources.
      binDir = mkdtempSync(join(tmpdir(), 'lac-docs-bin-'));
      const loader = join(docsDir, 'node_modules', 'tsx', 'dist', 'loader.mjs');
      writeFileSync(
        join(binDir, 'lac'),
        `#!/bin/sh\nexec "${process.execPath}" --import "${loader}" "${cliSource}" "$@"\n`,
      );
      chmodSync(join(binDir, 'lac'), 0o755);
    });
    afterAll(() => rmSync(binDir, { recursive: true, force: true }));

    test.each(cliExampleFiles)('%s runs, exits 0 and prints what its page says', (file) => {
      const run = spawnSync('bash', [join(examplesDir, file)], {
        cwd: docsDir,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}`,
          TSX_TSCONFIG_PATH: join(docsDir, 'tsconfig.json'),
        },
      });
      expect(run.status, run.stderr).toBe(0);
      cliExpectations[file]!(run.stdout);
    });
  });
});
