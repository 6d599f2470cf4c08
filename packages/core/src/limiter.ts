import { Queue } from './queue.js';
import { describe, validateFunction, validateLimit } from './validate.js';

export interface LimiterOptions {
  /** Functions running at once. An integer >= 1, or `Infinity`. */
  readonly concurrency: number;
  /**
   * Make `clearQueue()` reject the cleared calls' promises with an `AbortError` instead of leaving them pending.
   * @default false
   */
  readonly rejectOnClear?: boolean;
}

/** A function that runs `fn(...args)` once fewer than `concurrency` calls are active; drop-in for p-limit's. */
export interface Limiter {
  <TArgs extends unknown[], TResult>(fn: (...args: TArgs) => TResult | PromiseLike<TResult>, ...args: TArgs): Promise<TResult>;
  /** Calls running now. */
  readonly activeCount: number;
  /** Calls waiting for a free slot. */
  readonly pendingCount: number;
  /** The limit; raising it starts queued calls at once. */
  concurrency: number;
  /** Drops the calls still waiting (their promises stay pending unless `rejectOnClear`). */
  clearQueue(): void;
  /** Runs `fn(item, index)` for every item through this limiter and resolves with the results in input order. */
  map<TInput, TResult>(items: Iterable<TInput>, fn: (item: TInput, index: number) => TResult | PromiseLike<TResult>): Promise<TResult[]>;
}

interface Job {
  /** Lets the call start; its continuation was registered in the caller's async context. */
  readonly start: () => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * Creates a limiter with the same contract as p-limit's default export: `limit(fn, ...args)` returns
 * a promise for `fn(...args)`, and at most `concurrency` such calls run at once, started in call order.
 *
 * @example
 * ```ts
 * const limit = createLimiter(2);
 * const pages = await Promise.all(urls.map((url) => limit(fetchPage, url)));
 * ```
 */
export function createLimiter(concurrency: number | LimiterOptions): Limiter {
  let rejectOnClear = false;
  if (typeof concurrency === 'object' && concurrency !== null) {
    ({ concurrency, rejectOnClear = false } = concurrency);
    if (typeof rejectOnClear !== 'boolean') {
      throw new TypeError(`Expected \`rejectOnClear\` to be a boolean, got ${describe(rejectOnClear)}`);
    }
  }
  let limit = validateLimit(concurrency, 'concurrency');
  const queue = new Queue<Job>();
  let activeCount = 0;

  const startNext = (): void => {
    if (activeCount < limit && queue.size > 0) {
      activeCount++;
      queue.shift().start();
    }
  };
  const onSettled = (): void => {
    activeCount--;
    startNext();
  };

  const limiter = (<TArgs extends unknown[], TResult>(
    fn: (...args: TArgs) => TResult | PromiseLike<TResult>,
    ...args: TArgs
  ): Promise<TResult> =>
    new Promise<TResult>((resolve, reject) => {
      validateFunction(fn, 'fn');
      const call = (): void => {
        let result: Promise<TResult>;
        try {
          result = Promise.resolve(fn(...args));
        } catch (error) {
          result = Promise.reject(error);
        }
        resolve(result);
        result.then(onSettled, onSettled);
      };
      // Like p-limit, the call happens a microtask later, never inside limit() itself. Either way it
      // runs in the async context (AsyncLocalStorage) of this caller: a microtask or a promise
      // continuation carries the context of the code that queued or registered it.
      if (activeCount < limit && queue.size === 0) {
        activeCount++;
        queueMicrotask(call);
        return;
      }
      // It has to wait, and whoever frees its slot runs in another context: so the call is a
      // continuation registered now, which that code only lets go.
      let start!: () => void;
      new Promise<void>((startNow) => {
        start = startNow;
      }).then(call);
      queue.push({ start, reject });
      startNext();
    })) as Limiter;

  Object.defineProperties(limiter, {
    activeCount: { get: () => activeCount },
    pendingCount: { get: () => queue.size },
    clearQueue: {
      value(): void {
        if (!rejectOnClear) {
          queue.clear();
          return;
        }
        const reason = new DOMException('The queued call was cleared', 'AbortError');
        while (queue.size > 0) queue.shift().reject(reason);
      },
    },
    concurrency: {
      get: () => limit,
      set(value: unknown) {
        limit = validateLimit(value, 'concurrency');
        queueMicrotask(() => {
          while (activeCount < limit && queue.size > 0) startNext();
        });
      },
    },
    map: {
      value<TInput, TResult>(items: Iterable<TInput>, fn: (item: TInput, index: number) => TResult | PromiseLike<TResult>): Promise<TResult[]> {
        const promises: Promise<TResult>[] = [];
        try {
          let index = 0;
          for (const item of items) promises.push(limiter(fn, item, index++));
        } catch (error) {
          // The iterable threw: observe what was scheduled so none of it rejects unhandled.
          for (const promise of promises) promise.catch(() => {});
          return Promise.reject(error);
        }
        return Promise.all(promises);
      },
    },
  });
  return limiter;
}

/** A function limited by `limitFunction`: calling it queues a call of the wrapped function. */
export interface LimitedFunction<TArgs extends unknown[], TResult> {
  (...args: TArgs): Promise<TResult>;
  /** Calls running now. */
  readonly activeCount: number;
  /** Calls waiting for a free slot. */
  readonly pendingCount: number;
  /** The limit; raising it starts queued calls at once. */
  concurrency: number;
  /** Drops the calls still waiting (their promises stay pending unless `rejectOnClear`). */
  clearQueue(): void;
}

/**
 * Wraps `fn` so that at most `concurrency` calls of it run at once; drop-in for p-limit's
 * `limitFunction`. Each wrapper has its own limiter; calls start in call order.
 *
 * @example
 * ```ts
 * const fetchLimited = limitFunction((url: string) => fetch(url), { concurrency: 4 });
 * const responses = await Promise.all(urls.map((url) => fetchLimited(url)));
 * ```
 */
export function limitFunction<TArgs extends unknown[], TResult>(
  fn: (...args: TArgs) => TResult | PromiseLike<TResult>,
  options: number | LimiterOptions,
): LimitedFunction<TArgs, TResult> {
  validateFunction(fn, 'fn');
  const limiter = createLimiter(options);
  const limited = function (this: unknown, ...args: TArgs): Promise<TResult> {
    return limiter(() => fn.apply(this, args));
  } as LimitedFunction<TArgs, TResult>;
  Object.defineProperties(limited, {
    activeCount: { get: () => limiter.activeCount },
    pendingCount: { get: () => limiter.pendingCount },
    concurrency: {
      get: () => limiter.concurrency,
      set(value: number) {
        limiter.concurrency = value;
      },
    },
    clearQueue: { value: limiter.clearQueue },
  });
  return limited;
}
