import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { limitedMap } from '@lac/core';
import type { ItemSource } from './line-reader.js';
import type { OutputStreams } from './output.js';
import type { Rate } from './parse.js';
import { ProgressBar } from './progress.js';

export interface FetchOptions {
  readonly jobs: number;
  readonly keepOrder: boolean;
  /** Attempts per URL in all, as for jobs (0 and 1 both mean one). */
  readonly retries: number;
  /** First retry delay in ms, doubled for each further retry (a 429/503's `Retry-After` wins). */
  readonly backoffMs: number;
  readonly timeoutMs: number | undefined;
  readonly rate: Rate | undefined;
  readonly outputDir: string | undefined;
  readonly bar: boolean;
}

/** One line of `lac fetch` output. */
export interface FetchRecord {
  url: string;
  /** The last response's HTTP status; null when no response came. */
  status: number | null;
  /** Body bytes of the last response. */
  bytes: number;
  /** Time for the URL, all attempts and waits included. */
  ms: number;
  error?: string;
  attempts: number;
  /** Where the body was saved (`--output-dir`). */
  file?: string;
}

const MAX_BACKOFF_MS = 30_000;

function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** A `Retry-After` of seconds (an HTTP date is also allowed), in ms. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_BACKOFF_MS);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - Date.now()), MAX_BACKOFF_MS);
}

function describeError(error: unknown, timeoutMs: number | undefined): string {
  const { name, message, cause } = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (name === 'TimeoutError') return `timed out after ${(timeoutMs ?? 0) / 1000} s`;
  if (name === 'AbortError') return 'aborted';
  return cause?.code ?? cause?.message ?? message ?? String(error);
}

/** A file name for a URL's body: its last path segment, made unique within the run. */
class FileNamer {
  readonly #dir: string;
  readonly #used = new Set<string>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  name(url: string, seq: number): string {
    const segment = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '').replace(/[/\\\0]/g, '_');
    let name = segment === '' || segment === '.' || segment === '..' ? 'index.html' : segment;
    if (this.#used.has(name)) name = `${seq}-${name}`;
    this.#used.add(name);
    return join(this.#dir, name);
  }
}

/**
 * `lac fetch`: GETs each URL in-process with Node's `fetch`, at most `jobs` at once via
 * `@lac/core`, retrying network errors, timeouts, 5xx and 429 with exponential backoff, and writes
 * one JSON line per URL. Resolves with the exit status: failed URLs, capped at 101.
 */
export class UrlFetcher {
  readonly #source: ItemSource;
  readonly #options: FetchOptions;
  readonly #streams: OutputStreams;
  readonly #stop = new AbortController();
  #interruptedBy: 'SIGINT' | 'SIGTERM' | undefined;

  constructor(source: ItemSource, options: FetchOptions, streams: OutputStreams) {
    this.#source = source;
    this.#options = options;
    this.#streams = streams;
  }

  interrupt(signal: 'SIGINT' | 'SIGTERM'): void {
    if (this.#interruptedBy !== undefined) return;
    this.#interruptedBy = signal;
    this.#source.stop();
    this.#stop.abort(new DOMException('Interrupted', 'AbortError'));
  }

  async run(): Promise<number> {
    const options = this.#options;
    const bar = options.bar ? await ProgressBar.create(this.#streams.stderr, 'URLs') : undefined;
    const namer = options.outputDir === undefined ? undefined : new FileNamer(options.outputDir);
    const started = performance.now();
    let done = 0;
    let failed = 0;
    let retries = 0;
    let bytes = 0;

    // Blank lines carry no URL; skipping them here keeps numbering (and file names) dense.
    const source = this.#source;
    async function* urls(): AsyncGenerator<string> {
      for await (const line of source) {
        const url = line.trim();
        if (url !== '') yield url;
      }
    }

    const fetchOne = (url: string, { index }: { index: number }) => this.#fetchOne(url, index + 1, namer);
    try {
      for await (const record of limitedMap(urls(), options.jobs, fetchOne, { ordered: options.keepOrder, rate: options.rate })) {
        done++;
        if (record.error !== undefined) failed++;
        retries += Math.max(0, record.attempts - 1);
        bytes += record.bytes;
        this.#streams.stdout.write(`${JSON.stringify(record)}\n`);
        bar?.update(done, source.count);
      }
    } finally {
      bar?.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    this.#streams.stderr.write(
      `lac fetch: ${done} URLs, ${done - failed} ok, ${failed} failed, ${retries} retries, ${bytes} bytes in ${seconds.toFixed(2)} s (${(done / Math.max(seconds, 1e-9)).toFixed(0)} URLs/s)\n`,
    );
    if (this.#interruptedBy !== undefined) return this.#interruptedBy === 'SIGINT' ? 130 : 143;
    return Math.min(failed, 101);
  }

  async #fetchOne(url: string, seq: number, namer: FileNamer | undefined): Promise<FetchRecord> {
    const options = this.#options;
    const started = performance.now();
    const record: FetchRecord = { url, status: null, bytes: 0, ms: 0, attempts: 0 };
    if (!URL.canParse(url)) {
      record.error = 'invalid URL';
      return record;
    }
    const file = namer?.name(url, seq);
    const attempts = Math.max(1, options.retries);
    const stop = this.#stop.signal;
    for (;;) {
      record.attempts++;
      let isRetryable = false;
      let wait: number | undefined;
      const signal = options.timeoutMs === undefined ? stop : AbortSignal.any([stop, AbortSignal.timeout(options.timeoutMs)]);
      try {
        const response = await fetch(url, { signal });
        record.status = response.status;
        delete record.error;
        if (response.ok && file !== undefined && response.body !== null) {
          record.bytes = 0;
          const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
          body.on('data', (chunk: Buffer) => {
            record.bytes += chunk.length;
          });
          await pipeline(body, createWriteStream(file), { signal });
          record.file = file;
        } else {
          record.bytes = await bodyLength(response);
        }
        if (!response.ok) {
          record.error = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
          isRetryable = isRetryableStatus(response.status);
          wait = retryAfterMs(response.headers.get('retry-after'));
        }
      } catch (error) {
        if (record.file === undefined) record.bytes = 0;
        record.error = describeError(error, options.timeoutMs);
        // A network error or a timeout may pass; a stop by the user may not.
        isRetryable = !stop.aborted;
      }
      if (record.error === undefined || !isRetryable || record.attempts >= attempts || stop.aborted) break;
      const backoff = wait ?? Math.min(options.backoffMs * 2 ** (record.attempts - 1), MAX_BACKOFF_MS);
      try {
        await sleep(backoff, undefined, { signal: stop });
      } catch {
        break;
      }
    }
    record.ms = Math.round(performance.now() - started);
    return record;
  }
}

async function bodyLength(response: Response): Promise<number> {
  if (response.body === null) return 0;
  let length = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) length += chunk.length;
  return length;
}
