import { Duplex } from 'node:stream';
import { limitedMap, type LimitedIterator, type Mapper } from '@lac/core';
import type { LimitedStreamOptions } from './options.js';
import { splitOptions } from './validate.js';
import { AsyncSource, type InputSource } from './writable-source.js';

type Callback = (error?: Error | null) => void;

/**
 * The Duplex behind `limitedTransform`. Its writable side feeds an `InputSource`, `@lac/core`'s
 * `limitedMap` runs the mappers, and its readable side drains the run, one `next()` at a time and
 * only while `push()` asks for more: a full readable side stops the draining, core then stops
 * starting mappers once `limit + buffer` results are waiting, it stops pulling the source, and the
 * source holds back the write callback, so upstream stops too.
 */
class LimitedTransform<TInput, TResult> extends Duplex {
  readonly #source: InputSource<TInput>;
  readonly #run: LimitedIterator<TResult>;
  readonly #signal: AbortSignal | undefined;
  #isStarted = false;
  #isReading = false;
  /** Mirrors `destroyed`, which is a getter over both sides' state: cheaper on the per-item path. */
  #isDestroyed = false;
  #finalCallback: Callback | undefined;

  constructor(source: InputSource<TInput>, run: LimitedIterator<TResult>, highWaterMark: number | undefined, signal: AbortSignal | undefined) {
    super({ objectMode: true, ...(highWaterMark === undefined ? {} : { highWaterMark }) });
    this.#source = source;
    this.#run = run;
    this.#signal = signal;
    // Core aborts the in-flight mappers with `signal.reason` itself; this listener destroys the stage
    // at once, even while a full readable side is not asking the run for anything.
    if (signal !== undefined) {
      if (signal.aborted) this.destroy(signal.reason as Error);
      else signal.addEventListener('abort', this.#onAbort);
    }
  }

  override _write(chunk: TInput, _encoding: BufferEncoding, callback: Callback): void {
    this.#source.write(chunk, callback);
    // Start draining on the first write, like a Transform, even before anyone reads: results then
    // wait in the readable buffer (up to its highWaterMark) instead of mappers waiting for a reader.
    if (!this.#isStarted) this._read();
  }

  override _writev(chunks: { chunk: TInput }[], callback: Callback): void {
    this.#source.writev(chunks, callback);
    if (!this.#isStarted) this._read();
  }

  override _final(callback: Callback): void {
    // Held until every mapper has settled and its result was pushed: only then does `finish` fire.
    this.#finalCallback = callback;
    this.#source.end();
    if (!this.#isStarted) this._read();
  }

  override _read(): void {
    this.#isStarted = true;
    if (this.#isReading) return;
    this.#isReading = true;
    this.#pull();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#isDestroyed = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#source.close();
    // Aborts in-flight mappers' signals and starts nothing new; their late results are dropped by core.
    this.#run.return().then(
      () => callback(error),
      () => callback(error),
    );
  }

  #pull(): void {
    this.#run.next().then(this.#onResult, this.#onError);
  }

  readonly #onResult = (result: IteratorResult<TResult>): void => {
    if (this.#isDestroyed) return;
    if (result.done === true) {
      this.#isReading = false;
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.push(null);
      this.#finalCallback?.();
      return;
    }
    const value = result.value;
    // null would end an object-mode stream and undefined cannot be pushed: such results are skipped.
    if (value === null || value === undefined || this.push(value)) this.#pull();
    else this.#isReading = false;
  };

  readonly #onError = (error: unknown): void => {
    this.destroy(error as Error);
  };

  readonly #onAbort = (): void => {
    this.destroy(this.#signal!.reason as Error);
  };
}

/**
 * Returns an object-mode Duplex for `stream.pipeline()`: each written item goes through
 * `mapper(item, context)`, at most `limit` at once, and the results come out of the readable side
 * as they finish (or in input order with `ordered: true`).
 *
 * - Backpressure holds end to end: a full readable side stops new mappers and the writable side
 *   stops taking input, so the stage holds at most `limit + buffer + 2 * highWaterMark` items.
 * - `finish` and `end` fire only after every mapper has settled and its result was pushed.
 * - A mapper's error (or a `timeout`) destroys the stage with that same error; in-flight mappers'
 *   `context.signal` aborts.
 * - `destroy()`, a pipeline's `signal`, `options.signal` or a downstream error abort in-flight
 *   mappers and start nothing new.
 * - A mapper that returns (or resolves to) `null` or `undefined` drops the item: nothing is pushed.
 *
 * @throws TypeError when `limit`, `mapper` or `options` is invalid.
 *
 * @example
 * ```ts
 * await pipeline(
 *   createReadStream('urls.txt'), split2(),
 *   limitedTransform(8, async (url, { signal }) => (await fetch(url, { signal })).status),
 *   new Writable({ objectMode: true, write: (status, _, cb) => { console.log(status); cb(); } }),
 * );
 * ```
 */
export function limitedTransform<TInput, TResult>(
  limit: number,
  mapper: Mapper<TInput, TResult>,
  options?: LimitedStreamOptions,
): Duplex {
  const { highWaterMark, limitOptions } = splitOptions(options);
  // limitedMap validates limit, mapper and core's options, and throws its TypeError here, at construction.
  const source = new AsyncSource<TInput>();
  const run = limitedMap(source, limit, mapper, limitOptions);
  return new LimitedTransform<TInput, TResult>(source, run, highWaterMark, limitOptions?.signal);
}
