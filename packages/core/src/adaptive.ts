import { kController, type LimitController } from './adaptive-limit.js';
import { describe, validateFunction } from './validate.js';

/** Why an adaptive limit changed: tasks used the whole limit and went well, overload errors, or latency rising over its baseline. */
export type LimitChangeReason = 'increase' | 'overload' | 'latency';

/** Options of `adaptive()`: the algorithm, the range the limit moves in, where it starts, and what counts as overload. */
export interface AdaptiveOptions {
  /**
   * `'aimd'`: additive increase (+1 per window that used the whole limit without overload; it doubles
   * until the first overload, TCP's slow start), multiplicative decrease (`backoff`) on overload
   * errors; latency is not looked at.
   * `'gradient'`: as AIMD for errors, and also compares each window's latency (its lower quartile)
   * with a baseline (the lowest such latency seen): more than `tolerance` times it shrinks the limit in proportion;
   * otherwise a window that used the whole limit grows it by its square root (as Netflix's Gradient2).
   * @default 'gradient'
   */
  readonly algorithm?: 'aimd' | 'gradient';
  /** The lowest the limit goes. An integer >= 1. @default 1 */
  readonly min?: number;
  /** The highest the limit goes. An integer >= `min`. @default 256 */
  readonly max?: number;
  /** The limit to start with. An integer from `min` to `max`. @default 8, or `min`/`max` when 8 is out of range */
  readonly initial?: number;
  /**
   * Samples per decision: the limit is decided once per window of `max(samples, limit)` settled tasks
   * that started after the last change (about one round trip), or at the first overload among them;
   * tasks that started before the change are ignored, so one burst of correlated errors shrinks it
   * once. An integer >= 1.
   * @default 8
   */
  readonly samples?: number;
  /** What the limit is multiplied by after a window with overload errors. A number > 0 and < 1. @default 0.75 */
  readonly backoff?: number;
  /** `'gradient'`: how many times the baseline latency a window's median may be before the limit shrinks. A number > 1. @default 1.25 */
  readonly tolerance?: number;
  /**
   * Which failures mean the service is overloaded (the others never shrink the limit); `latencyMs` is
   * how long the task ran.
   * @default a `TimeoutError`, or an error whose `status` is 429 or 503 or that has a `retryAfter`
   */
  readonly isOverload?: (error: unknown, latencyMs: number) => boolean;
  /** Called after each change with the new limit and why. */
  readonly onLimitChange?: (limit: number, reason: LimitChangeReason) => void;
  /** The clock, in milliseconds (tests pass a fake one). @default `performance.now()` where present, else `Date.now()` */
  readonly now?: () => number;
}

/**
 * A limit that finds itself: pass it where a `limit` number goes. Each run, limiter or shared limit
 * it is given to keeps its own state (the description can be reused).
 */
export interface AdaptiveLimit {
  readonly algorithm: 'aimd' | 'gradient';
  readonly min: number;
  readonly max: number;
  readonly initial: number;
  readonly samples: number;
  readonly backoff: number;
  readonly tolerance: number;
  readonly isOverload: (error: unknown, latencyMs: number) => boolean;
  readonly onLimitChange: ((limit: number, reason: LimitChangeReason) => void) | undefined;
  readonly now: () => number;
}

/** The default overload rule: a timeout, 429 or 503, or anything telling when to retry. */
export function isOverloadError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { name, status, retryAfter } = error as { name?: unknown; status?: unknown; retryAfter?: unknown };
  return (
    name === 'TimeoutError' || status === 429 || status === 503 || (retryAfter !== undefined && retryAfter !== null)
  );
}

function defaultClock(): () => number {
  const host = globalThis as { performance?: { now?: () => number } };
  const performance = host.performance;
  if (performance !== undefined && typeof performance.now === 'function') return () => performance.now!();
  return Date.now;
}

function integerOption(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`Expected \`${name}\` to be an integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Expected \`${name}\` to be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

function ratioOption(
  value: unknown,
  name: string,
  fallback: number,
  isValid: (n: number) => boolean,
  rule: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number')
    throw new TypeError(`Expected \`${name}\` to be a number ${rule}, got ${describe(value)}`);
  if (!isValid(value)) throw new RangeError(`Expected \`${name}\` to be a number ${rule}, got ${describe(value)}`);
  return value;
}

