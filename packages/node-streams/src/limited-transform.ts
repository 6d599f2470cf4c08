import { Duplex } from 'node:stream';
import { limitedMap, type LimitedIterator, type Mapper, type TaskContext } from '@lac/core';
import type { LimitedDuplex, LimitedStreamOptions } from './options.js';
import { describe, splitOptions, toStreamError } from './validate.js';
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

  /** A mapper failed (seen at once, whether or not anyone reads) or the run failed (a timeout). */
  readonly fail = (error: unknown): void => {
    if (!this.#isDestroyed) this.destroy(toStreamError(error, 'mapper'));
  };

  readonly #onError = this.fail;

  readonly #onAbort = (): void => {
    this.destroy(toStreamError(this.#signal!.reason, 'mapper'));
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
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
): LimitedDuplex<TInput, TResult> {
  const { highWaterMark, limitOptions } = splitOptions(options);
  // limitedMap validates limit, mapper and core's options, and throws its TypeError here, at construction.
  const source = new AsyncSource<TInput>();
  let stage: LimitedTransform<TInput, TResult> | undefined;
  // Core reports a failure only once the results before it are read, which a full readable side
  // may never ask for: the mapper's failure destroys the stage at once instead.
  const map = (item: TInput, context: TaskContext): TResult | PromiseLike<TResult> => {
    let value: TResult | PromiseLike<TResult>;
    try {
      value = mapper(item, context);
    } catch (error) {
      stage!.fail(error);
      throw error;
    }
    if (!isThenable(value)) return value;
    // Resolved once here (a lazy thenable runs again on every then()); core gets the native promise.
    const promise = Promise.resolve(value);
    // A microtask later, so core settles the task first: its own signal then stays unaborted, and
    // the others abort with core's fail-fast reason.
    promise.then(undefined, (error: unknown) => queueMicrotask(() => stage!.fail(error)));
    return promise;
  };
  if (typeof mapper !== 'function') throw new TypeError(`Expected \`mapper\` to be a function, got ${describe(mapper)}`);
  const run = limitedMap(source, limit, map, limitOptions);
  stage = new LimitedTransform<TInput, TResult>(source, run, highWaterMark, limitOptions?.signal);
  return stage;
}
