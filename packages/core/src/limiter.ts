import { kSlots, type LimiterJob, type SlotRunner } from './slots.js';
import type { Slots } from './options.js';
import type { AdaptiveLimit } from './adaptive.js';
import { createController, initialLimit, isAdaptive, type LimitController } from './adaptive-limit.js';
import { expected, validateFunction, validateLimit } from './validate.js';

export interface LimiterOptions {
  /** Functions running at once. An integer >= 1, `Infinity`, or `adaptive(...)` (it then finds the number itself). */
  readonly concurrency: number | AdaptiveLimit;
  /**
   * Make `clearQueue()` reject the cleared calls' promises with an `AbortError` instead of leaving them pending.
   * @default false
   */
  readonly rejectOnClear?: boolean;
  /**
   * A limit shared beyond this limiter (`createSharedLimit(n)`, `allOf(...)`, or `slotsFrom(source)`
   * for a Redis one or a governor): a call starts only when `concurrency` allows it and a slot was
   * acquired; the slot is released when the call settles. A failed acquire rejects that call's promise.
   * @default undefined (only `concurrency` applies)
   */
  readonly slots?: Slots;
}

/** A function that runs `fn(...args)` once fewer than `concurrency` calls are active; drop-in for p-limit's. */
export interface Limiter {
  <TArgs extends unknown[], TResult>(
    fn: (...args: TArgs) => TResult | PromiseLike<TResult>,
    ...args: TArgs
  ): Promise<TResult>;
  /** Calls running now. */
  readonly activeCount: number;
  /** Calls waiting for a free slot. */
  readonly pendingCount: number;
  /** The limit (with `adaptive()`, the limit now); raising it starts queued calls at once, and setting it stops adapting. */
  concurrency: number;
  /** Drops the calls still waiting (their promises stay pending unless `rejectOnClear`). */
  clearQueue(): void;
  /** Runs `fn(item, index)` for every item through this limiter and resolves with the results in input order. */
  map<TInput, TResult>(
    items: Iterable<TInput>,
    fn: (item: TInput, index: number) => TResult | PromiseLike<TResult>,
  ): Promise<TResult[]>;
}

/**
 * A call waiting: `run` lets it start (its continuation was registered in the caller's async context);
 * `onDone` runs when its promise settles. The waiting calls are a linked list through `next`, so
 * the limiter needs no queue of its own (as p-limit's yocto-queue).
 */
type Job = LimiterJob & { next?: Job };

/**
 * Creates a limiter with the same contract as p-limit's default export: `limit(fn, ...args)` returns
 * a promise for `fn(...args)`, and at most `concurrency` such calls run at once, started in call order.
 *
 * @param concurrency - The most calls running at once (an integer >= 1, or `Infinity`), or `{ concurrency, rejectOnClear, slots }`.
 *
 * @returns `limit(fn, ...args)`, which returns a promise for `fn(...args)`, with `activeCount`, `pendingCount`, a settable `concurrency` and `clearQueue()`.
 *
 * @throws TypeError when `concurrency` (or an option) is invalid, naming the value and its type. A call's promise rejects with what `fn` threw.
 *
 * @example
 * ```ts
 * const limit = createLimiter(2);
 * const pages = await Promise.all(urls.map((url) => limit(fetchPage, url)));
 * ```
 */
