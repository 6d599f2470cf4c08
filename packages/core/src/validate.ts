import { describe, isAbortSignal } from '@lac/shared';
import type { LimitOptions, RateOptions, RetryOptions } from './options.js';
import type { ResolvedRetry } from './retry-policy.js';
import { toSlotSource, type SlotSource } from './slots.js';

// One copy for every package (@lac/shared, bundled into core's build); re-exported for core's other modules.
export { describe };

function fail(message: string): never {
  throw new TypeError(message);
}

function isCount(value: unknown, min: number): value is number {
  return value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && (value as number) >= min);
}

export function validateLimit(value: unknown, name = 'limit'): number {
  if (!isCount(value, 1)) fail(`Expected \`${name}\` to be an integer >= 1 or Infinity, got ${describe(value)}`);
  return value;
}

export function validateFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') fail(`Expected \`${name}\` to be a function, got ${describe(value)}`);
}

export function getIterator<T>(source: unknown, name: string): { iterator: Iterator<T> | AsyncIterator<T>; isAsync: boolean } {
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
  return fail(`Expected \`${name}\` to be an iterable or async iterable, got ${describe(source)}`);
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
  if (options === undefined) return { ordered: false, buffer: limit, window: limit * 2, signal: undefined, timeout: undefined, rate: undefined, slots: undefined, retry: undefined, key: undefined, perKey: 1, lookahead: undefined };
  if (options === null || typeof options !== 'object') fail(`Expected \`options\` to be an object, got ${describe(options)}`);
  const { ordered = false, buffer = limit, signal, timeout, rate, slots, retry, key, perKey = 1, lookahead } = options as LimitOptions<never>;
  if (key !== undefined) validateFunction(key, 'options.key');
  if (typeof perKey !== 'function' && !isCount(perKey, 1)) {
    fail(`Expected \`options.perKey\` to be an integer >= 1, Infinity or a function of the key, got ${describe(perKey)}`);
  }
  if (key === undefined && (options as LimitOptions).perKey !== undefined) fail('Expected `options.key` (a function of the item) with `options.perKey`, got `undefined` (undefined)');
  if (lookahead !== undefined && !isCount(lookahead, 1)) fail(`Expected \`options.lookahead\` to be an integer >= 1 or Infinity, got ${describe(lookahead)}`);
  if (typeof ordered !== 'boolean') fail(`Expected \`options.ordered\` to be a boolean, got ${describe(ordered)}`);
  if (!isCount(buffer, 0)) fail(`Expected \`options.buffer\` to be an integer >= 0 or Infinity, got ${describe(buffer)}`);
  if (signal !== undefined && !isAbortSignal(signal)) fail(`Expected \`options.signal\` to be an AbortSignal, got ${describe(signal)}`);
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0 && !Number.isNaN(timeout))) {
    fail(`Expected \`options.timeout\` to be a number of milliseconds > 0, got ${describe(timeout)}`);
  }
  if (timeout !== undefined && timeout > MAX_DELAY && timeout !== Number.POSITIVE_INFINITY) {
    fail(`Expected \`options.timeout\` to be at most ${MAX_DELAY} ms (the longest setTimeout can wait) or Infinity, got ${describe(timeout)}`);
  }
  const rates = rate === undefined ? undefined : resolveRate(rate);
  const slotSource = slots === undefined ? undefined : toSlotSource(slots, 'options.slots');
  if (slotSource?.signal !== undefined && !isAbortSignal(slotSource.signal)) {
    fail(`Expected \`options.slots.signal\` to be an AbortSignal, got ${describe(slotSource.signal)}`);
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
  if (retry === null || typeof retry !== 'object') fail(`Expected \`options.retry\` to be an object { retries, ... }, got ${describe(retry)}`);
  const { retries, minDelay = 100, maxDelay = Number.POSITIVE_INFINITY, factor = 2, jitter = false, shouldRetry, retryDelay } = retry as RetryOptions;
  if (!(Number.isInteger(retries) && retries >= 0)) fail(`Expected \`options.retry.retries\` to be an integer >= 0, got ${describe(retries)}`);
  if (!(typeof minDelay === 'number' && minDelay >= 0 && Number.isFinite(minDelay))) {
    fail(`Expected \`options.retry.minDelay\` to be a finite number of milliseconds >= 0, got ${describe(minDelay)}`);
  }
  if (!(typeof maxDelay === 'number' && maxDelay >= minDelay)) fail(`Expected \`options.retry.maxDelay\` to be a number >= minDelay (${minDelay}), got ${describe(maxDelay)}`);
  if (!(typeof factor === 'number' && factor >= 1 && Number.isFinite(factor))) fail(`Expected \`options.retry.factor\` to be a finite number >= 1, got ${describe(factor)}`);
  if (typeof jitter !== 'boolean') fail(`Expected \`options.retry.jitter\` to be a boolean, got ${describe(jitter)}`);
  if (shouldRetry !== undefined) validateFunction(shouldRetry, 'options.retry.shouldRetry');
  if (retryDelay !== undefined) validateFunction(retryDelay, 'options.retry.retryDelay');
  return { retries, minDelay, maxDelay, factor, jitter, shouldRetry, retryDelay };
}

function resolveRate(rate: unknown): RateOptions[] {
  if (Array.isArray(rate)) {
    if (rate.length === 0) fail('Expected `options.rate` to be an object { limit, interval } or a non-empty array of them, got `[]` (array)');
    return rate.map((window, i) => resolveWindow(window, `options.rate[${i}]`));
  }
  return [resolveWindow(rate, 'options.rate')];
}

function resolveWindow(rate: unknown, name: string): RateOptions {
  if (rate === null || typeof rate !== 'object') fail(`Expected \`${name}\` to be an object { limit, interval }, got ${describe(rate)}`);
  const { limit, interval } = rate as RateOptions;
  if (!(Number.isInteger(limit) && limit >= 1)) fail(`Expected \`${name}.limit\` to be an integer >= 1, got ${describe(limit)}`);
  if (!(typeof interval === 'number' && interval > 0 && Number.isFinite(interval))) {
    fail(`Expected \`${name}.interval\` to be a finite number of milliseconds > 0, got ${describe(interval)}`);
  }
  if (interval > MAX_DELAY) {
    fail(`Expected \`${name}.interval\` to be at most ${MAX_DELAY} ms (the longest setTimeout can wait), got ${describe(interval)}`);
  }
  return { limit, interval };
}
