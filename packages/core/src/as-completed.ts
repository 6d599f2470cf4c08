import { LimitedRun, type ToSettled } from './limited-run.js';
import type { LimitedIterator, LimitOptions, Mapper, Settled, Task, TaskSource } from './options.js';
import type { AdaptiveLimit } from './adaptive.js';
import { initialLimit } from './adaptive-limit.js';
import { getIterator, resolveOptions, validateFunction } from './validate.js';

/**
 * The four functions' common start: the arguments are checked in order (`limit` and `mapper` by the
 * caller, as its arguments are evaluated; then `options` and the source), then the run starts. `settled` is passed only by the settled forms, so an app that uses neither
 * does not bundle the records.
 */
function run<TOut>(
  source: unknown,
  name: string,
  limit: number | AdaptiveLimit,
  initial: number,
  mapper: Mapper<never, unknown> | undefined,
  options: unknown,
  settled: ToSettled | undefined,
): LimitedIterator<TOut> {
  const resolved = resolveOptions(initial, options);
  const { iterator, isAsync } = getIterator<unknown>(source, name);
  return new LimitedRun<unknown, TOut>({
    iterator,
    isAsync,
    limit,
    mapper: mapper as Mapper<unknown, unknown> | undefined,
    settled,
    options: resolved,
  });
}

/** A task's outcome as the settled forms deliver it (`attempts` only for a run with `retry`). */
const toSettled: ToSettled = (isFulfilled, value, index, attempts) =>
  isFulfilled
    ? { status: 'fulfilled', value, index }
    : attempts === undefined
      ? { status: 'rejected', reason: value, index }
      : { status: 'rejected', reason: value, index, attempts };

/**
 * Runs tasks from `tasks` with at most `limit` running at once and yields their results in the order
 * they finish (or in source order with `ordered: true`).
 *
 * The source is pulled only when a task can start, so it may be lazy or endless. The first failure
 * fails fast: nothing new starts, in-flight tasks' signals abort, the source is closed, results that
 * finished before the failure are still yielded, then the iterator throws that same error.
 *
 * @param tasks - The task functions, `(context) => value`: an array, any iterable or generator, or an async iterable. Pulled only when a task can start.
 *
 * @param limit - The most tasks running at once: an integer >= 1, or `Infinity`.
 *
 * @param options - `ordered`, `buffer`, `signal`, `timeout`, and `rate: rateLimit(...)`, `retry: retryPolicy(...)`, `perKey: perKey(...)`, `slots` (see `LimitOptions`); all optional.
 *
 * @returns An async iterator (`for await`) of each task's value, as it finishes, with `stats`, `drain()` and `setLimit(n)`; leaving the loop early aborts in-flight tasks and closes the source.
 *
 * @throws TypeError at call time when `tasks`, `limit` or `options` is invalid, naming the argument, the value and its type. The iterator itself rejects with the first task failure (the same error object), a `TimeoutError`, or `options.signal.reason`.
 *
 * @example
 * ```ts
 * const tasks = urls.map((url) => ({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 * for await (const data of limitedAsCompleted(tasks, 8)) console.log(data);
 * ```
 */
export function limitedAsCompleted<TResult>(
  tasks: TaskSource<TResult>,
  limit: number | AdaptiveLimit,
  options?: LimitOptions<Task<TResult>>,
): LimitedIterator<TResult> {
  return run(tasks, 'tasks', limit, initialLimit(limit), undefined, options, undefined);
}

/**
 * Like `limitedAsCompleted`, but never throws for a task's failure: every task's outcome is yielded
 * as `{ status: 'fulfilled', value, index }` or `{ status: 'rejected', reason, index }` and the run
 * goes on. A source that throws (or yields a non-function) still ends the run with that error.
 *
 * @param tasks - The task functions, `(context) => value`: an array, any iterable or generator, or an async iterable. Pulled only when a task can start.
 *
 * @param limit - The most tasks running at once: an integer >= 1, or `Infinity`.
 *
 * @param options - `ordered`, `buffer`, `signal`, `timeout`, and `rate: rateLimit(...)`, `retry: retryPolicy(...)`, `perKey: perKey(...)`, `slots` (see `LimitOptions`); all optional.
 *
 * @returns An async iterator (`for await`) of every task's outcome, `{ status, value | reason, index }`, with `stats`, `drain()` and `setLimit(n)`; leaving the loop early aborts in-flight tasks and closes the source.
 *
 * @throws TypeError at call time when `tasks`, `limit` or `options` is invalid, naming the argument, the value and its type. The iterator itself rejects with an error the source throws, or `options.signal.reason`; never for a task's failure.
 *
 * @example
 * ```ts
 * for await (const outcome of limitedAsSettled(tasks, 4)) {
 *   if (outcome.status === 'rejected') console.error(outcome.index, outcome.reason);
 * }
 * ```
 */
