import { Gates, kFeature, type Feature } from './gates.js';
import type { RetryOptions, RetryPolicy } from './options.js';
import { expected, MAX_DELAY, validateFunction } from './validate.js';

/** `options.retry`, validated, with its defaults. */
interface ResolvedRetry {
  readonly retries: number;
  readonly minDelay: number;
  readonly maxDelay: number;
  readonly factor: number;
  readonly jitter: boolean;
  readonly shouldRetry: ((error: unknown, attempt: number) => boolean) | undefined;
  readonly retryDelay: ((error: unknown, attempt: number) => number | undefined) | undefined;
}

/**
 * Whether and when a failed attempt is tried again. `attempt` is the number of the attempt that
 * failed (1 for the first). Returns the backoff in ms, or undefined for no retry. A `shouldRetry`
 * or `retryDelay` that throws throws here (the run fails with that error).
 */
function retryDelay(retry: ResolvedRetry, error: unknown, attempt: number): number | undefined {
  if (attempt > retry.retries) return undefined;
  if (retry.shouldRetry !== undefined && !retry.shouldRetry(error, attempt)) return undefined;
  let delay = retry.retryDelay?.(error, attempt);
  if (!isDelay(delay)) {
    // A server's hint, as many HTTP clients attach it (`Retry-After`, in ms here).
    const hinted =
      error !== null && typeof error === 'object' ? (error as { retryAfter?: unknown }).retryAfter : undefined;
    delay = isDelay(hinted) ? hinted : backoff(retry, attempt);
  }
  return Math.min(delay, MAX_DELAY);
}

function isDelay(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && !Number.isNaN(value);
}

/** Exponential: `minDelay * factor ** (attempt - 1)`, at most `maxDelay`; with `jitter`, a random share of it ("full jitter"). */
function backoff(retry: ResolvedRetry, attempt: number): number {
  const delay = Math.min(retry.maxDelay, retry.minDelay * retry.factor ** (attempt - 1));
  return retry.jitter ? Math.random() * delay : delay;
}

/**
 * Makes the value of `options.retry`: failed tasks are tried again, up to `retries` times, with an
 * exponential backoff (`minDelay`, `factor`, `maxDelay`, `jitter`), an `error.retryAfter` hint or
 * your own `retryDelay`; `shouldRetry` picks the failures worth another try.
 *
 * @param retry - `{ retries, minDelay?, maxDelay?, factor?, jitter?, shouldRetry?, retryDelay? }` (see `RetryOptions`).
 *
 * @returns A `RetryPolicy`, for `options.retry` of any number of runs.
 *
 * @throws TypeError when a field is invalid, naming it (`retry.retries`, ...), the value and its type.
 *
 * @example
 * ```ts
 * const pages = limitedMap(urls, 8, fetchPage, { retry: retryPolicy({ retries: 3, minDelay: 200 }) });
 * ```
 */
export function retryPolicy(retry: RetryOptions): RetryPolicy {
  const resolved = resolveRetry(retry, 'retry');
  const feature: Feature & { '~lac': string } = {
    '~lac': 'retryPolicy',
    [kFeature](gates, host) {
      gates ??= new Gates(host);
      gates.retry = (error, attempt) => retryDelay(resolved, error, attempt);
      return gates;
    },
  };
  return feature as unknown as RetryPolicy;
}

function resolveRetry(retry: unknown, name: string): ResolvedRetry {
  if (retry === null || typeof retry !== 'object') expected(retry, name, 'an object { retries, ... }');
  const {
    retries,
    minDelay = 100,
    maxDelay = Number.POSITIVE_INFINITY,
    factor = 2,
    jitter = false,
    shouldRetry,
    retryDelay,
  } = retry as RetryOptions;
  if (!(Number.isInteger(retries) && retries >= 0)) expected(retries, `${name}.retries`, 'an integer >= 0');
  if (!(typeof minDelay === 'number' && minDelay >= 0 && Number.isFinite(minDelay))) {
    expected(minDelay, `${name}.minDelay`, 'a finite number of milliseconds >= 0');
  }
  if (!(typeof maxDelay === 'number' && maxDelay >= minDelay))
    expected(maxDelay, `${name}.maxDelay`, `a number >= minDelay (${minDelay})`);
  if (!(typeof factor === 'number' && factor >= 1 && Number.isFinite(factor)))
    expected(factor, `${name}.factor`, 'a finite number >= 1');
  if (typeof jitter !== 'boolean') expected(jitter, `${name}.jitter`, 'a boolean');
  if (shouldRetry !== undefined) validateFunction(shouldRetry, `${name}.shouldRetry`);
  if (retryDelay !== undefined) validateFunction(retryDelay, `${name}.retryDelay`);
  return { retries, minDelay, maxDelay, factor, jitter, shouldRetry, retryDelay };
}
