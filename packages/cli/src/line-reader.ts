import type { BlockReader } from './pipe.js';
import type { Readable } from 'node:stream';
import { decodeItem } from './bytes.js';
import { StreamReader } from './stream-reader.js';

const DONE: IteratorResult<string> = { value: undefined, done: true };

/**
 * Reads a stream as lines (or NUL-separated records), one `next()` at a time. It reads a chunk
 * only when the lines before it are taken, so the stream's own backpressure holds and a
 * 10-million-line input stays in flat memory; and it hands out each line as soon as its separator
 * arrives, so jobs start before the input ends (`tail -f log | lac ...`).
 *
 * `stop()` ends it early: a pending `next()` resolves as done and the stream is destroyed, so a
 * run can finish while the input is still open.
 */
export class LineReader extends StreamReader<string> {
  readonly #separator: number;
  #lines: string[] = [];
  #head = 0;
  #rest: Buffer | undefined;
  /** Lines handed out so far. */
  count = 0;

  /** `separator`: one ASCII character (`\n`, `\0`, or `-d`'s). */
  constructor(stream: Readable, separator: string) {
    super(stream);
    this.#separator = separator.charCodeAt(0);
  }

  protected produce(): string | undefined {
    if (this.#head >= this.#lines.length) return undefined;
    this.count++;
    return this.#lines[this.#head++];
  }

  protected ingest(chunk: Buffer): void {
    if (this.#head >= this.#lines.length) {
      this.#lines = [];
      this.#head = 0;
    }
    const data = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
    this.#rest = undefined;
    const separator = this.#separator;
    let start = 0;
    let at = data.indexOf(separator);
    while (at !== -1) {
      // A separator byte never occurs inside a UTF-8 sequence, so decoding each line alone is safe;
      // bytes that are not UTF-8 survive as escapes (bytes.ts).
      this.#lines.push(decodeItem(data, start, at));
      start = at + 1;
      at = data.indexOf(separator, start);
    }
    if (start < data.length) this.#rest = data.subarray(start);
  }

  /** The last line, if it had no separator. */
  protected finish(): void {
    if (this.#rest !== undefined && this.#rest.length > 0) {
      if (this.#head >= this.#lines.length) {
        this.#lines = [];
        this.#head = 0;
      }
      this.#lines.push(decodeItem(this.#rest));
    }
    this.#rest = undefined;
  }

  protected clear(): void {
    this.#lines = [];
    this.#head = 0;
    this.#rest = undefined;
  }
}

/** A fixed list of items (`::: a b c`, or records built from several input sources) that can be stopped like a `LineReader`. */
export class ListSource<T = string> implements IterableIterator<T> {
  readonly #items: readonly T[];
  #next = 0;
  #isStopped = false;

  constructor(items: readonly T[]) {
    this.#items = items;
  }

  get count(): number {
    return this.#next;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<T> {
    if (this.#isStopped || this.#next >= this.#items.length) return DONE as IteratorResult<T>;
    return { value: this.#items[this.#next++]!, done: false };
  }

  return(): IteratorResult<T> {
    this.stop();
    return DONE as IteratorResult<T>;
  }

  stop(): void {
    this.#isStopped = true;
  }
}

/**
 * A `LineReader`'s lines turned into job arguments: split into columns (`--colsep`) and/or
 * `perJob` lines at a time (`-n`, `-N`). Stopping it stops the reader.
 */
export class RecordReader implements AsyncIterableIterator<readonly string[]> {
  readonly #reader: LineReader;
  readonly #perJob: number;
  readonly #colsep: RegExp | undefined;

  constructor(reader: LineReader, perJob: number, colsep: RegExp | undefined) {
    this.#reader = reader;
    this.#perJob = perJob;
    this.#colsep = colsep;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<readonly string[]>> {
    const args: string[] = [];
    let lines = 0;
    // -N 0: one job per line, with no arguments.
    for (const perJob = Math.max(1, this.#perJob); lines < perJob; lines++) {
      const line = await this.#reader.next();
      if (line.done) break;
      if (this.#perJob === 0) continue;
      if (this.#colsep === undefined) args.push(line.value);
      else args.push(...line.value.split(this.#colsep));
    }
    return lines === 0 ? (DONE as IteratorResult<readonly string[]>) : { value: args, done: false };
  }

  return(): Promise<IteratorResult<readonly string[]>> {
    this.stop();
    return Promise.resolve(DONE as IteratorResult<readonly string[]>);
  }

  stop(): void {
    this.#reader.stop();
  }
}

/** Where a run's job arguments come from: one item (a string) or several (an array) per job. */
export type ItemSource = LineReader | ListSource<string> | ListSource<readonly string[]> | RecordReader | BlockReader;
