import type { AdaptiveLimit } from './adaptive.js';

/** What every task receives when it is started. */
export interface TaskContext {
  /**
   * Aborts when the task should stop: the consumer stopped early, `options.signal` aborted,
   * another task failed (fail-fast forms), or this task's `timeout` ran out.
   * Pass it on to `fetch()`, streams, child processes and anything else that can be cancelled.
   */
  readonly signal: AbortSignal;
  /** The task's position in the source, from 0. */
  readonly index: number;
  /** Which attempt this call is: 1, then 2 for the first retry, and so on (see `retry`). */
  readonly attempt: number;
  /**
   * The slot this task holds from `options.slots`: what the source's `acquire` resolved with (for
   * `@lac/redis`, a lease with its fencing `token` and `deadline`). Undefined without `slots`.
   */
  readonly slot?: unknown;
}

/**
 * Returned by a mapper (or a task), produces no result: the item is left out, as with p-map's
 * `pMapSkip`. In ordered mode the results around it keep their order. It is `Symbol.for('@lac/core.skip')`,
 * so the ESM and CommonJS copies of the package agree on it.
 *
 * @example
 * ```ts
 * const evens = limitedMap(numbers, 4, async (n) => (n % 2 === 0 ? n : skip));
 * ```
 */
export const skip: unique symbol = Symbol.for('@lac/core.skip') as never;

/** The type of `skip`: the value a task or mapper returns to produce no result (in `Mapper` and `Task` return types). */
export type Skip = typeof skip;

/** A not-yet-started unit of work. It is called at most once, when a slot is free. It may return `skip` to produce no result. */
export type Task<TResult> = (context: TaskContext) => TResult | Skip | PromiseLike<TResult | Skip>;

/** Where tasks come from: any iterable or async iterable, lazy or endless. It is pulled only when a task can start. */
export type TaskSource<TResult> = Iterable<Task<TResult>> | AsyncIterable<Task<TResult>>;

/** A function applied to each item of a source by `limitedMap`. It may return `skip` to produce no result. */
export type Mapper<TInput, TResult> = (
  item: TInput,
  context: TaskContext,
) => TResult | Skip | PromiseLike<TResult | Skip>;

/** One rate window for `rateLimit()`: at most `limit` task starts in any `interval` milliseconds. */
export interface RateOptions {
  /** Task starts allowed per window. An integer >= 1. */
  readonly limit: number;
  /** The window, in milliseconds. A number > 0. */
  readonly interval: number;
}

/** How failed tasks are tried again: the argument of `retryPolicy()`. */
export interface RetryOptions {
  /** Retries after the first attempt (so at most `retries + 1` attempts). An integer >= 0. */
  readonly retries: number;
  /**
   * The backoff before the first retry, in ms; each later one is `factor` times the one before.
   * @default 100
   */
  readonly minDelay?: number;
  /** The longest backoff, in ms. @default Infinity */
  readonly maxDelay?: number;
  /** @default 2 */
  readonly factor?: number;
  /** Wait a random share of each backoff ("full jitter"), so that many clients do not retry in step. @default false */
  readonly jitter?: boolean;
  /** Retry this failure? `attempt` is the attempt that failed (1 for the first). @default every failure is retried */
  readonly shouldRetry?: (error: unknown, attempt: number) => boolean;
  /**
   * The backoff for this failure in ms, or undefined for the default: an `error.retryAfter` number
   * (ms) when there is one, else the exponential backoff. Use it to honour an HTTP `Retry-After`.
   */
  readonly retryDelay?: (error: unknown, attempt: number) => number | undefined;
}

/** The options of `perKey()` beyond the key function and the limit. */
export interface PerKeyOptions {
  /**
   * How many pulled items may wait for their key to have room. When that many wait, the source is
   * not pulled (backpressure), so memory stays bounded by `limit + lookahead + buffer` and one busy
   * key does not stall the others while there is room. An integer >= 1 or `Infinity`.
   * @default the run's limit
   */
  readonly lookahead?: number;
}

/**
 * What `rateLimit()` makes: the value of `options.rate`. Each value made by an option factory says
 * which it is in `~lac` (so a plain object is a type error, and every copy of the package agrees);
 * what it does is hidden.
 */
export interface RateLimit {
  readonly '~lac': 'rateLimit';
}

/** What `retryPolicy()` makes: the value of `options.retry`. */
export interface RetryPolicy {
  readonly '~lac': 'retryPolicy';
}

/** What `perKey()` makes: the value of `options.perKey`, for items (or tasks) of type `TInput`. */
export interface PerKeyLimit<TInput = unknown> {
  readonly '~lac': 'perKey';
  /** Only a type: the items its key function takes. */
  readonly '~item'?: (item: TInput) => void;
}

/**
 * A limit shared beyond one run, as `options.slots` (and `createLimiter`'s `slots`) take it:
 * `createSharedLimit(n)`, `allOf(...)`, or `slotsFrom(source)` for any `SlotSource` or governor.
 */
export interface Slots {
  readonly '~lac': 'slots';
}