/**
 * An adaptive concurrency limit: use it wherever a `limit` number goes (`limitedMap(items,
 * adaptive(), fn)`, `createLimiter(adaptive())`, `createSharedLimit(adaptive())`, the stream stages).
 * It starts at `initial` and moves between `min` and `max`, once per window of settled tasks: down
 * on overload (a `TimeoutError`, HTTP 429/503, a `retryAfter`, or your `isOverload`) and, with
 * `'gradient'`, on latency rising over its baseline; up only while the tasks use the whole limit.
 *
 * @param options - `algorithm` (`'gradient'`, the default, or `'aimd'`), `min`/`max`/`initial` (integers,
 * `min <= initial <= max`), `samples` per decision window, `backoff` and `tolerance`, `isOverload(error,
 * latencyMs)` and `onLimitChange(limit, reason)`.
 *
 * @returns A limit description; each run (or limiter, or shared limit) it is given to gets a controller of its own.
 *
 * @throws TypeError or RangeError when an option is invalid, naming the option, the value and its type.
 *
 * @example
 * ```ts
 * const responses = limitedMap(urls, adaptive({ max: 64 }), async (url, { signal }) => {
 *   const response = await fetch(url, { signal });
 *   if (!response.ok) throw Object.assign(new Error(response.statusText), { status: response.status });
 *   return response.json();
 * });
 * ```
 */
export function adaptive(options: AdaptiveOptions = {}): AdaptiveLimit {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  const { algorithm = 'gradient', isOverload, onLimitChange, now } = options;
  if (algorithm !== 'aimd' && algorithm !== 'gradient') {
    throw new TypeError(`Expected \`options.algorithm\` to be 'aimd' or 'gradient', got ${describe(algorithm)}`);
  }
  const min = integerOption(options.min, 'options.min', 1, 1, Number.MAX_SAFE_INTEGER);
  const max = integerOption(options.max, 'options.max', Math.max(256, min), min, Number.MAX_SAFE_INTEGER);
  const initial = integerOption(options.initial, 'options.initial', Math.min(max, Math.max(min, 8)), min, max);
  const samples = integerOption(options.samples, 'options.samples', 8, 1, Number.MAX_SAFE_INTEGER);
  const backoff = ratioOption(options.backoff, 'options.backoff', 0.75, (n) => n > 0 && n < 1, '> 0 and < 1');
  const tolerance = ratioOption(
    options.tolerance,
    'options.tolerance',
    1.25,
    (n) => n > 1 && Number.isFinite(n),
    '> 1',
  );
  if (isOverload !== undefined) validateFunction(isOverload, 'options.isOverload');
  if (onLimitChange !== undefined) validateFunction(onLimitChange, 'options.onLimitChange');
  if (now !== undefined) validateFunction(now, 'options.now');
  const spec: AdaptiveLimit = {
    algorithm,
    min,
    max,
    initial,
    samples,
    backoff,
    tolerance,
    isOverload: isOverload ?? isOverloadError,
    onLimitChange,
    now: now ?? defaultClock(),
  };
  Object.defineProperty(spec, kController, {
    value: (apply: (limit: number) => void) => new AdaptiveController(spec, apply),
  });
  return Object.freeze(spec);
}

/**
 * A window's latency: its lower quartile. A low quantile, so that in a window that began overloaded
 * (the first requests served at once, the rest queued) it is the service's own latency, and the same
 * quantile for the baseline and the window, so that a service with a wide spread of latencies does
 * not look overloaded.
 */
function lowerQuartile(values: number[]): number {
  values.sort((a, b) => a - b);
  return values[Math.floor((values.length - 1) / 4)]!;
}

/** At the lowest limit, a baseline this far below the window's latency moves this share of the way up per window. */
const REBASELINE = 0.1;

/**
 * The state of one adaptive limit: fed one sample per settled task, it decides once per window and
 * hands each new limit to `apply` (the same path as `setLimit`). Pure apart from the injected clock.
 */
