import type { Rate } from './parse.js';

/**
 * `--rate` and `--delay`: when the next job may start. Kept in the CLI rather than handed to the
 * scheduler so that a stop (Ctrl-C, `--halt`) releases a job waiting for its window at once
 * instead of starting it when the window opens.
 */
export class StartGate {
  readonly #rate: Rate | undefined;
  readonly #delayMs: number;
  /** The last `rate.limit` start times, a ring. */
  readonly #starts: number[] = [];
  #head = 0;
  #lastStart = Number.NEGATIVE_INFINITY;
  readonly #waiters: Array<(isOpen: boolean) => void> = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #isClosed = false;

  constructor(rate: Rate | undefined, delayMs: number | undefined) {
    this.#rate = rate;
    this.#delayMs = delayMs ?? 0;
  }

  /** Resolves true when a job may start now (the start is recorded), false once the gate is closed. */
  pass(): Promise<boolean> {
    if (this.#isClosed) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      if (this.#waiters.length === 1) this.#admit();
    });
  }

  /** Nothing more starts: every waiter resolves false, and the timer is cleared. */
  close(): void {
    this.#isClosed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const resolve of this.#waiters.splice(0)) resolve(false);
  }

  #nextAllowed(): number {
    let at = this.#lastStart + this.#delayMs;
    const rate = this.#rate;
    if (rate !== undefined && this.#starts.length >= rate.limit)
      at = Math.max(at, this.#starts[this.#head]! + rate.interval);
    return at;
  }

  #record(now: number): void {
    this.#lastStart = now;
    const rate = this.#rate;
    if (rate === undefined) return;
    if (this.#starts.length < rate.limit) {
      this.#starts.push(now);
    } else {
      this.#starts[this.#head] = now;
      this.#head = (this.#head + 1) % rate.limit;
    }
  }

  #admit(): void {
    this.#timer = undefined;
    while (this.#waiters.length > 0 && !this.#isClosed) {
      const now = performance.now();
      const at = this.#nextAllowed();
      if (at > now) {
        this.#timer = setTimeout(() => this.#admit(), Math.ceil(at - now));
        return;
      }
      this.#record(now);
      this.#waiters.shift()!(true);
    }
  }
}
