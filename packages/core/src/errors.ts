/**
 * The error a task's result becomes when it runs longer than `options.timeout`.
 * Identify it by `error.name === 'TimeoutError'` (or `code`), which holds across bundles and realms.
 */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ERR_LAC_TIMEOUT';
  /** The task's position in the source, from 0. (`declare`d: set in the constructor, no field initializer to emit.) */
  declare readonly index: number;
  /** The timeout that ran out, in milliseconds. */
  declare readonly timeout: number;

  /**
   * Made by the scheduler when a task runs past `options.timeout`; you do not construct it yourself.
   *
   * @param index - The task's index in the source.
   *
   * @param timeout - The timeout that ran out, in milliseconds.
   *
   * @throws Does not throw.
   *
   * @example
   * ```ts
   * for await (const outcome of limitedAsSettled(tasks, 4, { timeout: 1000 })) {
   *   if (outcome.status === 'rejected' && outcome.reason.name === 'TimeoutError') console.warn(`task ${outcome.index} timed out`);
   * }
   * ```
   */
  constructor(index: number, timeout: number) {
    super(`Task ${index} timed out after ${timeout} ms`);
    this.index = index;
    this.timeout = timeout;
  }
}

/** The abort reason in-flight tasks see when the consumer stops iterating early. */
export function earlyExitReason(): unknown {
  return makeAbortError('The consumer stopped iterating before all tasks finished');
}

/** The abort reason in-flight tasks see when another task failed and the run fails fast. */
export function failFastReason(cause: unknown): unknown {
  const error = makeAbortError('Another task failed, so this run stopped') as Error & { cause?: unknown };
  error.cause = cause;
  return error;
}

function makeAbortError(message: string): Error {
  // DOMException is global in Node >= 17, Deno, Bun and browsers; it is what fetch() and friends use.
  if (typeof DOMException === 'function') return new DOMException(message, 'AbortError');
  const error = new Error(message);
  error.name = 'AbortError';
  return error;
}
