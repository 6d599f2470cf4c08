import type { Duplex, Readable } from 'node:stream';
import type { LimitOptions } from '@lac/core';

/** Options of `limitedTransform` and `limitedReadable`: `@lac/core`'s `LimitOptions` plus the stream buffer size. */
export interface LimitedStreamOptions extends LimitOptions {
  /**
   * Objects each side of the stream buffers (`readableHighWaterMark` and, for `limitedTransform`,
   * `writableHighWaterMark`). An integer >= 0. Together with `limit + buffer` it bounds how many items
   * the stage holds: at most `limit + buffer + 2 * max(highWaterMark, 1)` for `limitedTransform`
   * (a side with highWaterMark 0 still passes one item at a time).
   * @default 16 (Node's object-mode default)
   */
  readonly highWaterMark?: number;
}

/**
 * The object-mode `Duplex` that `limitedTransform` returns: its writable side takes `TInput`, and
 * its readable side yields `TResult` (`for await` and `toArray()` are typed accordingly).
 */
export interface LimitedDuplex<TInput, TResult> extends Duplex {
  [Symbol.asyncIterator](): NodeJS.AsyncIterator<TResult>;
  /**
   * Type-only: Node's `Duplex` declares its iterator as yielding `any`, and keeping that signature
   * keeps the stage a `NodeJS.ReadableStream` (whose iterator yields strings and Buffers), which
   * @types/node's `readable.compose(stage)` requires. `for await` still yields `TResult`.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the signature Node's own Duplex declares.
  [Symbol.asyncIterator](): NodeJS.AsyncIterator<any>;
  toArray(options?: { signal?: AbortSignal }): Promise<TResult[]>;
  /** Type-only: the items the writable side takes (`read()` and `write()` keep Node's types, which `pipeline()`'s overloads match on). */
  readonly __input?: TInput;
}

/** The object-mode `Readable` that `limitedReadable` returns: it yields `TResult`. */
export interface LimitedReadable<TResult> extends Readable {
  [Symbol.asyncIterator](): NodeJS.AsyncIterator<TResult>;
  toArray(options?: { signal?: AbortSignal }): Promise<TResult[]>;
}
