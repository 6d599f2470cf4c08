import { limitedAsCompletedPush, type ConsumedRun } from '@lac/core/internal';
import type { AdaptiveLimit, LimitOptions, TaskSource } from '@lac/core';
import { ReadableHalf, type HalfOwner } from './readable-half.js';
import { validateOptions } from './validate.js';

/** The stage behind `limitedReadableStream`: the readable half of `LimitedTransformStream`, fed by a task source. */
class TaskStage<TResult> implements HalfOwner {
  readonly #half: ReadableHalf<TResult>;
  /** Passed to the scheduler as its `signal`: aborting it aborts in-flight tasks with our reason and closes the source. */
  readonly #controller = new AbortController();
  readonly #run: ConsumedRun;
  readonly #userSignal: AbortSignal | undefined;
  #isFinished = false;

  constructor(tasks: TaskSource<TResult>, limit: number | AdaptiveLimit, options: LimitOptions | undefined) {
    // The scheduler already runs `limit + buffer` ahead of the reader; a stream queue on top would only add to it.
    this.#half = new ReadableHalf<TResult>(this, { highWaterMark: 0 });
    // Created first: it validates `tasks`, `limit` and the remaining options before anything is listened to.
    this.#run = limitedAsCompletedPush(tasks, limit, this.#half, { ...options, signal: this.#controller.signal });
    this.#half.attach(this.#run);
    const userSignal = options?.signal;
    if (userSignal !== undefined) {
      this.#userSignal = userSignal;
      if (userSignal.aborted) this.#stop(userSignal.reason, true);
      else userSignal.addEventListener('abort', this.#onUserAbort);
    }
  }

  get stream(): ReadableStream<TResult> {
    return this.#half.stream;
  }

  fail(error: unknown): void {
    if (this.#isFinished) return;
    this.#finish();
    this.#controller.abort(error);
    this.#half.error(error);
  }

  cancel(reason: unknown): void {
    this.#stop(reason, false);
  }

  done(): void {
    this.#finish();
  }

  ready(): void {}

  #stop(reason: unknown, isErrored: boolean): void {
    if (this.#isFinished) return;
    this.#finish();
    this.#controller.abort(reason);
    if (isErrored) this.#half.error(reason);
  }

  readonly #onUserAbort = (): void => {
    this.#stop(this.#userSignal!.reason, true);
  };

  #finish(): void {
    this.#isFinished = true;
    this.#userSignal?.removeEventListener('abort', this.#onUserAbort);
  }
}

/**
 * The results of `tasks`, run at most `limit` at once, as a `ReadableStream` in completion order
 * (or source order with `ordered: true`). Tasks start only as the stream is read, up to
 * `limit + buffer` results ahead of the reader.
 *
 * `stream.cancel(reason)` and `options.signal` abort the in-flight tasks' `context.signal` with that
 * reason and close the source; a task failure errors the stream at once with that same value.
 *
 * @param tasks - The task functions, `(context) => value`: an array, any iterable or generator, or an async iterable. Pulled only when a task can start.
 *
 * @param limit - The most tasks running at once: an integer >= 1, or `Infinity`.
 *
 * @param options - `@lac/core`'s `LimitOptions` (`ordered`, `buffer`, `signal`, `timeout`, ...).
 *
 * @returns A `ReadableStream` of the tasks' results.
 *
 * @throws TypeError when `tasks`, `limit` or `options` is invalid, naming the argument, the value and its type.
 *
 * @example
 * ```ts
 * const tasks = urls.map((url) => ({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 * await limitedReadableStream(tasks, 8).pipeTo(sink);
 * ```
 */
export function limitedReadableStream<TResult>(
  tasks: TaskSource<TResult>,
  limit: number | AdaptiveLimit,
  options?: LimitOptions,
): ReadableStream<TResult> {
  validateOptions(options);
  return new TaskStage<TResult>(tasks, limit, options).stream;
}
