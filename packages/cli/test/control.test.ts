import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isAlive, lac, readLines, start, tempDir, waitFor } from './helpers.js';

beforeAll(ensureBuilt, 120_000);

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.dispose());

describe('--retries', () => {
  it('runs a failing job up to N times in all and prints only the last attempt', async () => {
    dir = tempDir();
    const count = join(dir.path, 'count');
    const result = await lac(['--retries', '3', `: {}; echo try >> ${count}; echo out; exit 4`, ':::', 'x']);
    expect(readLines(count)).toHaveLength(3);
    expect(result.stdout).toBe('out\n');
    expect(result.code).toBe(1);
  });

  it('stops retrying once the job succeeds', async () => {
    dir = tempDir();
    const flag = join(dir.path, 'flag');
    const count = join(dir.path, 'count');
    const result = await lac([
      '--retries',
      '5',
      `: {}; echo try >> ${count}; test -e ${flag} || { touch ${flag}; exit 1; }`,
      ':::',
      'x',
    ]);
    expect(result.code).toBe(0);
    expect(readLines(count)).toHaveLength(2);
  });
});

describe('--halt', () => {
  it("now,fail=1 kills the running jobs and exits with the failing job's status", async () => {
    dir = tempDir();
    const pids = join(dir.path, 'pids');
    const template = `if [ {} = fail ]; then while [ ! -s ${pids} ]; do sleep 0.01; done; exit 3; fi; echo $$ >> ${pids}; sleep 30`;
    const result = await lac(['-j', '2', '--halt', 'now,fail=1', template, ':::', 'slow', 'fail', 'never-started']);
    expect(result.code).toBe(3);
    const [pid] = readLines(pids).map(Number);
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid!)).toBe(false);
    expect(readLines(pids)).toHaveLength(1);
  });

  it('soon,fail=1 starts nothing new but lets running jobs finish', async () => {
    dir = tempDir();
    const gate = join(dir.path, 'gate');
    const done = join(dir.path, 'done');
    const template = `if [ {} = fail ]; then exit 5; fi; while [ ! -e ${gate} ]; do sleep 0.01; done; echo {} >> ${done}`;
    const { result } = start([
      '-j',
      '2',
      '--halt',
      'soon,fail=1',
      '--joblog',
      join(dir.path, 'log'),
      template,
      ':::',
      'running',
      'fail',
      'a',
      'b',
    ]);
    await waitFor(() => readLines(join(dir!.path, 'log')).length >= 2, 'the failure to be logged');
    writeFileSync(gate, '');
    const { code } = await result;
    expect(code).toBe(5);
    expect(readLines(done)).toEqual(['running']);
  });

  it('never (the default) runs every job and counts the failures', async () => {
    const result = await lac(['exit', ':::', '0', '1', '2', '0', '3']);
    expect(result.code).toBe(3);
  });
});

describe('--timeout', () => {
  it('terminates a job that runs too long, which counts as failed', async () => {
    dir = tempDir();
    const log = join(dir.path, 'log');
    const result = await lac(['--timeout', '0.3', '--joblog', log, 'sleep', ':::', '30']);
    expect(result.code).toBe(1);
    const fields = readLines(log)[1]!.split('\t');
    expect(fields.slice(6)).toEqual(['-1', '15', 'sleep 30']);
  });

  it('sends SIGKILL after the grace period to a job that ignores SIGTERM', async () => {
    dir = tempDir();
    const log = join(dir.path, 'log');
    const result = await lac(['--timeout', '0.3', '--joblog', log, "trap '' TERM; sleep {}; sleep {}", ':::', '30']);
    expect(result.code).toBe(1);
    const fields = readLines(log)[1]!.split('\t');
    expect(fields[6]).toBe('-1');
    expect(fields[7]).toBe('9');
  });
});

