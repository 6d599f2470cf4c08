import { describe, isAbortSignal } from '@lac/shared';

function fail(message: string): never {
  throw new TypeError(message);
}

/** Checks the parts of `options` this package reads itself; `@lac/core` checks the rest. */
export function validateOptions(options: unknown): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object')
    fail(`Expected \`options\` to be an object, got ${describe(options)}`);
  const { signal } = options as { signal?: unknown };
  if (signal !== undefined && !isAbortSignal(signal))
    fail(`Expected \`options.signal\` to be an AbortSignal, got ${describe(signal)}`);
}

export function validateFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') fail(`Expected \`${name}\` to be a function, got ${describe(value)}`);
}

/** A queuing strategy as the stream constructors take it; checked here so bad input is a TypeError, not a RangeError. */
export function validateStrategy(value: unknown, name: string): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object')
    fail(`Expected \`${name}\` to be a queuing strategy object, got ${describe(value)}`);
  const { highWaterMark, size } = value as QueuingStrategy<unknown>;
  if (highWaterMark !== undefined && !(typeof highWaterMark === 'number' && highWaterMark >= 0)) {
    fail(`Expected \`${name}.highWaterMark\` to be a number >= 0, got ${describe(highWaterMark)}`);
  }
  if (size !== undefined && typeof size !== 'function')
    fail(`Expected \`${name}.size\` to be a function, got ${describe(size)}`);
}
