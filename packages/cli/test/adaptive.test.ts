/** `lac fetch --adaptive[=MIN:MAX]`, `lac fetch -j auto` and `lac -j auto`: parsing, and real runs against a loopback server. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adaptive, type LimitChangeReason } from '@lac/core';
import { InvalidArgumentError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adaptiveRecords, type FetchRecord } from '../src/fetch-urls.js';
import { autoJobs, parseAdaptive, parseJobs } from '../src/parse.js';
import { ensureBuilt, lac } from './helpers.js';

describe('parsing', () => {
  it('-j auto is kept as auto; -j N and -j 0 as before; anything else names the value and the forms', () => {
    expect(parseJobs('auto')).toBe('auto');
    expect(parseJobs('8')).toBe(8);
    expect(parseJobs('0')).toBe(Number.POSITIVE_INFINITY);
    expect(() => parseJobs('many')).toThrow(InvalidArgumentError);
    expect(() => parseJobs('many')).toThrow(
      'Expected an integer >= 0 (0 = unlimited), N% of the CPUs, +N, -N or `auto`, got `many`.',
    );
  });

  it('--adaptive alone is 1 to 256 starting at -j; --adaptive=MIN:MAX clamps the start into the range', () => {
    expect(parseAdaptive('', 16)).toMatchObject({ algorithm: 'gradient', min: 1, max: 256, initial: 16 });
    expect(parseAdaptive('4:64', 16)).toMatchObject({ min: 4, max: 64, initial: 16 });
    expect(parseAdaptive('32:64', 16)).toMatchObject({ min: 32, max: 64, initial: 32 });
    expect(parseAdaptive('1:4', 16)).toMatchObject({ min: 1, max: 4, initial: 4 });
  });

  it.each(['0:8', '8:4', '4', '4:', 'a:b', '-1:4', 'https://example.com'])(
    '--adaptive=%s is a usage error naming the value',
    (value) => {
      expect(() => parseAdaptive(value, 16)).toThrow(InvalidArgumentError);
      expect(() => parseAdaptive(value, 16)).toThrow(
        `Expected MIN:MAX with 1 <= MIN <= MAX (e.g. --adaptive=4:64), got \`${value}\`.`,
      );
    },
  );

  it('-j auto for commands runs from 1 to 4 jobs per CPU, starting at one per CPU', () => {
    expect(autoJobs(2)).toMatchObject({ min: 1, max: 8, initial: 2 });
  });
});

describe('adaptiveRecords (lac fetch --adaptive)', () => {
  it('passes every record through, and a 429/503, a timeout or a retried URL shrinks the limit', async () => {
    const changes: [number, LimitChangeReason][] = [];
    const limit = adaptive({
      algorithm: 'aimd',
      initial: 8,
      onLimitChange: (value, reason) => changes.push([value, reason]),
    });
    const urls = async function* () {
      for (let i = 0; i < 16; i++) yield `http://x/${i}`;
    };
    const fetchOne = async (url: string): Promise<FetchRecord> => ({ url, status: 503, bytes: 0, ms: 1, attempts: 1 });
    const records: FetchRecord[] = [];
    for await (const record of adaptiveRecords(urls(), limit, fetchOne, {})) records.push(record);
    expect(records.map((record) => record.url).sort()).toEqual(
      Array.from({ length: 16 }, (_, i) => `http://x/${i}`).sort(),
    );
    expect(changes[0]).toEqual([6, 'overload']);
  });

  it('does not shrink for 404s and other errors', async () => {
    const changes: number[] = [];
    const limit = adaptive({ algorithm: 'aimd', initial: 8, onLimitChange: (value) => changes.push(value) });
    const urls = async function* () {
      for (let i = 0; i < 32; i++) yield `http://x/${i}`;
    };
    const fetchOne = async (url: string): Promise<FetchRecord> => ({
      url,
      status: 404,
      bytes: 0,
      ms: 1,
      attempts: 1,
      error: 'HTTP 404',
    });
    let count = 0;
    for await (const _ of adaptiveRecords(urls(), limit, fetchOne, {})) count++;
    expect(count).toBe(32);
    expect(changes.every((value) => value > 8)).toBe(true);
  });
});

describe('real runs', () => {
  let server: Server;
  let base: string;
  let running = 0;
  let peak = 0;

  beforeAll(async () => {
    ensureBuilt();
    server = createServer((_request, response) => {
      running++;
      peak = Math.max(peak, running);
      setTimeout(() => {
        running--;
        response.end('ok');
      }, 5);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('lac fetch --adaptive=2:4 URL... fetches every URL (the bare flag does not swallow a URL) and never runs more than MAX at once', async () => {
    peak = 0;
    const urls = Array.from({ length: 30 }, (_, i) => `${base}/${i}`);
    const result = await lac(['fetch', '--adaptive=2:4', ...urls]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(30);
    expect(peak).toBeLessThanOrEqual(4);
    const bare = await lac(['fetch', '--adaptive', ...urls.slice(0, 3)]);
    expect(bare.code).toBe(0);
    expect(bare.stdout.trim().split('\n')).toHaveLength(3);
    const auto = await lac(['fetch', '-j', 'auto', ...urls.slice(0, 3)]);
    expect(auto.code).toBe(0);
    expect(auto.stdout.trim().split('\n')).toHaveLength(3);
  }, 60_000);

  it('lac fetch --adaptive=8:2 is a usage error (255) naming the value', async () => {
    const result = await lac(['fetch', '--adaptive=8:2', `${base}/x`]);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain('got `8:2`');
  }, 60_000);

  it('lac -j auto runs every job', async () => {
    const result = await lac(['-k', '-j', 'auto', 'echo', '{}', ':::', 'a', 'b', 'c']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('a\nb\nc\n');
    const dry = await lac(['--dry-run', '-j', 'auto', 'echo', '{%}', ':::', 'a', 'b']);
    expect(dry.stdout).toBe('echo 1\necho 2\n');
  }, 60_000);
});