describe('--joblog', () => {
  it("writes GNU parallel's tab-separated columns, one line per job", async () => {
    dir = tempDir();
    const log = join(dir.path, 'jobs.tsv');
    const result = await lac(['-k', '-j', '1', '--joblog', log, 'echo {}; exit {#}', ':::', 'ok', 'a b']);
    expect(result.code).toBe(2);
    const lines = readFileSync(log, 'utf8').split('\n');
    expect(lines[0]).toBe('Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    const rows = lines.slice(1, 3).map((line) => line.split('\t'));
    expect(rows.map((row) => row[0])).toEqual(['1', '2']);
    for (const row of rows) {
      expect(row).toHaveLength(9);
      expect(row[1]).toBe(':');
      expect(row[2]).toMatch(/^\d{10}\.\d{3}$/);
      expect(row[3]).toMatch(/^ *\d+\.\d{3}$/);
      expect(row[3]).toHaveLength(10);
      expect(row[4]).toBe('0');
    }
    expect(rows[0]!.slice(5)).toEqual(['3', '1', '0', 'echo ok; exit 1']);
    expect(rows[1]!.slice(5)).toEqual(['4', '2', '0', "echo 'a b'; exit 2"]);
  });
});

describe('exit status', () => {
  it('is 0 when every job succeeds', async () => {
    expect((await lac(['true', ':::', 'a', 'b'])).code).toBe(0);
  });

  it('is the number of failed jobs', async () => {
    expect((await lac(['-j', '4', 'false', ':::', '1', '2', '3', '4', '5', '6', '7'])).code).toBe(7);
  });

  it('is capped at 101 when more than 100 jobs fail', async () => {
    const items = Array.from({ length: 130 }, (_, i) => String(i));
    expect((await lac(['-j', '8', 'false', ':::', ...items])).code).toBe(101);
  });

  it('is 127 for a job whose program does not exist, counted as one failure', async () => {
    dir = tempDir();
    const log = join(dir.path, 'log');
    const result = await lac(['--joblog', log, 'no-such-program-lac', ':::', 'x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no-such-program-lac');
    expect(readLines(log)[1]!.split('\t')[6]).toBe('127');
  });

  const usageErrors: Array<[string, string[], RegExp]> = [
    ['an unknown option', ['--bogus'], /unknown option '--bogus'/],
    ['a missing command', [], /missing command/],
    ['-j abc', ['-j', 'abc'], /'abc' is invalid/],
    [
      'an unreadable -a file',
      ['-a', '/nonexistent/lac-items'],
      /cannot read -a file '\/nonexistent\/lac-items': no such file or directory \(ENOENT\)$/m,
    ],
    ['a directory as -a file', ['-a', '/'], /cannot read -a file '\/': is a directory \(EISDIR\)$/m],
    ['a directory as --joblog file', ['--joblog', '/'], /cannot write --joblog file '\/': is a directory \(EISDIR\)$/m],
    ['a bad --halt', ['--halt', 'sometimes'], /--halt/],
    ['a bad --rate', ['--rate', 'fast'], /--rate/],
  ];
  for (const [what, args, message] of usageErrors) {
    it(`is 255 with one line on stderr and no job started for ${what}`, async () => {
      dir = tempDir();
      const marker = join(dir.path, 'MARKER');
      const command = args.length === 0 ? [] : ['touch', marker];
      const result = await lac([...args, ...command], { input: 'x\n' });
      expect(result.code).toBe(255);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr.startsWith('lac: ')).toBe(true);
      expect(existsSync(marker)).toBe(false);
    });
  }

  for (const [signal, status] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`is ${status} on ${signal}, after stopping: no new job, no child left running`, async () => {
      dir = tempDir();
      const pids = join(dir.path, 'pids');
      // Each job records its shell's pid and its background child's pid, then waits.
      const template = `: {}; sleep 30 & echo $! >> ${pids}; echo $$ >> ${pids}; wait`;
      const { child, result } = start(['-j', '2', template, ':::', '1', '2', '3', '4']);
      const started = await waitFor(
        () => (readLines(pids).length >= 4 ? readLines(pids).map(Number) : undefined),
        'two jobs to start',
      );
      for (const pid of started) expect(isAlive(pid)).toBe(true);
      child.kill(signal);
      const { code } = await result;
      expect(code).toBe(status);
      expect(readLines(pids)).toHaveLength(4);
      for (const pid of started) expect(isAlive(pid)).toBe(false);
    });
  }

  it("on SIGTERM, exits only after a job's background child that takes a while to stop has stopped", async () => {
    dir = tempDir();
    const pids = join(dir.path, 'pids');
    // The background child traps SIGTERM and needs half a second to exit; the job's shell dies at once.
    const slow = `sh -c 'trap "sleep 0.5; exit 0" TERM; while :; do sleep 0.05; done' & echo $! >> ${pids}; wait`;
    const { child, result } = start(['-j', '1', `: {}; ${slow}`, ':::', '1']);
    const [background] = await waitFor(
      () => (readLines(pids).length >= 1 ? readLines(pids).map(Number) : undefined),
      'the job to start its background child',
    );
    expect(isAlive(background!)).toBe(true);
    child.kill('SIGTERM');
    const { code } = await result;
    expect(code).toBe(143);
    expect(isAlive(background!)).toBe(false);
  });
});
