/**
 * @lac/core: run async tasks from any (lazy, endless) iterable with limited concurrency, and get each
 * result as soon as it is ready.
 *
 * @example
 * ```ts
 * import { limitedAsCompleted, type TaskContext } from '@lac/core';
 *
 * const tasks = urls.map((url) => ({ signal }: TaskContext) => fetch(url, { signal }));
 * for await (const response of limitedAsCompleted(tasks, 8)) console.log(response.status);
 * ```
 *
 * @packageDocumentation
 */
export { limitedAsCompleted, limitedAsSettled, limitedMap, limitedMapSettled } from './as-completed.js';
export { skip } from './options.js';
export { createLimiter, limitFunction } from './limiter.js';
export type { LimitedFunction, Limiter, LimiterOptions } from './limiter.js';
export { TimeoutError } from './errors.js';
export { adaptive } from './adaptive.js';
export type { AdaptiveLimit, AdaptiveOptions, LimitChangeReason } from './adaptive.js';
export { slotsFrom } from './slots.js';
export type { Governor, GovernorToken, SlotFailure, SlotSource } from './slots.js';
export { rateLimit } from './rate-gate.js';
export { retryPolicy } from './retry-policy.js';
export { perKey } from './key-gate.js';
export { allOf, createSharedLimit } from './shared-limit.js';
export type { SharedLimit, SharedSlot } from './shared-limit.js';
export type {
  LimitedIterator,
  LimitedStats,
  LimitOptions,
  Mapper,
  PerKeyLimit,
  PerKeyOptions,
  RateLimit,
  RateOptions,
  RetryOptions,
  RetryPolicy,
  Settled,
  Skip,
  Slots,
  Task,
  TaskContext,
  TaskSource,
} from './options.js';
