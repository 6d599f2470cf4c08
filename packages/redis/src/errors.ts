/**
 * What runs using a `RedisSlots` fail with once it can no longer vouch for the shared limit.
 * Identify it by `error.name === 'RedisSlotsError'` and tell the cases apart by `code`:
 * - `ERR_LAC_REDIS_UNAVAILABLE`: a Redis command failed or did not answer within `timeoutMs`
 *   (the cause is in `error.cause`);
 * - `ERR_LAC_REDIS_LEASE_LOST`: a lease expired before it could be renewed (the process stalled, or
 *   Redis lost the data), so another process may have taken its slot.
 */
export class RedisSlotsError extends Error {
  override readonly name = 'RedisSlotsError';
  readonly code: 'ERR_LAC_REDIS_UNAVAILABLE' | 'ERR_LAC_REDIS_LEASE_LOST';
  /** The `key` of the shared limit. */
  readonly key: string;

  /**
   * Made by `RedisSlots` when it can no longer vouch for the shared limit; you do not construct it yourself.
   *
   * @param code - `ERR_LAC_REDIS_UNAVAILABLE` or `ERR_LAC_REDIS_LEASE_LOST`.
   *
   * @param key - The `key` of the shared limit.
   *
   * @param message - What happened, for people.
   *
   * @param options - `cause`: the Redis error behind it, if any.
   *
   * @throws Does not throw.
   *
   * @example
   * ```ts
   * try {
   *   for await (const r of limitedAsCompleted(tasks, 8, { slots })) use(r);
   * } catch (error) {
   *   if (error.name === 'RedisSlotsError' && error.code === 'ERR_LAC_REDIS_UNAVAILABLE') retryLater();
   *   else throw error;
   * }
   * ```
   */
  constructor(code: RedisSlotsError['code'], key: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.key = key;
  }
}
