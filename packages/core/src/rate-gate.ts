import type { RateOptions } from './options.js';

/**
 * One sliding window: the starts of the last `interval` ms as a ring of (time, count) buckets, oldest
 * first. Starts in the same millisecond share a bucket, so memory is bounded by the distinct start
 * times in the window (never more than `limit` buckets), not by `limit` itself.
 */
interface Window {
  readonly limit: number;
  readonly interval: number;
  times: number[];
  counts: number[];
  head: number;
  size: number;
  /** Starts in the window (the sum of the buckets' counts). */
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

  /** `onOpen` is called when a window that refused a start may allow one again. */
  constructor(rates: readonly RateOptions[], onOpen: () => void) {
    this.#windows = rates.map(({ limit, interval }) => ({ limit, interval, times: [0], counts: [0], head: 0, size: 0, count: 0 }));
    this.#onOpen = onOpen;
  }

  /** Takes a start token from every window; false (and a timer to `onOpen`) when one is full. */
  tryTake(): boolean {
    const now = Date.now();
    const windows = this.#windows;
    for (let i = 0; i < windows.length; i++) {
      const window = windows[i]!;
      // The buckets that left the window: a start `interval` old no longer counts.
      while (window.size > 0 && now - window.times[window.head]! >= window.interval) {
        window.count -= window.counts[window.head]!;
        window.head = (window.head + 1) % window.times.length;
        window.size--;
      }
      if (window.count >= window.limit) {
        this.#wake(window.times[window.head]! + window.interval - now);
        return false;
      }
    }
    for (let i = 0; i < windows.length; i++) record(windows[i]!, now);
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

function record(window: Window, now: number): void {
  window.count++;
  const capacity = window.times.length;
  if (window.size > 0) {
    const last = (window.head + window.size - 1) % capacity;
    if (window.times[last] === now) {
      window.counts[last]!++;
      return;
    }
  }
  if (window.size === capacity) {
    // Full: double the ring, oldest first.
    const times: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < window.size; i++) {
      times.push(window.times[(window.head + i) % capacity]!);
      counts.push(window.counts[(window.head + i) % capacity]!);
    }
    for (let i = window.size; i < capacity * 2; i++) {
      times.push(0);
      counts.push(0);
    }
    window.times = times;
    window.counts = counts;
    window.head = 0;
  }
  const tail = (window.head + window.size) % window.times.length;
  window.times[tail] = now;
  window.counts[tail] = 1;
  window.size++;
}
