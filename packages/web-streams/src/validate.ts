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

function fail(message: string): never {
  throw new TypeError(message);
}

/** Checks the parts of `options` this package reads itself; `@lac/core` checks the rest. */
export function validateOptions(options: unknown): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') fail(`Expected \`options\` to be an object, got ${describe(options)}`);
  const { signal } = options as { signal?: unknown };
  if (signal !== undefined && !isAbortSignal(signal)) fail(`Expected \`options.signal\` to be an AbortSignal, got ${describe(signal)}`);
}

export function validateFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') fail(`Expected \`${name}\` to be a function, got ${describe(value)}`);
}

/** A queuing strategy as the stream constructors take it; checked here so bad input is a TypeError, not a RangeError. */
export function validateStrategy(value: unknown, name: string): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object') fail(`Expected \`${name}\` to be a queuing strategy object, got ${describe(value)}`);
  const { highWaterMark, size } = value as QueuingStrategy<unknown>;
  if (highWaterMark !== undefined && !(typeof highWaterMark === 'number' && highWaterMark >= 0)) {
    fail(`Expected \`${name}.highWaterMark\` to be a number >= 0, got ${describe(highWaterMark)}`);
  }
  if (size !== undefined && typeof size !== 'function') fail(`Expected \`${name}.size\` to be a function, got ${describe(size)}`);
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}