export function createLimiter(concurrency: number | AdaptiveLimit | LimiterOptions): Limiter {
  let rejectOnClear = false;
  let slots: SlotRunner | undefined;
  if (typeof concurrency === 'object' && concurrency !== null && !isAdaptive(concurrency)) {
    let slotsOption: unknown;
    ({ concurrency, rejectOnClear = false, slots: slotsOption } = concurrency);
    if (typeof rejectOnClear !== 'boolean') expected(rejectOnClear, 'rejectOnClear', 'a boolean');
    // The value brings the code that takes and gives back its slots: see `slotsFrom`.
    slots = (slotsOption as { [kSlots]?: SlotRunner } | undefined)?.[kSlots];
    if (slotsOption !== undefined && typeof slots !== 'function')
      expected(slotsOption, 'slots', 'createSharedLimit(n), allOf(...) or slotsFrom(source)');
  }
  let limit = initialLimit(concurrency, 'concurrency');
  /** The waiting calls, oldest first. */
  let first: Job | undefined;
  let last: Job | undefined;
  let pendingCount = 0;
  let activeCount = 0;
  let controller: LimitController | undefined;
  /** A new limit: a raise starts queued calls at once (a settling call does otherwise). */
  const setLimit = (next: number): void => {
    limit = next;
    queueMicrotask(() => {
      while (activeCount < limit && first !== undefined) startNext();
    });
  };
  if (isAdaptive(concurrency)) controller = createController(concurrency, setLimit);
  /** An adaptive limit hears how a call went, before its place is freed; a throwing hook has no caller to tell. */
  const sample = (startedAt: number, isFailed: boolean, value: unknown): void => {
    try {
      controller?.sample(startedAt, activeCount, isFailed, value);
    } catch {
      // The call already settled with its own outcome.
    }
  };

  const startNext = (): void => {
    const job = first;
    if (activeCount < limit && job !== undefined) {
      activeCount++;
      pendingCount--;
      first = job.next;
      if (first === undefined) last = undefined;
      if (slots === undefined) job.run(onSettled);
      else slots(job, onSettled);
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
      let onDone = onSettled;
      const call = (): void => {
        let result: Promise<TResult>;
        const startedAt = controller?.now();
        try {
          result = Promise.resolve(fn(...args));
        } catch (error) {
          result = Promise.reject(error);
        }
        resolve(result);
        if (startedAt === undefined) {
          result.then(onDone, onDone);
          return;
        }
        result.then(
          (value) => {
            sample(startedAt, false, value);
            onDone();
          },
          (error: unknown) => {
            sample(startedAt, true, error);
            onDone();
          },
        );
      };
      // Like p-limit, the call happens a microtask later, never inside limit() itself. Either way it
      // runs in the async context (AsyncLocalStorage) of this caller: a microtask or a promise
      // continuation carries the context of the code that queued or registered it.
      if (slots === undefined && activeCount < limit && first === undefined) {
        activeCount++;
        queueMicrotask(call);
        return;
      }
      // It has to wait (for a free place, or for a `slots` slot), and whoever lets it go runs in
      // another context: so the call is a continuation registered now, which that code only releases.
      let start!: () => void;
      new Promise<void>((startNow) => {
        start = startNow;
      }).then(call);
      const job: Job = {
        run: (done) => {
          onDone = done;
          start();
        },
        reject,
      };
      if (last === undefined) first = job;
      else last.next = job;
      last = job;
      pendingCount++;
      startNext();
    })) as Limiter;

  Object.defineProperties(limiter, {
    activeCount: { get: () => activeCount },
    pendingCount: { get: () => pendingCount },
    clearQueue: {
      value(): void {
        const reason = rejectOnClear && new DOMException('The queued call was cleared', 'AbortError');
        let job = first;
        first = last = undefined;
        pendingCount = 0;
        for (; reason && job !== undefined; job = job.next) job.reject(reason);
      },
    },
    concurrency: {
      get: () => limit,
      set(value: unknown) {
        setLimit(validateLimit(value, 'concurrency'));
        controller = undefined;
      },
    },
    map: {
      value<TInput, TResult>(
        items: Iterable<TInput>,
        fn: (item: TInput, index: number) => TResult | PromiseLike<TResult>,
      ): Promise<TResult[]> {
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
 * @param fn - The function to limit; called with the wrapper's arguments.
 *
 * @param options - The most calls of `fn` running at once (a number), or `{ concurrency, rejectOnClear, slots }`.
 *
 * @returns A function with `fn`'s parameters that returns a promise for `fn`'s result, with `activeCount`, `pendingCount`, a settable `concurrency` and `clearQueue()`.
 *
 * @throws TypeError when `fn` is not a function or `options` is invalid. A call's promise rejects with what `fn` threw.
 *
 * @example
 * ```ts
 * const fetchLimited = limitFunction((url: string) => fetch(url), { concurrency: 4 });
 * const responses = await Promise.all(urls.map((url) => fetchLimited(url)));
 * ```
 */
export function limitFunction<TArgs extends unknown[], TResult>(
  fn: (...args: TArgs) => TResult | PromiseLike<TResult>,
  options: number | AdaptiveLimit | LimiterOptions,
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
