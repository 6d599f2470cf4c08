/**
 * @lac/node-streams: a bounded-concurrency stage for Node stream pipelines, built on `@lac/core`.
 * At most `limit` async mappers run at once, results come out as soon as they are ready (or in input
 * order), and backpressure holds end to end.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * import { limitedTransform } from '@lac/node-streams';
 *
 * await pipeline(source, limitedTransform(16, async (item, { signal }) => enrich(item, signal)), sink);
 * ```
 *
 * @packageDocumentation
 */
export { limitedTransform } from './limited-transform.js';
export { limitedReadable } from './limited-readable.js';
export type { LimitedDuplex, LimitedReadable, LimitedStreamOptions } from './options.js';