export function limitedAsSettled<TResult>(
  tasks: TaskSource<TResult>,
  limit: number | AdaptiveLimit,
  options?: LimitOptions<Task<TResult>>,
): LimitedIterator<Settled<TResult>> {
  return run(tasks, 'tasks', limit, initialLimit(limit), undefined, options, toSettled);
}

/**
 * Calls `mapper(item, context)` for each item of `items`, at most `limit` at once, and yields the
 * results as they finish (or in source order with `ordered: true`). Fails fast like
 * `limitedAsCompleted`. A mapper that returns `skip` produces no result.
 *
 * @param items - The items to map: an array, any iterable or generator, or an async iterable (items may be promises, awaited before the mapper runs).
 *
 * @param limit - The most tasks running at once: an integer >= 1, or `Infinity`.
 *
 * @param mapper - Called as `mapper(item, context)` for each item; `context.signal` aborts on failure, early exit, `options.signal` and `timeout`.
 *
 * @param options - `ordered`, `buffer`, `signal`, `timeout`, and `rate: rateLimit(...)`, `retry: retryPolicy(...)`, `perKey: perKey(...)`, `slots` (see `LimitOptions`); all optional.
 *
 * @returns An async iterator (`for await`) of each mapper's value (`skip` results left out), with `stats`, `drain()` and `setLimit(n)`; leaving the loop early aborts in-flight tasks and closes the source.
 *
 * @throws TypeError at call time when `items`, `limit`, `mapper` or `options` is invalid, naming the argument, the value and its type. The iterator itself rejects with the first mapper failure (the same error object), a `TimeoutError`, or `options.signal.reason`.
 *
 * @example
 * ```ts
 * for await (const size of limitedMap(paths, 16, async (path) => (await stat(path)).size)) total += size;
 * ```
 */
export function limitedMap<TInput, TResult>(
  items: Iterable<TInput | PromiseLike<TInput>> | AsyncIterable<TInput | PromiseLike<TInput>>,
  limit: number | AdaptiveLimit,
  mapper: Mapper<TInput, TResult>,
  options?: LimitOptions<TInput>,
): LimitedIterator<TResult> {
  return run(items, 'items', limit, initialLimit(limit), validateFunction(mapper, 'mapper'), options, undefined);
}

/**
 * The settled form of `limitedMap`: never throws for a mapper's failure (or a rejected item), every
 * item's outcome is yielded as `{ status: 'fulfilled', value, index }` or
 * `{ status: 'rejected', reason, index }`, and the run goes on. A source that throws still ends the
 * run with that error.
 *
 * @param items - The items to map: an array, any iterable or generator, or an async iterable (items may be promises, awaited before the mapper runs).
 *
 * @param limit - The most tasks running at once: an integer >= 1, or `Infinity`.
 *
 * @param mapper - Called as `mapper(item, context)` for each item; `context.signal` aborts on failure, early exit, `options.signal` and `timeout`.
 *
 * @param options - `ordered`, `buffer`, `signal`, `timeout`, and `rate: rateLimit(...)`, `retry: retryPolicy(...)`, `perKey: perKey(...)`, `slots` (see `LimitOptions`); all optional.
 *
 * @returns An async iterator (`for await`) of every item's outcome, `{ status, value | reason, index }`, with `stats`, `drain()` and `setLimit(n)`; leaving the loop early aborts in-flight tasks and closes the source.
 *
 * @throws TypeError at call time when `items`, `limit`, `mapper` or `options` is invalid, naming the argument, the value and its type. The iterator itself rejects with an error the source throws, or `options.signal.reason`; never for a mapper's failure.
 *
 * @example
 * ```ts
 * for await (const outcome of limitedMapSettled(urls, 8, (url, { signal }) => fetch(url, { signal }))) {
 *   if (outcome.status === 'rejected') console.error(urls[outcome.index], outcome.reason);
 * }
 * ```
 */
export function limitedMapSettled<TInput, TResult>(
  items: Iterable<TInput | PromiseLike<TInput>> | AsyncIterable<TInput | PromiseLike<TInput>>,
  limit: number | AdaptiveLimit,
  mapper: Mapper<TInput, TResult>,
  options?: LimitOptions<TInput>,
): LimitedIterator<Settled<TResult>> {
  return run(items, 'items', limit, initialLimit(limit), validateFunction(mapper, 'mapper'), options, toSettled);
}
