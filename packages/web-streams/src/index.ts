/**
 * @lac/web-streams: a bounded-concurrency `TransformStream` for `pipeThrough`, on every runtime
 * (browsers, Deno, Bun, Node, edge workers), built on `@lac/core`. Web-platform globals only.
 *
 * @example
 * ```ts
 * import { LimitedTransformStream } from '@lac/web-streams';
 *
 * await ids
 *   .pipeThrough(new LimitedTransformStream(8, (id, { signal }) => fetch(`/api/items/${id}`, { signal }).then((r) => r.json())))
 *   .pipeTo(sink);
 * ```
 *
 * @packageDocumentation
 */
export { LimitedTransformStream } from './limited-transform-stream.js';
export type { LimitedTransformStreamOptions, StreamMapper } from './limited-transform-stream.js';
export { limitedReadableStream } from './limited-readable-stream.js';
export type { LimitOptions, TaskContext, TaskSource } from '@lac/core';
