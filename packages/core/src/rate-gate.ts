import { Gates, kFeature, type Feature } from './gates.js';
import type { RateLimit, RateOptions } from './options.js';
import { Queue } from './queue.js';
import { expected, fail, MAX_DELAY } from './validate.js';

/**
 * One sliding window: the starts of the last `interval` ms as (time, count) buckets, oldest first.
 * Starts in the same millisecond share a bucket, so memory is bounded by the distinct start times in
 * the window (never more than `limit` buckets), not by `limit` itself. The newest bucket is kept in
 * `lastTime`/`lastCount` until a start in a later millisecond closes it.
 */
interface Window {
  readonly limit: number;
  readonly interval: number;
  readonly times: Queue<number>;
  readonly counts: Queue<number>;
  lastTime: number;
  lastCount: number;
  /** Starts in the window (every bucket's count). */
  count: number;
}

/**
 * The `rate` gate: a start is allowed when every window has had fewer than `limit` starts in the
 * last `interval` ms (a sliding window on `Date.now()`, so fake timers drive it). It takes a token from
 * every window at once or from none, so a window that says no never loses a token it did not use.
 */
export class RateGate {
  readonly #windows: Window[];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onOpen: () => void;
  /**
   * The time of the last call, when it took a token: every window dropped what had left it by then,
   * and its newest bucket is of that millisecond. NaN after any other call.
   */
  #lastTaken = Number.NaN;

  /** `onOpen` is called when a window that refused a start may allow one again. */
  constructor(rates: readonly RateOptions[], onOpen: () => void) {
    this.#windows = rates.map(({ limit, interval }) => ({
      limit,
      interval,
      times: new Queue(),
      counts: new Queue(),
      lastTime: 0,
      lastCount: 0,
      count: 0,
    }));
    this.#onOpen = onOpen;
  }

  /** Takes a start token from every window; false (and a timer to `onOpen`) when one is full. */
  tryTake(): boolean {
    const now = Date.now();
    // Another start in the same millisecond (most starts, at a task's scale): nothing has left a
    // window since the last one, so only the counts can refuse, and the start joins the newest buckets.
    if (now === this.#lastTaken) {
      const windows = this.#windows;
      let i = 0;
      while (i < windows.length && windows[i]!.count < windows[i]!.limit) i++;
      if (i === windows.length) {
        for (const window of windows) {
          window.count++;
          window.lastCount++;
        }
        return true;
      }
    }
    return this.#tryTakeAt(now);
  }

  #tryTakeAt(now: number): boolean {
    this.#lastTaken = Number.NaN;
    for (const window of this.#windows) {
      // The buckets that left the window: a start `interval` old no longer counts.
      const { times, counts, interval } = window;
      while (times.size > 0 && now - times.peek() >= interval) {
        times.shift();
        window.count -= counts.shift();
      }
      if (times.size === 0 && window.lastCount > 0 && now - window.lastTime >= interval) {
        window.count -= window.lastCount;
        window.lastCount = 0;
      }
      if (window.count >= window.limit) {
        this.#wake((times.size > 0 ? times.peek() : window.lastTime) + interval - now);
        return false;
      }
    }
    for (const window of this.#windows) {
      window.count++;
      if (window.lastCount > 0 && window.lastTime !== now) {
        window.times.push(window.lastTime);
        window.counts.push(window.lastCount);
        window.lastCount = 0;
      }
      window.lastTime = now;
      window.lastCount++;
    }
    this.#lastTaken = now;
    return true;
  }

  #wake(delay: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#onOpen();
    }, delay);
  }

  /** Drops the pending timer: the run ended. */
  stop(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}

/**
 * Makes the value of `options.rate`: at most `limit` task starts in any `interval` milliseconds (a
 * sliding window), for each window given; a start needs room in every one.
 *
 * @param windows - One or more `{ limit, interval }`: starts allowed (an integer >= 1) per `interval` ms (a number > 0).
 *
 * @returns A `RateLimit`, for `options.rate`. Each run counts its own starts (share one budget between runs with `slots`).
 *
 * @throws TypeError when no window is given or one is invalid, naming it (`windows[i].limit`, ...), the value and its type.
 *
 * @example
 * ```ts
 * const rate = rateLimit({ limit: 60, interval: 60_000 }, { limit: 4, interval: 1_000 });
 * for await (const page of limitedMap(urls, 8, fetchPage, { rate })) save(page);
 * ```
 */
export function rateLimit(...windows: readonly RateOptions[]): RateLimit {
  if (windows.length === 0) fail('Expected `windows` to be at least one { limit, interval }, got none');
  const resolved = windows.map((window, i) => resolveWindow(window, `windows[${i}]`));
  const feature: Feature & { '~lac': string } = {
    '~lac': 'rateLimit',
    [kFeature](gates, host) {
      gates ??= new Gates(host);
      gates.rate = new RateGate(resolved, host.pump);
      return gates;
    },
  };
  return feature as unknown as RateLimit;
}

function resolveWindow(rate: unknown, name: string): RateOptions {
  if (rate === null || typeof rate !== 'object') expected(rate, name, 'an object { limit, interval }');
  const { limit, interval } = rate as RateOptions;
  if (!(Number.isInteger(limit) && limit >= 1)) expected(limit, `${name}.limit`, 'an integer >= 1');
  if (!(typeof interval === 'number' && interval > 0 && Number.isFinite(interval))) {
    expected(interval, `${name}.interval`, 'a finite number of milliseconds > 0');
  }
  if (interval > MAX_DELAY) {
    expected(interval, `${name}.interval`, `at most ${MAX_DELAY} ms (the longest setTimeout can wait)`);
  }
  return { limit, interval };
}
