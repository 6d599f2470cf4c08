import type { LimitOptions } from '@lac/core';
import { describe } from '@lac/shared';
import type { LimitedStreamOptions } from './options.js';

/**
 * Splits our stream options from core's: `highWaterMark` is checked here, everything else is left to
 * `@lac/core`, which names the option in its own `TypeError`.
 */
export function splitOptions(options: unknown): {
  highWaterMark: number | undefined;
  limitOptions: LimitOptions | undefined;
} {
  if (options === undefined) return { highWaterMark: undefined, limitOptions: undefined };
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const { highWaterMark, ...limitOptions } = options as LimitedStreamOptions;
  if (highWaterMark !== undefined && !(Number.isInteger(highWaterMark) && highWaterMark >= 0)) {
    throw new TypeError(`Expected \`options.highWaterMark\` to be an integer >= 0, got ${describe(highWaterMark)}`);
  }
  return { highWaterMark, limitOptions };
}

/**
 * What a stage is destroyed with when `who` failed with `value`. Node's streams treat a falsy error
 * as no error at all (`destroy(undefined)` closes cleanly and `pipeline()` then rejects with a
 * misleading `ERR_STREAM_PREMATURE_CLOSE`), so a falsy value is wrapped in an Error whose `cause` is
 * that value and whose message says who gave it; anything else is passed on as it is.
 */
export function toStreamError(value: unknown, who: 'mapper' | 'task' | 'signal'): Error {
  if (value) return value as Error;
  const message =
    who === 'signal'
      ? `\`options.signal\` aborted with ${describe(value)}`
      : `The ${who} failed with ${describe(value)}`;
  return new Error(message, { cause: value });
}
