// A tiny assertion helper and test utilities that run unchanged on Node, Deno, Bun and in browsers.

export class AssertionError extends Error {
  name = 'AssertionError';
}

function show(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return `[Function ${value.name || ''}]`;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function ok(value, message = 'expected a truthy value') {
  if (!value) throw new AssertionError(`${message}, got ${show(value)}`);
}

export function equal(actual, expected, message = 'values differ') {
  if (!Object.is(actual, expected))
    throw new AssertionError(`${message}: expected ${show(expected)}, got ${show(actual)}`);
}

function isDeepEqual(a, b) {
  if (Object.is(a, b)) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && isDeepEqual(a[key], b[key]));
}

/** Structural equality of plain objects and arrays (key order does not matter). */
export function deepEqual(actual, expected, message = 'values differ') {
  if (!isDeepEqual(actual, expected))
    throw new AssertionError(`${message}: expected ${show(expected)}, got ${show(actual)}`);
}

export function atMost(actual, bound, message = 'value too large') {
  if (!(actual <= bound)) throw new AssertionError(`${message}: expected at most ${bound}, got ${show(actual)}`);
}

/** Asserts that `fn()` throws a TypeError whose message contains every one of `parts`. */
export function throwsTypeError(fn, parts = []) {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof TypeError)) throw new AssertionError(`expected a TypeError, got ${show(error)}`);
    for (const part of parts) {
      if (!error.message.includes(part))
        throw new AssertionError(`expected the message to contain ${show(part)}, got ${show(error.message)}`);
    }
    return error;
  }
  throw new AssertionError('expected a TypeError, nothing was thrown');
}

/** Awaits `promise` and asserts it rejects; returns the reason. */
export async function rejects(promise, message = 'expected a rejection') {
  let isFulfilled = false;
  let value;
  try {
    value = await promise;
    isFulfilled = true;
  } catch (reason) {
    return reason;
  }
  if (isFulfilled) throw new AssertionError(`${message}, it fulfilled with ${show(value)}`);
  return undefined;
}

export { deferred } from '../deferred.mjs';

/** Lets the event loop run a few macrotask turns (timers, stream internals, unhandled-rejection reports). */
export async function settle(turns = 3) {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Tracks whether a promise has settled, without waiting for it. */
export function track(promise) {
  const state = { isSettled: false, isFulfilled: false, value: undefined, reason: undefined };
  promise.then(
    (value) => Object.assign(state, { isSettled: true, isFulfilled: true, value }),
    (reason) => Object.assign(state, { isSettled: true, reason }),
  );
  return state;
}

export function streamOf(items) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < items.length) controller.enqueue(items[i++]);
      else controller.close();
    },
  });
}

/** Reads a stream to its end with a reader (no async iteration: Safari lacks it). */
export async function collect(readable) {
  const reader = readable.getReader();
  const out = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

export function collector() {
  const items = [];
  return { items, writable: new WritableStream({ write: (item) => void items.push(item) }) };
}
