import { describe, isAbortSignal } from '@lac/shared';
import type { LimitOptions, RateOptions, RetryOptions } from './options.js';
import type { ResolvedRetry } from './retry-policy.js';
import { toSlotSource, type SlotSource } from './slots.js';

// One copy for every package (@lac/shared, bundled into core's build); re-exported for core's other modules.
export { describe };

function fail(message: string): never {
  throw new TypeError(message);
}

/** Throws the boundary's TypeError: ``Expected `name` to be what, got `value` (type)``. */
function expected(value: unknown, name: string, what: string): never {
  return fail(`Expected \`${name}\` to be ${what}, got ${describe(value)}`);
}

function isCount(value: unknown, min: number): value is number {
  return value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && (value as number) >= min);
}

export function validateLimit(value: unknown, name = 'limit'): number {
  if (!isCount(value, 1)) expected(value, name, 'an integer >= 1 or Infinity');
  return value;
}

export function validateFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') expected(value, name, 'a function');
}

export function getIterator<T>(
  source: unknown,
  name: string,
): { iterator: Iterator<T> | AsyncIterator<T>; isAsync: boolean } {
  if (source !== null && source !== undefined) {
    const asyncFactory = (source as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator];
    if (typeof asyncFactory === 'function') {
      return { iterator: asyncFactory.call(source) as AsyncIterator<T>, isAsync: true };
    }
    const syncFactory = (source as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (typeof syncFactory === 'function') {
      return { iterator: syncFactory.call(source) as Iterator<T>, isAsync: false };
    }
  }
  return expected(source, name, 'an iterable or async iterable');
}

export interface ResolvedOptions {
  readonly ordered: boolean;
  readonly buffer: number;
  readonly window: number;
  readonly signal: AbortSignal | undefined;
  readonly timeout: number | undefined;
  /** Every window of `options.rate` (one or several). */
  readonly rate: readonly RateOptions[] | undefined;
  readonly slots: SlotSource | undefined;
  readonly retry: ResolvedRetry | undefined;
  readonly key: ((item: never, index: number) => unknown) | undefined;
  readonly perKey: number | ((key: unknown) => number);
  readonly lookahead: number | undefined;
}

/** setTimeout's longest delay: a longer one fires after 1 ms instead (Node, browsers, Deno and Bun alike). */
const MAX_DELAY = 2_147_483_647;

export function resolveOptions(limit: number, options: unknown): ResolvedOptions {
  if (options === undefined)
    return {
      ordered: false,
      buffer: limit,
      window: limit * 2,
      signal: undefined,
      timeout: undefined,
      rate: undefined,
      slots: undefined,
      retry: undefined,
      key: undefined,
      perKey: 1,
      lookahead: undefined,
    };
  if (options === null || typeof options !== 'object') expected(options, 'options', 'an object');
  const {
    ordered = false,
    buffer = limit,
    signal,
    timeout,
    rate,
    slots,
    retry,
    key,
    perKey = 1,
    lookahead,
  } = options as LimitOptions<never>;
  if (key !== undefined) validateFunction(key, 'options.key');
  if (typeof perKey !== 'function' && !isCount(perKey, 1)) {
    expected(perKey, 'options.perKey', 'an integer >= 1, Infinity or a function of the key');
  }
  if (key === undefined && (options as LimitOptions).perKey !== undefined)
    fail('Expected `options.key` (a function of the item) with `options.perKey`, got `undefined` (undefined)');
  if (lookahead !== undefined && !isCount(lookahead, 1))
    expected(lookahead, 'options.lookahead', 'an integer >= 1 or Infinity');
  if (typeof ordered !== 'boolean') expected(ordered, 'options.ordered', 'a boolean');
  if (!isCount(buffer, 0)) expected(buffer, 'options.buffer', 'an integer >= 0 or Infinity');
  if (signal !== undefined && !isAbortSignal(signal)) expected(signal, 'options.signal', 'an AbortSignal');
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0 && !Number.isNaN(timeout))) {
    expected(timeout, 'options.timeout', 'a number of milliseconds > 0');
  }
  if (timeout !== undefined && timeout > MAX_DELAY && timeout !== Number.POSITIVE_INFINITY) {
    expected(timeout, 'options.timeout', `at most ${MAX_DELAY} ms (the longest setTimeout can wait) or Infinity`);
  }
  const rates = rate === undefined ? undefined : resolveRate(rate);
  const slotSource = slots === undefined ? undefined : toSlotSource(slots, 'options.slots');
  if (slotSource?.signal !== undefined && !isAbortSignal(slotSource.signal)) {
    expected(slotSource.signal, 'options.slots.signal', 'an AbortSignal');
  }
  return {
    ordered,
    buffer,
    window: limit + buffer,
    signal,
    timeout: timeout === Number.POSITIVE_INFINITY ? undefined : timeout,
    rate: rates,
    slots: slotSource,
    retry: retry === undefined ? undefined : resolveRetry(retry),
    key,
    perKey: perKey as number | ((key: unknown) => number),
    lookahead,
  };
}

function resolveRetry(retry: unknown): ResolvedRetry {
  if (retry === null || typeof retry !== 'object') expected(retry, 'options.retry', 'an object { retries, ... }');
  const {
    retries,
    minDelay = 100,
    maxDelay = Number.POSITIVE_INFINITY,
    factor = 2,
    jitter = false,
    shouldRetry,
    retryDelay,
  } = retry as RetryOptions;
  if (!(Number.isInteger(retries) && retries >= 0)) expected(retries, 'options.retry.retries', 'an integer >= 0');
  if (!(typeof minDelay === 'number' && minDelay >= 0 && Number.isFinite(minDelay))) {
    expected(minDelay, 'options.retry.minDelay', 'a finite number of milliseconds >= 0');
  }
  if (!(typeof maxDelay === 'number' && maxDelay >= minDelay))
    expected(maxDelay, 'options.retry.maxDelay', `a number >= minDelay (${minDelay})`);
  if (!(typeof factor === 'number' && factor >= 1 && Number.isFinite(factor)))
    expected(factor, 'options.retry.factor', 'a finite number >= 1');
  if (typeof jitter !== 'boolean') expected(jitter, 'options.retry.jitter', 'a boolean');
  if (shouldRetry !== undefined) validateFunction(shouldRetry, 'options.retry.shouldRetry');
  if (retryDelay !== undefined) validateFunction(retryDelay, 'options.retry.retryDelay');
  return { retries, minDelay, maxDelay, factor, jitter, shouldRetry, retryDelay };
}

function resolveRate(rate: unknown): RateOptions[] {
  if (Array.isArray(rate)) {
    if (rate.length === 0)
      fail(
        'Expected `options.rate` to be an object { limit, interval } or a non-empty array of them, got `[]` (array)',
      );
    return rate.map((window, i) => resolveWindow(window, `options.rate[${i}]`));
  }
  return [resolveWindow(rate, 'options.rate')];
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
