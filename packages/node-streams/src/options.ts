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
