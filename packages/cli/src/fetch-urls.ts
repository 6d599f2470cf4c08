import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  adaptive,
  type AdaptiveLimit,
  type LimitOptions,
  limitedMap,
  limitedMapSettled,
  rateLimit,
  type Settled,
} from '@lac/core';
import type { LineReader, ListSource } from './line-reader.js';
import type { OutputStreams } from './output.js';
import type { Rate } from './parse.js';
import { ProgressBar } from './progress.js';

export interface FetchOptions {
  /** Requests at once, or `adaptive(...)` for `--adaptive` / `-j auto`. */
  readonly jobs: number | AdaptiveLimit;
  readonly keepOrder: boolean;
  /** Attempts per URL in all, as for jobs (0 and 1 both mean one). */
  readonly retries: number;
  /** First retry delay in ms, doubled for each further retry (a 429/503's `Retry-After` wins). */
  readonly backoffMs: number;
  readonly timeoutMs: number | undefined;
  readonly rate: Rate | undefined;
  readonly outputDir: string | undefined;
  readonly bar: boolean;
  /** The number of URLs when known first (a list or a file), for `--bar`. */
  readonly total?: number | undefined;
}

/** A URL's record that tells of overload, carried to the adaptive limit as a failure (records never reject otherwise). */
class OverloadedRecord {
  readonly record: FetchRecord;
  constructor(record: FetchRecord) {
    this.record = record;
  }
}

/** 429 or 503 in the end, a timeout, or any retry on the way (the service pushed back at least once). */
function isOverloadRecord(record: FetchRecord): boolean {
  return (
    record.status === 429 ||
    record.status === 503 ||
    record.attempts > 1 ||
    (record.error?.includes('timed out') ?? false)
  );
}

/**
 * `--adaptive`: the same records as `limitedMap` gives, but an overloaded URL's record reaches the
 * limit as a failure (its `isOverload`), so that it shrinks; every record is still printed.
 */
