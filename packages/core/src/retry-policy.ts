/** setTimeout's longest delay. */
const MAX_DELAY = 2_147_483_647;

/** `options.retry`, validated, with its defaults. */
export interface ResolvedRetry {
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
export function retryDelay(retry: ResolvedRetry, error: unknown, attempt: number): number | undefined {
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
