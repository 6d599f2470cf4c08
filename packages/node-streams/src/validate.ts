import type { LimitOptions } from '@lac/core';
import type { LimitedStreamOptions } from './options.js';

/** Shows a received value and its type for error messages: `0 (number)`, `"8" (string)`. */
function describe(value: unknown): string {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value);
  else if (typeof value === 'function') shown = value.name ? `[Function ${value.name}]` : '[Function]';
  else if (typeof value === 'bigint') shown = `${value}n`;
  else if (typeof value === 'symbol') shown = value.toString();
  else if (value !== null && typeof value === 'object') shown = Array.isArray(value) ? '[Array]' : Object.prototype.toString.call(value);
  else shown = String(value);
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `\`${shown}\` (${type})`;
}

/**
 * Splits our stream options from core's: `highWaterMark` is checked here, everything else is left to
 * `@lac/core`, which names the option in its own `TypeError`.
 */
export function splitOptions(options: unknown): { highWaterMark: number | undefined; limitOptions: LimitOptions | undefined } {
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