export class AdaptiveController implements LimitController {
  readonly #spec: AdaptiveLimit;
  readonly #apply: (limit: number) => void;
  /** The limit as a real number (so that proportional steps accumulate); the run uses its floor. */
  #estimate: number;
  /** The limit now: `floor(#estimate)`. */
  limit: number;
  /** The lowest window median latency seen (gradient), protected from overload: it only moves up at `min`. */
  #baseline = Number.POSITIVE_INFINITY;
  /** When the limit last changed: tasks started before it ran under the old limit and are ignored. */
  #changedAt: number;
  // The window being filled.
  #count = 0;
  #overloads = 0;
  #peakInFlight = 0;
  #latencies: number[] = [];
  #staleLatencies: number[] = [];
  /** `'aimd'`: an overload was seen, so slow start is over. */
  #hasBackedOff = false;

  constructor(spec: AdaptiveLimit, apply: (limit: number) => void) {
    this.#spec = spec;
    this.#apply = apply;
    this.#estimate = spec.initial;
    this.limit = spec.initial;
    this.#changedAt = spec.now();
  }

  /** The latency baseline in ms (`Infinity` until the first gradient window). */
  get baseline(): number {
    return this.#baseline;
  }

  now(): number {
    return this.#spec.now();
  }

  /**
   * A task settled: it started at `startedAt` (from `now()`), `inFlight` tasks ran as it settled
   * (itself included), and it failed with `error` when `isFailed`. Non-overload failures are not
   * samples: they say nothing about the service's capacity.
   */
  sample(startedAt: number, inFlight: number, isFailed: boolean, error?: unknown): void {
    const latency = this.#spec.now() - startedAt;
    if (startedAt < this.#changedAt) {
      // It ran under the old limit, so it says nothing about the new one; but its latency may be the
      // service's own (the first requests of an overloaded start are served at once): the baseline sees it.
      if (!isFailed && this.#spec.algorithm === 'gradient') this.#staleLatencies.push(latency);
      return;
    }
    if (isFailed) {
      if (!this.#spec.isOverload(error, latency)) return;
      this.#overloads++;
    } else {
      this.#latencies.push(latency);
    }
    this.#count++;
    if (inFlight > this.#peakInFlight) this.#peakInFlight = inFlight;
    // A window ends early at its first overload: the limit backs off once per round trip (what is in
    // flight now started before the change and is ignored), as TCP does, instead of waiting for more
    // errors (a service that answers 503 at once would fill the window with them in milliseconds).
    if (this.#overloads > 0 || this.#count >= Math.max(this.#spec.samples, this.limit)) this.#decide();
  }

  #decide(): void {
    const { min, max, backoff, tolerance, algorithm } = this.#spec;
    const isUsed = this.#peakInFlight >= this.limit;
    let estimate = this.#estimate;
    let reason: LimitChangeReason | undefined;
    const latency = algorithm === 'gradient' && this.#latencies.length > 0 ? lowerQuartile(this.#latencies) : undefined;
    if (this.#staleLatencies.length > 0) {
      const stale = lowerQuartile(this.#staleLatencies);
      if (stale < this.#baseline) this.#baseline = stale;
    }
    if (latency !== undefined) {
      if (latency < this.#baseline) this.#baseline = latency;
      // At `min` the limit cannot shrink further, so a latency still over the baseline is the service's own: re-measure.
      else if (this.limit <= min) this.#baseline += (latency - this.#baseline) * REBASELINE;
    }
    if (this.#overloads > 0) {
      estimate = Math.max(min, estimate * backoff);
      reason = 'overload';
    } else if (latency !== undefined) {
      const allowed = tolerance * this.#baseline;
      if (latency > allowed) {
        estimate = Math.max(min, estimate * Math.max(0.5, allowed / latency));
        reason = 'latency';
      } else if (isUsed) {
        estimate = Math.min(max, estimate + Math.sqrt(estimate));
        reason = 'increase';
      }
    } else if (isUsed) {
      // Slow start (as TCP's): double until the first overload, then add one per window.
      estimate = Math.min(max, this.#hasBackedOff ? estimate + 1 : estimate * 2);
      reason = 'increase';
    }
    if (reason === 'overload') this.#hasBackedOff = true;
    this.#count = 0;
    this.#overloads = 0;
    this.#peakInFlight = 0;
    this.#latencies = [];
    this.#staleLatencies = [];
    this.#estimate = estimate;
    const limit = Math.floor(estimate);
    if (reason === undefined || limit === this.limit) return;
    this.limit = limit;
    this.#changedAt = this.#spec.now();
    this.#apply(limit);
    this.#spec.onLimitChange?.(limit, reason);
  }
}