export function adaptiveRecords(
  urls: AsyncIterable<string>,
  limit: AdaptiveLimit,
  fetchOne: (url: string, context: { index: number }) => Promise<FetchRecord>,
  options: LimitOptions<string>,
): AsyncGenerator<FetchRecord> & { drain(): void } {
  const settled = limitedMapSettled(
    urls,
    adaptive({ ...limit, isOverload: (error) => error instanceof OverloadedRecord }),
    async (url: string, context) => {
      const record = await fetchOne(url, context);
      if (isOverloadRecord(record)) throw new OverloadedRecord(record);
      return record;
    },
    options,
  );
  async function* records(): AsyncGenerator<FetchRecord> {
    for await (const outcome of settled as AsyncIterable<Settled<FetchRecord>>) {
      if (outcome.status === 'fulfilled') yield outcome.value;
      else if (outcome.reason instanceof OverloadedRecord) yield outcome.reason.record;
      else throw outcome.reason;
    }
  }
  // SIGINT's "no new URLs" (core's drain()) reaches the adaptive run too.
  return Object.assign(records(), { drain: () => settled.drain() });
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
  const { name, message, cause } = error as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (name === 'TimeoutError' || (cause as { name?: string } | undefined)?.name === 'TimeoutError')
    return `timed out after ${(timeoutMs ?? 0) / 1000} s`;
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

  /** Throws a URIError for a malformed percent-encoding: the caller records it for that URL alone. */
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
  readonly #source: LineReader | ListSource;
  readonly #options: FetchOptions;
  readonly #streams: OutputStreams;
  /** What a stop must abort: each attempt's controller and each backoff's wake-up (no long-lived signal with a listener per request: thousands would trip MaxListenersExceededWarning). */
  readonly #inFlight = new Set<AbortController>();
  readonly #sleepers = new Set<() => void>();
  #interruptedBy: 'SIGINT' | 'SIGTERM' | undefined;
  #isOutputBroken = false;
  /** Set on a stop: no attempt or retry starts after it. */
  #isStopping = false;
  #results: { drain(): void } | undefined;

  constructor(source: LineReader | ListSource, options: FetchOptions, streams: OutputStreams) {
    this.#source = source;
    this.#options = options;
    this.#streams = streams;
  }

  interrupt(signal: 'SIGINT' | 'SIGTERM'): void {
    if (this.#interruptedBy !== undefined) return;
    this.#interruptedBy = signal;
    this.#stopAll(new DOMException('Interrupted', 'AbortError'));
  }

  /**
   * Nothing new starts (core's `drain()`: a URL held for its `--rate` window is dropped too), the
   * attempts in flight abort, and their records are still printed as the run ends normally.
   */
  #stopAll(reason: unknown): void {
    this.#isStopping = true;
    this.#results?.drain();
    // drain() does not interrupt a pull already waiting on stdin (core settles it first): ending
    // the reader settles it now.
    this.#source.stop();
    for (const controller of this.#inFlight) controller.abort(reason);
    for (const wake of this.#sleepers) wake();
  }

  /** Our stdout went away (`lac fetch | head`): stop quietly, as the job runner does. */
  outputBroken(): void {
    if (this.#isOutputBroken) return;
    this.#isOutputBroken = true;
    this.#stopAll(new DOMException('Output closed', 'AbortError'));
  }

  async run(): Promise<number> {
    const options = this.#options;
    const bar = options.bar ? await ProgressBar.create(this.#streams.stderr, 'URLs', options.total) : undefined;
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
    const runOptions = {
      ordered: options.keepOrder,
      ...(options.rate === undefined ? {} : { rate: rateLimit(options.rate) }),
    };
    const results =
      typeof options.jobs === 'number'
        ? limitedMap(urls(), options.jobs, fetchOne, runOptions)
        : adaptiveRecords(urls(), options.jobs, fetchOne, runOptions);
    this.#results = results;
    try {
      for await (const record of results) {
        done++;
        if (record.error !== undefined) failed++;
        retries += Math.max(0, record.attempts - 1);
        bytes += record.bytes;
        if (!this.#isOutputBroken) this.#streams.stdout.write(`${JSON.stringify(record)}\n`);
        bar?.update(done);
      }
    } finally {
      bar?.stop(this.#interruptedBy !== undefined);
    }
    const seconds = (performance.now() - started) / 1000;
    this.#streams.stderr.write(
      `lac fetch: ${done} ${done === 1 ? 'URL' : 'URLs'}, ${done - failed} ok, ${failed} failed, ${retries} ${retries === 1 ? 'retry' : 'retries'}, ${bytes} bytes in ${seconds.toFixed(2)} s (${(done / Math.max(seconds, 1e-9)).toFixed(0)} URLs/s)\n`,
    );
    if (this.#interruptedBy !== undefined) return this.#interruptedBy === 'SIGINT' ? 130 : 143;
    if (this.#isOutputBroken) return 255;
    return Math.min(failed, 101);
  }

  async #fetchOne(url: string, seq: number, namer: FileNamer | undefined): Promise<FetchRecord> {
    const started = performance.now();
    const record: FetchRecord = { url, status: null, bytes: 0, ms: 0, attempts: 0 };
    try {
      await this.#fetchInto(record, url, seq, namer);
    } catch (error) {
      // Whatever goes wrong with one URL is that URL's error record; the run goes on.
      record.error =
        error instanceof URIError ? `malformed URL: ${error.message}` : describeError(error, this.#options.timeoutMs);
    }
    record.ms = Math.round(performance.now() - started);
    return record;
  }

  async #fetchInto(record: FetchRecord, url: string, seq: number, namer: FileNamer | undefined): Promise<void> {
    const options = this.#options;
    if (!URL.canParse(url)) {
      record.error = 'invalid URL';
      return;
    }
    const file = namer?.name(url, seq);
    const attempts = Math.max(1, options.retries);
    for (;;) {
      record.attempts++;
      let isRetryable = false;
      let wait: number | undefined;
      // One controller and one timer per attempt, both owned here: a signal made by
      // AbortSignal.any() can be collected on Node 20 while fetch waits, and then never fires;
      // and a listener added to the long-lived stop signal is removed when the attempt ends.
      const attempt = new AbortController();
      this.#inFlight.add(attempt);
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(
              () => attempt.abort(new DOMException(`timed out after ${options.timeoutMs! / 1000} s`, 'TimeoutError')),
              options.timeoutMs,
            );
      const signal = attempt.signal;
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
        record.error =
          signal.aborted && !this.#isStopping
            ? describeError(signal.reason, options.timeoutMs)
            : describeError(error, options.timeoutMs);
        // A network error or a timeout may pass; a stop by the user may not.
        isRetryable = !this.#isStopping;
      } finally {
        clearTimeout(timer);
        this.#inFlight.delete(attempt);
      }
      if (record.error === undefined || !isRetryable || record.attempts >= attempts || this.#isStopping) break;
      const backoff = wait ?? Math.min(options.backoffMs * 2 ** (record.attempts - 1), MAX_BACKOFF_MS);
      if (!(await this.#sleep(backoff))) break;
    }
  }

  /** Waits `ms`; resolves false at once on a stop. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#isStopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.#sleepers.delete(wake);
        resolve(true);
      }, ms);
      this.#sleepers.add(wake);
    });
  }
}

async function bodyLength(response: Response): Promise<number> {
  if (response.body === null) return 0;
  let length = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) length += chunk.length;
  return length;
}
