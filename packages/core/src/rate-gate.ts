import type { RateOptions } from './options.js';

/** One sliding window: a ring of the last `limit` start times. */
interface Window {
  readonly limit: number;
  readonly interval: number;
  readonly starts: number[];
  head: number;
}

/**
 * The `rate` gate: a start is allowed when, in every window, the `limit`-th latest start is at least
 * `interval` old (a sliding window on `Date.now()`, so fake timers drive it). It takes a token from
 * every window at once or from none, so a window that says no never loses a token it did not use.
 */
export class RateGate {
  readonly #windows: Window[];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onOpen: () => void;

  /** `onOpen` is called when a window that refused a start may allow one again. */
  constructor(rates: readonly RateOptions[], onOpen: () => void) {
    this.#windows = rates.map(({ limit, interval }) => ({ limit, interval, starts: [], head: 0 }));
    this.#onOpen = onOpen;
  }

  /** Takes a start token from every window; false (and a timer to `onOpen`) when one is full. */
  tryTake(): boolean {
    const now = Date.now();
    const windows = this.#windows;
    for (const window of windows) {
      if (window.starts.length < window.limit) continue;
      const oldest = window.starts[window.head]!;
      if (now - oldest < window.interval) {
        this.#wake(oldest + window.interval - now);
        return false;
      }
    }
    for (const window of windows) {
      if (window.starts.length < window.limit) {
        window.starts.push(now);
      } else {
        window.starts[window.head] = now;
        window.head = (window.head + 1) % window.limit;
      }
    }
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
