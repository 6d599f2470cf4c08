import { limitedAsCompleted, type LimitOptions, type TaskSource } from '@lac/core';
import { validateOptions } from './validate.js';

/**
 * The results of `tasks`, run at most `limit` at once, as a `ReadableStream` in completion order
 * (or source order with `ordered: true`). Tasks start only as the stream is read, up to
 * `limit + buffer` results ahead of the reader.
 *
 * `stream.cancel(reason)` and `options.signal` abort the in-flight tasks' `context.signal` with that
 * reason and close the source; a task failure errors the stream with that same error.
 *
 * @example
 * ```ts
 * const tasks = urls.map((url) => ({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 * await limitedReadableStream(tasks, 8).pipeTo(sink);
 * ```
 */
export function limitedReadableStream<TResult>(tasks: TaskSource<TResult>, limit: number, options?: LimitOptions): ReadableStream<TResult> {
  validateOptions(options);
  const controller = new AbortController();
  // Created first: it validates `tasks`, `limit` and the remaining options before anything is listened to.
  const run = limitedAsCompleted(tasks, limit, { ...options, signal: controller.signal });
  const userSignal = options?.signal;
  let readableController!: ReadableStreamDefaultController<TResult>;
  let isFinished = false;

  const finish = (): void => {
    isFinished = true;
    userSignal?.removeEventListener('abort', onUserAbort);
  };
  const stop = (reason: unknown): void => {
    if (isFinished) return;
    finish();
    controller.abort(reason);
    readableController.error(reason);
  };
  const onUserAbort = (): void => stop(userSignal!.reason);
  const onStep = (step: IteratorResult<TResult>): void => {
    if (isFinished) return;
    if (!step.done) {
      readableController.enqueue(step.value);
      return;
    }
    finish();
    readableController.close();
  };
  const onError = (error: unknown): void => {
    if (isFinished) return;
    finish();
    readableController.error(error);
  };

  const stream = new ReadableStream<TResult>(
    {
      start: (streamController) => {
        readableController = streamController;
      },
      pull: () => (isFinished ? undefined : run.next().then(onStep, onError)),
      cancel: (reason) => {
        if (isFinished) return;
        finish();
        controller.abort(reason);
      },
    },
    // The scheduler already runs `limit + buffer` ahead of the reader; a stream queue on top would only add to it.
    { highWaterMark: 0 },
  );
  if (userSignal !== undefined) {
    if (userSignal.aborted) stop(userSignal.reason);
    else userSignal.addEventListener('abort', onUserAbort);
  }
  return stream;
}
