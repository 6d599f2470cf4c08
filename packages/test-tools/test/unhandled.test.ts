import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { deferred } from '../src/deferred.mjs';
import { unhandledRejectionsDuring } from '../src/unhandled.js';

const fixture = fileURLToPath(new URL('./fixtures/unhandled/', import.meta.url));

interface JsonReport {
  readonly testResults: readonly {
    readonly assertionResults: readonly {
      readonly title: string;
      readonly status: string;
      readonly failureMessages: readonly string[];
    }[];
  }[];
}

it('fails, by name, the test that leaves a rejection unhandled, and only that test', () => {
  // The watch cannot be shown failing in this run (vitest itself would report the rejection), so a
  // run of its own over a fixture: one test leaves a rejection unhandled, the other handles its own.
  const output = join(tmpdir(), `lac-unhandled-${process.pid}.json`);
  try {
    const run = spawnSync(
      process.execPath,
      [fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url)), 'run', '--outputFile', output],
      { cwd: fixture, encoding: 'utf8', env: { ...process.env, CI: '1' } },
    );
    expect(run.status, run.stderr).toBe(1);
    const report = JSON.parse(readFileSync(output, 'utf8')) as JsonReport;
    const results = report.testResults.flatMap((file) => file.assertionResults);
    const byTitle = Object.fromEntries(results.map((result) => [result.title, result]));
    expect(Object.keys(byTitle).sort()).toEqual(['handles its rejection', 'leaves a rejection unhandled']);
    expect(byTitle['leaves a rejection unhandled']?.status).toBe('failed');
    const message = byTitle['leaves a rejection unhandled']?.failureMessages.join('\n');
    expect(message).toContain('rejections left unhandled by this test');
    expect(message).toContain('left behind on purpose');
    expect(byTitle['handles its rejection']?.status).toBe('passed');
  } finally {
    rmSync(output, { force: true });
  }
}, 60_000);

it('unhandledRejectionsDuring reports nothing for a rejection that is handled late but in time', async () => {
  const reasons = await unhandledRejectionsDuring(async () => {
    const late = Promise.reject(new Error('handled within the turn'));
    await Promise.resolve();
    await expect(late).rejects.toThrow('handled within the turn');
  });
  expect(reasons).toEqual([]);
});

it('deferred settles once and says when it was asked to', async () => {
  const handle = deferred<number>();
  expect(handle.isSettled).toBe(false);
  handle.resolve(1);
  handle.reject(new Error('too late'));
  expect(handle.isSettled).toBe(true);
  await expect(handle.promise).resolves.toBe(1);
  const failing = deferred();
  failing.reject(new Error('no'));
  expect(failing.isSettled).toBe(true);
  await expect(failing.promise).rejects.toThrow('no');
});