export interface LimitOptions<TInput = unknown> {
  /**
   * Yield results in source order instead of completion order. The concurrency bound and the
   * buffer still hold: a slow early task holds back delivery, and at most `limit + buffer`
   * results are started but not yet consumed.
   * @default false
   */
  readonly ordered?: boolean;
  /**
   * How many results may be started but not yet consumed beyond `limit`: no new task starts while
   * `running + finished-but-unconsumed >= limit + buffer`. An integer >= 0, or `Infinity`.
   * A slow consumer therefore holds back the work, and memory stays bounded.
   * @default limit
   */
  readonly buffer?: number;
  /**
   * Stops the run: no new task starts, in-flight tasks' signals abort with `signal.reason`, the
   * source is closed, and the pending or next `next()` rejects with `signal.reason`.
   */
  readonly signal?: AbortSignal;
  /**
   * Milliseconds each task may run. When it runs out, the task's `context.signal` aborts and its
   * result is a `TimeoutError` (`name === 'TimeoutError'`) at once; its slot (and `slots` slot) stays
   * taken until the task's promise settles, so the bound holds even for a task that ignores its
   * signal. A number > 0.
   * @default undefined (no timeout)
   */
  readonly timeout?: number;
  /**
   * How fast tasks may start: `rateLimit({ limit, interval }, ...)`, at most `limit` task starts in
   * any `interval` milliseconds (a sliding window), for every window given.
   * @default undefined (no rate limit)
   */
  readonly rate?: RateLimit;
  /**
   * A limit shared beyond this run (other runs, processes or machines): a task starts only when
   * `limit` allows it and the shared limit handed out a slot, which is released when the task
   * settles or times out. `createSharedLimit(n)` makes one to share in this process, `allOf(...)`
   * combines several, and `slotsFrom(source)` takes any `SlotSource` (`@lac/redis`'s `redisSlots`,
   * say) or a governor of the TC39 concurrency-control proposal.
   * @default undefined (only `limit` applies)
   */
  readonly slots?: Slots;
  /**
   * Try failed tasks again with backoff: `retryPolicy({ retries, ... })`. A failed attempt gives its
   * slot (and `slots` slot) back while it waits; a retry that is due starts before new items; `rate`
   * counts every attempt; `context.attempt` tells which attempt runs. Once retries are exhausted the
   * task fails with its last error (in the settled forms, a rejected record with `attempts`). Abort
   * and early exit cancel the backoffs at once. Timeouts are not retried.
   * @default undefined (no retries)
   */
  readonly retry?: RetryPolicy;
  /**
   * Per-key concurrency: `perKey((item) => key, n, { lookahead })`, at most `n` tasks of one key
   * (such as its host or tenant) run at once, and `limit` in all. The key is of each item
   * (`limitedMap`) or task (`limitedAsCompleted`).
   * @default undefined (no per-key limit)
   */
  readonly perKey?: PerKeyLimit<TInput>;
}

/** Counters of a run, read at any time from `iterator.stats`. */
export interface LimitedStats {
  /** The concurrency limit now (it changes with `setLimit`, and by itself with `adaptive()`). */
  readonly limit: number;
  /** Tasks called so far. */
  readonly started: number;
  /** Tasks called whose promise has not settled yet (timed-out tasks included: they hold their slot until they settle). */
  readonly running: number;
  /** Of `running`: tasks that timed out (their `TimeoutError` was delivered) and have not settled yet. */
  readonly timedOutRunning: number;
  /** Tasks that fulfilled. */
  readonly completed: number;
  /** Tasks that rejected, threw or timed out (tasks in flight at a stop count here too if they then reject, as tasks that honour their aborted signal do). */
  readonly failed: number;
  /** Finished results waiting for the consumer. */
  readonly buffered: number;
  /** Items pulled from the source and not started yet: waiting for a rate window, a key's slot, or a shared slot. */
  readonly waiting: number;
  /** Tasks that failed and wait out their backoff before their next attempt (`retry`). */
  readonly retrying: number;
  /** Retries started so far, over the whole run. */
  readonly retries: number;
}

/** The async iterator the `limited*` functions return. */
export interface LimitedIterator<TResult> extends AsyncIterableIterator<TResult> {
  /** A snapshot of the run's counters. */
  readonly stats: LimitedStats;
  /**
   * Changes the concurrency limit from now on (`Infinity` too). Raising it starts tasks at once;
   * lowering it starts nothing new until fewer than `limit` run: running tasks are not stopped.
   * `buffer` keeps its value (by default, the limit the run was made with). A number stops an
   * adaptive limit; `adaptive(...)` starts one (at its `initial`). Throws a TypeError for a limit that
   * is not an integer >= 1, `Infinity` or `adaptive(...)`.
   */
  setLimit(limit: number | AdaptiveLimit): void;
  /**
   * Changes `perKey` from now on, for every key (a number; it replaces a `perKey` function). Raising
   * it starts the waiting items of keys with room at once; lowering it starts nothing new of a key
   * until fewer than the new value of it run. Throws a TypeError for a value that is not an
   * integer >= 1 or `Infinity`, and for a run made without `options.perKey`.
   */
  setPerKey(perKey: number): void;
  /**
   * Stops taking new work but finishes what runs: the source is closed (its `return()` is called),
   * the running tasks finish and their results are yielded, then the iterator ends normally.
   * Nothing aborts. Call `return()` afterwards to abort the rest after all.
   */
  drain(): void;
  /**
   * Stops early (what `break` in a `for await` loop calls): nothing new starts, in-flight tasks'
   * signals abort, and the source's `return()` is called and awaited.
   */
  return(value?: unknown): Promise<IteratorResult<TResult>>;
  /**
   * Stops early as `return()` does, then rejects with `error` (what `yield*` delegation calls when
   * the delegating generator is thrown into).
   */
  throw(error?: unknown): Promise<IteratorResult<TResult>>;
}

/** A task's outcome, as `limitedAsSettled` delivers it. */
export type Settled<TResult> =
  | { status: 'fulfilled'; value: TResult; index: number }
  | { status: 'rejected'; reason: unknown; index: number; attempts?: number };
