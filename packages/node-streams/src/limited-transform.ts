import { Duplex } from 'node:stream';
import type { AdaptiveLimit, LimitOptions, Mapper } from '@lac/core';
import { limitedMapPush, type PushedRun } from '@lac/core/internal';
import { isAbortSignal } from '@lac/shared';
import type { LimitedDuplex, LimitedStreamOptions } from './options.js';
import { ReadableOutput } from './readable-output.js';
import { splitOptions } from './validate.js';

type Callback = (error?: Error | null) => void;

/**
 * The Duplex behind `limitedTransform`, on core's push protocol: `_write` hands each item to the
 * run, which starts it at once while a slot is free; otherwise the write callback is held until the
 * run takes the item (`onReady`), so upstream stops. Results are pushed as they finish; a full
 * readable side pauses the run, which then stops starting mappers once `limit + buffer` results wait.
 */
class LimitedTransform<TInput, TResult> extends Duplex {
  /** Undefined only while the constructor runs (an already-aborted signal destroys the stage from inside it). */
  readonly #run: PushedRun<TInput> | undefined;
  /**
   * The write callback held until the run takes the item handed to it. No `_writev`: Node would
   * allocate a batch array per call, and the run takes one item at a time anyway.
   */
  #callback: Callback | undefined;
  #finalCallback: Callback | undefined;
  /**
   * The signal core is given: it follows `options.signal`, and `destroy(error)` aborts it with that
   * error, so in-flight mappers see the reason the stage was destroyed with (as a web stage's
   * `cancel(reason)` does), not a generic AbortError.
   */
  readonly #controller = new AbortController();
  /** Stops following `options.signal` (a long-lived signal must not keep a listener per stage). */
  #unfollow: (() => void) | undefined;

  constructor(
    limit: number | AdaptiveLimit,
    mapper: Mapper<TInput, TResult>,
    highWaterMark: number | undefined,
    options: LimitOptions | undefined,
  ) {
    super({ objectMode: true, ...(highWaterMark === undefined ? {} : { highWaterMark }) });
    const output = new ReadableOutput<TResult>(this, 'mapper', options?.signal, this.#onDone, this.#onReady);
    // Validates limit, mapper and core's options, and throws its TypeError here, at construction.
    // Core aborts in-flight mappers on `options.signal` and reports it (and any failure) at once.
    this.#run = limitedMapPush(limit, mapper, output, this.#follow(options));
    output.constructed();
    // Results flow into the readable buffer from the first write on, like a Transform's.
    this.#run.resume();
  }

  /** Core's options with the stage's own signal, which aborts when `options.signal` does. */
  #follow(options: LimitOptions | undefined): LimitOptions {
    const signal = options?.signal;
    // Not a signal: core rejects it with its own TypeError.
    if (signal !== undefined && !isAbortSignal(signal)) return options!;
    const controller = this.#controller;
    if (signal?.aborted === true) controller.abort(signal.reason);
    else if (signal !== undefined) {
      const forward = (): void => controller.abort(signal.reason);
      signal.addEventListener('abort', forward);
      this.#unfollow = () => signal.removeEventListener('abort', forward);
    }
    return { ...options, signal: controller.signal };
  }

  override _write(chunk: TInput, _encoding: BufferEncoding, callback: Callback): void {
    if (this.#run!.write(chunk)) callback();
    else this.#callback = callback;
  }

  override _final(callback: Callback): void {
    // Held until every mapper has settled and its result was pushed: only then does `finish` fire.
    this.#finalCallback = callback;
    this.#run!.end();
  }

  override _read(): void {
    this.#run!.resume();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    // A held write callback is dropped, as with a destroyed Transform.
    this.#callback = undefined;
    this.#unfollow?.();
    this.#unfollow = undefined;
    const run = this.#run;
    if (run === undefined) {
      callback(error);
      return;
    }
    // Destroyed with an error (by hand, a pipeline's downstream failure or its signal): in-flight
    // mappers' signals abort with it. Core reports the abort back, to a stage already destroyed.
    if (error !== null && error !== undefined) this.#controller.abort(error);
    // Aborts in-flight mappers' signals and starts nothing new; their late results are dropped by core.
    // Pushed input has nothing to close, so the stage is done at once: called back synchronously, as a
    // Transform's `_destroy` is (a microtask later, Node would still emit 'end' for results buffered before).
    void run.return();
    callback(error);
  }

  #release(): void {
    const callback = this.#callback;
    this.#callback = undefined;
    // May synchronously write the next buffered chunk(s) into the slot just freed.
    callback?.();
  }

  readonly #onReady = (): void => {
    this.#release();
  };

  readonly #onDone = (): void => {
    this.#finalCallback?.();
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
 * - A mapper's failure (or a `timeout`) destroys the stage at once with that same value, whether or
 *   not anyone reads (a falsy value, which Node's streams cannot carry, is wrapped in an Error whose
 *   `cause` it is); in-flight mappers' `context.signal` aborts and nothing new starts.
 * - `destroy()`, a pipeline's `signal`, `options.signal` or a downstream error abort in-flight
 *   mappers and start nothing new. Their `context.signal.reason` is the error the stage was destroyed
 *   with, or `options.signal`'s reason (an `AbortError` for a `destroy()` with no error).
 * - A mapper that returns (or resolves to) `null` or `undefined` drops the item: nothing is pushed.
 *
 * @throws TypeError when `limit`, `mapper` or `options` is invalid.
 *
 * @param limit - The most mappers running at once: an integer >= 1, or `Infinity`.
 *
 * @param mapper - Called as `mapper(item, context)` for each written item; `context.signal` aborts on failure, `destroy()` and `options.signal`.
 *
 * @param options - `@lac/core`'s `LimitOptions` (`ordered`, `buffer`, `signal`, `timeout`, ...) and the stream's `highWaterMark`.
 *
 * @returns An object-mode `Duplex` for `stream.pipeline`: write items, read results.
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
  limit: number | AdaptiveLimit,
  mapper: Mapper<TInput, TResult>,
  options?: LimitedStreamOptions,
): LimitedDuplex<TInput, TResult> {
  const { highWaterMark, limitOptions } = splitOptions(options);
  return new LimitedTransform<TInput, TResult>(limit, mapper, highWaterMark, limitOptions);
}
