import { LimitedRun } from './limited-run.js';
import type { LimitedIterator, LimitOptions, Mapper, Settled, Task, TaskSource } from './options.js';
import type { AdaptiveLimit } from './adaptive.js';
import { initialLimit } from './adaptive-limit.js';
import { getIterator, resolveOptions, validateFunction } from './validate.js';

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
  const resolved = resolveOptions(initialLimit(limit), options);
  const { iterator, isAsync } = getIterator<unknown>(tasks, 'tasks');
  return new LimitedRun<unknown, TResult>({
    iterator,
    isAsync,
    limit,
    mapper: undefined,
    isSettledMode: false,
    options: resolved,
  });
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
  const resolved = resolveOptions(initialLimit(limit), options);
  const { iterator, isAsync } = getIterator<unknown>(tasks, 'tasks');
  return new LimitedRun<unknown, Settled<TResult>>({
    iterator,
    isAsync,
    limit,
    mapper: undefined,
    isSettledMode: true,
    options: resolved,
  });
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
  const initial = initialLimit(limit);
  validateFunction(mapper, 'mapper');
  const resolved = resolveOptions(initial, options);
  const { iterator, isAsync } = getIterator<TInput>(items, 'items');
  return new LimitedRun<TInput, TResult>({ iterator, isAsync, limit, mapper, isSettledMode: false, options: resolved });
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
  const initial = initialLimit(limit);
  validateFunction(mapper, 'mapper');
  const resolved = resolveOptions(initial, options);
  const { iterator, isAsync } = getIterator<TInput>(items, 'items');
  return new LimitedRun<TInput, Settled<TResult>>({
    iterator,
    isAsync,
    limit,
    mapper,
    isSettledMode: true,
    options: resolved,
  });
}
