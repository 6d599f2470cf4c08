import { Readable } from 'node:stream';
import { limitedAsCompleted, type LimitedIterator, type TaskSource } from '@lac/core';
import type { LimitedReadable as LimitedReadableType, LimitedStreamOptions } from './options.js';
import { splitOptions, toStreamError } from './validate.js';

type Callback = (error?: Error | null) => void;

/** The Readable behind `limitedReadable`: drains core's run one `next()` at a time, only while `push()` asks for more. */
class LimitedReadable<TResult> extends Readable {
  readonly #run: LimitedIterator<TResult>;
  readonly #signal: AbortSignal | undefined;
  #isReading = false;
  /** Mirrors `destroyed`, which is a getter over both sides' state: cheaper on the per-item path. */
  #isDestroyed = false;

  constructor(run: LimitedIterator<TResult>, highWaterMark: number | undefined, signal: AbortSignal | undefined) {
    super({ objectMode: true, ...(highWaterMark === undefined ? {} : { highWaterMark }) });
    this.#run = run;
    this.#signal = signal;
    if (signal !== undefined) {
      if (signal.aborted) this.destroy(signal.reason as Error);
      else signal.addEventListener('abort', this.#onAbort);
    }
  }

  override _read(): void {
    if (this.#isReading) return;
    this.#isReading = true;
    this.#pull();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#isDestroyed = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    // Aborts in-flight tasks' signals and closes the task source (a generator's `finally` runs).
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
      return;
    }
    const value = result.value;
    if (value === null || value === undefined || this.push(value)) this.#pull();
    else this.#isReading = false;
  };

  readonly #onError = (error: unknown): void => {
    this.destroy(toStreamError(error, 'task'));
  };

  readonly #onAbort = (): void => {
    this.destroy(toStreamError(this.#signal!.reason, 'task'));
  };
}

/**
 * Runs the tasks of `tasks` (any iterable or async iterable of `(context) => value` functions, lazy
 * or endless) at most `limit` at once and returns their results as an object-mode Readable, in
 * completion order (or source order with `ordered: true`).
 *
 * The source is pulled only when a task can start, and a reader that stops reading stops new tasks
 * once `limit + buffer` results wait. A task's error destroys the stream with that error;
 * `destroy()` aborts in-flight tasks and closes the source. `null`/`undefined` results are skipped.
 *
 * @throws TypeError when `tasks`, `limit` or `options` is invalid.
 *
 * @example
 * ```ts
 * const tasks = urls.map((url) => ({ signal }) => fetch(url, { signal }).then((r) => r.text()));
 * await pipeline(limitedReadable(tasks, 4), createWriteStream('pages.txt'));
 * ```
 */
export function limitedReadable<TResult>(tasks: TaskSource<TResult>, limit: number, options?: LimitedStreamOptions): LimitedReadableType<TResult> {
  const { highWaterMark, limitOptions } = splitOptions(options);
  const run = limitedAsCompleted(tasks, limit, limitOptions);
  return new LimitedReadable<TResult>(run, highWaterMark, limitOptions?.signal);
}
