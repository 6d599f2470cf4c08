import { Readable } from 'node:stream';
import type { AdaptiveLimit, LimitOptions, TaskSource } from '@lac/core';
import { limitedAsCompletedPush, type ConsumedRun } from '@lac/core/internal';
import type { LimitedReadable as LimitedReadableType, LimitedStreamOptions } from './options.js';
import { ReadableOutput } from './readable-output.js';
import { splitOptions } from './validate.js';

type Callback = (error?: Error | null) => void;

/** The Readable behind `limitedReadable`: core pulls the tasks from the first `_read()` on and pushes each result in. */
class LimitedReadable<TResult> extends Readable {
  /** Undefined only while the constructor runs (an already-aborted signal destroys the stream from inside it). */
  readonly #run: ConsumedRun | undefined;

  constructor(
    tasks: TaskSource<TResult>,
    limit: number | AdaptiveLimit,
    highWaterMark: number | undefined,
    options: LimitOptions | undefined,
  ) {
    super({ objectMode: true, ...(highWaterMark === undefined ? {} : { highWaterMark }) });
    // Validates tasks, limit and core's options; nothing is pulled until the first read.
    const output = new ReadableOutput<TResult>(this, 'task', options?.signal);
    this.#run = limitedAsCompletedPush(tasks, limit, output, options);
    output.constructed();
  }

  override _read(): void {
    this.#run!.resume();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    const run = this.#run;
    if (run === undefined) {
      callback(error);
      return;
    }
    // Aborts in-flight tasks' signals and closes the task source (a generator's `finally` runs).
    run.return().then(
      () => callback(error),
      () => callback(error),
    );
  }
}

/**
 * Runs the tasks of `tasks` (any iterable or async iterable of `(context) => value` functions, lazy
 * or endless) at most `limit` at once and returns their results as an object-mode Readable, in
 * completion order (or source order with `ordered: true`).
 *
 * The source is pulled only when a task can start, and a reader that stops reading stops new tasks
 * once `limit + buffer` results wait. A task's failure destroys the stream at once with that same
 * value; `destroy()` aborts in-flight tasks and closes the source. `null`/`undefined` results are skipped.
 *
 * @throws TypeError when `tasks`, `limit` or `options` is invalid.
 *
 * @param tasks - The task functions, `(context) => value`: an array, any iterable or generator, or an async iterable. Pulled only when a task can start.
 *
 * @param limit - The most tasks running at once: an integer >= 1, or `Infinity`.
 *
 * @param options - `@lac/core`'s `LimitOptions` (`ordered`, `buffer`, `signal`, `timeout`, ...) and the stream's `highWaterMark`.
 *
 * @returns An object-mode `Readable` of the tasks' results.
 *
 * @example
 * ```ts
 * const tasks = urls.map((url) => ({ signal }) => fetch(url, { signal }).then((r) => r.text()));
 * await pipeline(limitedReadable(tasks, 4), createWriteStream('pages.txt'));
 * ```
 */
export function limitedReadable<TResult>(
  tasks: TaskSource<TResult>,
  limit: number | AdaptiveLimit,
  options?: LimitedStreamOptions,
): LimitedReadableType<TResult> {
  const { highWaterMark, limitOptions } = splitOptions(options);
  return new LimitedReadable<TResult>(tasks, limit, highWaterMark, limitOptions);
}
