import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bin, ensureBuilt, lac, packageDir, start, tempDir, waitFor } from './helpers.js';

let server: Server;
let base: string;
const hits = new Map<string, number>();

beforeAll(async () => {
  ensureBuilt();
  server = createServer((request, response) => {
    const path = request.url ?? '/';
    const count = (hits.get(path) ?? 0) + 1;
    hits.set(path, count);
    const [, kind, arg] = path.split('/');
    if (kind === 'ok') {
      response.end('x'.repeat(Number(arg)));
    } else if (kind === 'later') {
      setTimeout(() => response.end('late'), Number(arg));
    } else if (kind === 'hold') {
      // Never answers: only a timeout ends the request.
    } else if (kind === 'flaky') {
      response.statusCode = count <= 2 ? 500 : 200;
      response.end(count <= 2 ? 'fail' : 'fine');
    } else if (kind === 'busy') {
      response.writeHead(429, { 'retry-after': '0' }).end();
    } else if (kind === 'broken') {
      response.writeHead(500).end('oops');
    } else {
      response.writeHead(404).end('nope');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.dispose());

interface Line {
  url: string;
  status: number | null;
  bytes: number;
  ms: number;
  error?: string;
  attempts: number;
  file?: string;
}

function parseLines(stdout: string): Line[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line);
}

describe('lac fetch', () => {
  it('writes one JSON line per URL with status, bytes, ms and attempts, in input order with -k', async () => {
    const urls = [10, 2000, 0, 7].map((n) => `${base}/ok/${n}`);
    const result = await lac(['fetch', '-k', '-j', '4'], { input: `${urls.join('\n')}\n\n` });
    expect(result.code).toBe(0);
    const lines = parseLines(result.stdout);
    expect(lines.map((line) => line.url)).toEqual(urls);
    expect(lines.map((line) => line.bytes)).toEqual([10, 2000, 0, 7]);
    for (const line of lines) {
      expect(line.status).toBe(200);
      expect(line.attempts).toBe(1);
      expect(line.error).toBeUndefined();
      expect(Number.isInteger(line.ms) && line.ms >= 0).toBe(true);
    }
    expect(result.stderr).toMatch(
      /^lac fetch: 4 URLs, 4 ok, 0 failed, 0 retries, 2017 bytes in [\d.]+ s \(\d+ URLs\/s\)\n$/,
    );
  });

  it('retries 5xx with backoff and counts the attempts', async () => {
    const result = await lac(['fetch', '--retries', '4', '--backoff', '1', `${base}/flaky/a`]);
    expect(result.code).toBe(0);
    const [line] = parseLines(result.stdout);
    expect(line).toMatchObject({ status: 200, bytes: 4, attempts: 3 });
    expect(line!.error).toBeUndefined();
    expect(hits.get('/flaky/a')).toBe(3);
    // One URL is "1 URL", not "1 URLs".
    expect(result.stderr).toMatch(/^lac fetch: 1 URL, 1 ok, 0 failed, 2 retries, 4 bytes in /);
  });

  it('gives up after --retries attempts on 429 and 500, and does not retry a 404', async () => {
    const urls = [`${base}/busy/1`, `${base}/broken/1`, `${base}/missing/1`, `${base}/ok/1`];
    const result = await lac(['fetch', '-k', '--retries', '3', '--backoff', '1', ...urls]);
    expect(result.code).toBe(3);
    const lines = parseLines(result.stdout);
    expect(lines.map(({ status, attempts, error }) => ({ status, attempts, error }))).toEqual([
      { status: 429, attempts: 3, error: 'HTTP 429 Too Many Requests' },
      { status: 500, attempts: 3, error: 'HTTP 500 Internal Server Error' },
      { status: 404, attempts: 1, error: 'HTTP 404 Not Found' },
      { status: 200, attempts: 1, error: undefined },
    ]);
    expect(hits.get('/busy/1')).toBe(3);
    expect(hits.get('/broken/1')).toBe(3);
    expect(result.stderr).toContain('4 URLs, 1 ok, 3 failed, 4 retries');
  });

  it('times out a slow server, retries it, and reports the error', async () => {
    // 1 s, not less: on a loaded machine a shorter timeout can expire before the request reaches the server.
    const result = await lac(['fetch', '--timeout', '1', '--retries', '2', '--backoff', '1', `${base}/hold/1`]);
    expect(result.code).toBe(1);
    const [line] = parseLines(result.stdout);
    expect(line).toMatchObject({ status: null, bytes: 0, attempts: 2, error: 'timed out after 1 s' });
    expect(hits.get('/hold/1')).toBe(2);
  });

  it('reports a refused connection and an invalid URL as failures', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
    await new Promise((resolve) => closed.close(resolve));
    const result = await lac(['fetch', '-k', deadUrl, 'not a url']);
    expect(result.code).toBe(2);
    const lines = parseLines(result.stdout);
    expect(lines[0]).toMatchObject({ url: deadUrl, status: null, error: 'ECONNREFUSED', attempts: 1 });
    expect(lines[1]).toMatchObject({ url: 'not a url', status: null, error: 'invalid URL', attempts: 0 });
  });

  it('caps the exit status at 101', async () => {
    const urls = Array.from({ length: 105 }, (_, i) => `${base}/missing/${i}`);
    const result = await lac(['fetch', '-j', '16'], { input: urls.join('\n') });
    expect(parseLines(result.stdout)).toHaveLength(105);
    expect(result.code).toBe(101);
  });

  it('saves bodies with --output-dir', async () => {
    dir = tempDir();
    const result = await lac(['fetch', '-k', '-o', dir.path, `${base}/ok/5`, `${base}/ok/3`]);
    expect(result.code).toBe(0);
    const lines = parseLines(result.stdout);
    expect(lines.map((line) => line.file)).toEqual([join(dir.path, '5'), join(dir.path, '3')]);
    expect(readFileSync(join(dir.path, '5'), 'utf8')).toBe('xxxxx');
    expect(readFileSync(join(dir.path, '3'), 'utf8')).toBe('xxx');
  });

  it('says in words why --output-dir cannot be made, with the code, and fetches nothing', async () => {
    dir = tempDir();
    const file = join(dir.path, 'a-file');
    writeFileSync(file, '');
    const result = await lac(['fetch', '-o', join(file, 'sub'), `${base}/ok/5`]);
    expect(result.code).toBe(255);
    expect(result.stderr).toBe(`lac: cannot create --output-dir '${join(file, 'sub')}': not a directory (ENOTDIR)\n`);
    expect(result.stdout).toBe('');
  });

  it('rejects bad options with one line and status 255', async () => {
    for (const args of [['--bogus'], ['-j', 'x'], ['--timeout', '0'], ['-a', '/nonexistent/urls']]) {
      const result = await lac(['fetch', ...args]);
      expect(result.code).toBe(255);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stdout).toBe('');
    }
  });
});

describe('lac fetch under stress', () => {
  it('fires --timeout on every stalled request while the garbage collector runs every 5 ms (defect 1)', async () => {
    const urls = Array.from({ length: 10 }, (_, i) => `${base}/hold/gc${i}`);
    const gcOften = join(packageDir, 'test', 'fixtures', 'gc-often.mjs');
    const result = await lac(['fetch', '-j', '10', '--timeout', '0.5', ...urls], {
      nodeArgs: ['--expose-gc', '--import', gcOften],
    });
    expect(result.code).toBe(10);
    const lines = parseLines(result.stdout);
    expect(lines).toHaveLength(10);
    for (const line of lines) expect(line).toMatchObject({ status: null, error: 'timed out after 0.5 s', attempts: 1 });
  }, 20_000);

  it('keeps stderr to its summary line over many requests, retries and backoffs (defect 5)', async () => {
    const urls = Array.from({ length: 400 }, (_, i) =>
      i % 4 === 0 ? `${base}/broken/l${i}` : `${base}/later/${i % 7}`,
    );
    const result = await lac(['fetch', '-j', '64', '--timeout', '5', '--retries', '2', '--backoff', '1'], {
      input: urls.join('\n'),
    });
    expect(result.code).toBe(100);
    expect(result.stderr).toMatch(
      /^lac fetch: 400 URLs, 300 ok, 100 failed, 100 retries, \d+ bytes in [\d.]+ s \(\d+ URLs\/s\)\n$/,
    );
  }, 30_000);

  it('ends quietly when stdout is closed early (`lac fetch | head -2`, defect 6)', async () => {
    dir = tempDir();
    const file = join(dir.path, 'urls');
    writeFileSync(file, Array.from({ length: 2000 }, (_, i) => `${base}/ok/${i % 5}`).join('\n'));
    const err = join(dir.path, 'err');
    const status = join(dir.path, 'status');
    const script = `{ "$0" "$1" fetch -j 8 -a "$2" 2>"$3"; echo $? > "$4"; } | head -2`;
    // Asynchronously: the test server lives in this process.
    const { stdout: head } = await promisify(execFile)(
      '/bin/sh',
      ['-c', script, process.execPath, bin, file, err, status],
      { encoding: 'utf8' },
    );
    expect(head.trim().split('\n')).toHaveLength(2);
    expect(readFileSync(status, 'utf8').trim()).toBe('255');
    const stderr = readFileSync(err, 'utf8');
    expect(stderr).not.toMatch(/EPIPE|Error|at /);
    expect(stderr).toMatch(/^lac fetch: \d+ URLs/);
  }, 30_000);

  it('gives a URL with a malformed percent-encoding an error record and fetches the rest (defect 10)', async () => {
    dir = tempDir();
    const urls = [`${base}/ok/3`, `${base}/ok/%E0%A4%A`, `${base}/ok/4`];
    const result = await lac(['fetch', '-k', '-o', dir.path, ...urls]);
    expect(result.code).toBe(1);
    const lines = parseLines(result.stdout);
    expect(lines.map((line) => line.url)).toEqual(urls);
    expect(lines[1]!.error).toMatch(/^malformed URL: /);
    expect(lines[0]).toMatchObject({ status: 200, file: join(dir.path, '3') });
    expect(lines[2]).toMatchObject({ status: 200, file: join(dir.path, '4') });
    expect(readFileSync(join(dir.path, '4'), 'utf8')).toBe('xxxx');
  });

  it('on SIGINT with --rate, fetches nothing more: the URL held for the next window is dropped (drain)', async () => {
    const urls = [`${base}/ok/1?rate-a`, `${base}/ok/1?rate-b`, `${base}/ok/1?rate-c`];
    const { child, result } = start(['fetch', '-j', '4', '--rate', '1/m', ...urls], { input: '' });
    await waitFor(() => hits.get('/ok/1?rate-a') === 1, 'the first request');
    const sent = performance.now();
    child.kill('SIGINT');
    const { code, stdout } = await result;
    expect(code).toBe(130);
    expect(performance.now() - sent).toBeLessThan(2000);
    expect(parseLines(stdout).map((line) => line.url)).toEqual([urls[0]]);
    expect(hits.has('/ok/1?rate-b')).toBe(false);
  }, 15_000);

  it('on SIGINT while stdin is open and idle, aborts the request in flight and ends without waiting for more input', async () => {
    const { child, result } = start(['fetch', '-j', '2']);
    child.stdin!.write(`${base}/hold/idle-stdin\n`);
    await waitFor(() => hits.get('/hold/idle-stdin') === 1, 'the request');
    child.kill('SIGINT');
    const { code, stdout } = await result;
    expect(code).toBe(130);
    expect(parseLines(stdout)).toEqual([expect.objectContaining({ url: `${base}/hold/idle-stdin`, error: 'aborted' })]);
    child.stdin!.end();
  }, 15_000);
});
