import { describe, isAbortSignal } from '@lac/shared';
import { kFeature, type Feature } from './gates.js';
import type { LimitOptions } from './options.js';

// One copy for every package (@lac/shared, bundled into core's build); re-exported for core's other modules.
export { describe };

export function fail(message: string): never {
  throw new TypeError(message);
}

/** Throws the boundary's TypeError: ``Expected `name` to be what, got `value` (type)``. */
export function expected(value: unknown, name: string, what: string): never {
  throw new TypeError(`Expected \`${name}\` to be ${what}, got ${describe(value)}`);
}

export function isCount(value: unknown, min: number): value is number {
  return value === Infinity || (Number.isInteger(value) && (value as number) >= min);
}

export function validateLimit(value: unknown, name = 'limit'): number {
  if (!isCount(value, 1)) expected(value, name, 'an integer >= 1 or Infinity');
  return value;
}

/** Returns `value` once it is checked to be a function. */
export function validateFunction<T>(value: T, name: string): T {
  if (typeof value !== 'function') expected(value, name, 'a function');
  return value;
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
  /** The values of `slots`, `rate`, `perKey` and `retry` that were set: each installs its gate. */
  readonly features: readonly Feature[] | undefined;
}

/** setTimeout's longest delay: a longer one fires after 1 ms instead (Node, browsers, Deno and Bun alike). */
export const MAX_DELAY = 2_147_483_647;

/**
 * `rate`, `retry`, `perKey` and `slots` take the values their factories make: each brings its code,
 * so an app that sets none of them bundles none of it. A plain object (the options of 0.1) is told
 * what to write instead.
 */
function feature(value: unknown, name: string, fix: string, features: Feature[]): void {
  if (value === undefined) return;
  if (typeof (value as Partial<Feature> | null)?.[kFeature] !== 'function') {
    let shown = describe(value);
    try {
      // An object literal shows what it held: the shape a 0.1 option had.
      if (Object.getPrototypeOf(value) === Object.prototype || Array.isArray(value))
        shown = `\`${JSON.stringify(value)}\` (${Array.isArray(value) ? 'array' : 'object'})`;
    } catch {
      // A value JSON cannot show (a cycle, a BigInt): its description stands.
    }
    fail(`Expected \`${name}\` to be ${fix}, got ${shown}`);
  }
  features.push(value as Feature);
}

export function resolveOptions(limit: number, options: unknown): ResolvedOptions {
  if (options !== undefined && (options === null || typeof options !== 'object'))
    expected(options, 'options', 'an object');
  const {
    ordered = false,
    buffer = limit,
    signal,
    timeout,
    rate,
    slots,
    retry,
    perKey,
  } = (options ?? {}) as LimitOptions;
  const { key, lookahead } = (options ?? {}) as { key?: unknown; lookahead?: unknown };
  if (key !== undefined || lookahead !== undefined)
    fail(
      'Expected `options.perKey` to be perKey(key, perKey, { lookahead }) instead of `options.key` and `options.lookahead`',
    );
  if (typeof ordered !== 'boolean') expected(ordered, 'options.ordered', 'a boolean');
  if (!isCount(buffer, 0)) expected(buffer, 'options.buffer', 'an integer >= 0 or Infinity');
  if (signal !== undefined && !isAbortSignal(signal)) expected(signal, 'options.signal', 'an AbortSignal');
  if (timeout !== undefined) {
    // NaN is not > 0.
    if (!(typeof timeout === 'number' && timeout > 0))
      expected(timeout, 'options.timeout', 'a number of milliseconds > 0');
    if (timeout > MAX_DELAY && timeout !== Infinity)
      expected(timeout, 'options.timeout', `at most ${MAX_DELAY} ms (the longest setTimeout can wait) or Infinity`);
  }
  const features: Feature[] = [];
  feature(perKey, 'options.perKey', 'perKey((item) => key, perKey)', features);
  feature(rate, 'options.rate', 'rateLimit({ limit, interval })', features);
  feature(slots, 'options.slots', 'createSharedLimit(n), allOf(...) or slotsFrom(source)', features);
  feature(retry, 'options.retry', 'retryPolicy({ retries })', features);
  return {
    ordered,
    buffer,
    window: limit + buffer,
    signal,
    timeout: timeout === Infinity ? undefined : timeout,
    features: features.length > 0 ? features : undefined,
  };
}
