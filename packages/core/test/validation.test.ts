import { describe, expect, it } from 'vitest';
import { createLimiter, limitedAsCompleted, limitedAsSettled, limitedMap, rateLimit } from '@lac/core';

/** Rule 10: bad input gets a TypeError at call time whose message names the argument and shows the value and its type. */

const noop = () => 1;
const tasks = [noop];

function expectTypeError(call: () => unknown, pattern: RegExp): void {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(TypeError);
  expect((thrown as TypeError).message).toMatch(pattern);
}

const forms = {
  limitedAsCompleted: (source: unknown, limit: unknown, options?: unknown) =>
    limitedAsCompleted(source as never, limit as never, options as never),
  limitedAsSettled: (source: unknown, limit: unknown, options?: unknown) =>
    limitedAsSettled(source as never, limit as never, options as never),
  limitedMap: (source: unknown, limit: unknown, options?: unknown) =>
    limitedMap(source as never, limit as never, noop, options as never),
};

const badLimits: [unknown, string][] = [
  [0, '`0` (number)'],
  [-1, '`-1` (number)'],
  [1.5, '`1.5` (number)'],
  [Number.NaN, '`NaN` (number)'],
  ['8', '`"8"` (string)'],
  [undefined, '`undefined` (undefined)'],
  [null, '`null` (null)'],
  [Number.NEGATIVE_INFINITY, '`-Infinity` (number)'],
  [8n, '`8n` (bigint)'],
  [{}, '`[object Object]` (object)'],
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe.each(Object.entries(forms))('%s rejects bad input at call time', (name, call) => {
  const sourceName = name === 'limitedMap' ? 'items' : 'tasks';

  it.each(badLimits)('limit %s throws a TypeError naming `limit` and showing the value', (limit, shown) => {
    expectTypeError(
      () => call(tasks, limit),
      new RegExp(`^Expected \`limit\` to be an integer >= 1 or Infinity, got ${escape(shown)}$`),
    );
  });

  it('accepts limit 1, a large integer and Infinity', () => {
    expect(() => call(tasks, 1)).not.toThrow();
    expect(() => call(tasks, 2 ** 31)).not.toThrow();
    expect(() => call(tasks, Number.POSITIVE_INFINITY)).not.toThrow();
  });

  it.each([
    [42, '`42` (number)'],
    [null, '`null` (null)'],
    [undefined, '`undefined` (undefined)'],
    [{ length: 1 }, '`[object Object]` (object)'],
    [Promise.resolve([noop]), '`[object Promise]` (object)'],
  ])('a source that is not iterable (%s) throws a TypeError naming it', (source, shown) => {
    expectTypeError(
      () => call(source, 2),
      new RegExp(`^Expected \`${sourceName}\` to be an iterable or async iterable, got ${escape(shown)}$`),
    );
  });

  it.each([
    ['ordered', 'yes', /`options\.ordered` to be a boolean, got `"yes"` \(string\)/],
    ['ordered', 1, /`options\.ordered` to be a boolean, got `1` \(number\)/],
    ['buffer', -1, /`options\.buffer` to be an integer >= 0 or Infinity, got `-1` \(number\)/],
    ['buffer', 1.5, /`options\.buffer` to be an integer >= 0 or Infinity, got `1\.5` \(number\)/],
    ['buffer', Number.NaN, /`options\.buffer` to be an integer >= 0 or Infinity, got `NaN` \(number\)/],
    ['buffer', '2', /`options\.buffer` to be an integer >= 0 or Infinity, got `"2"` \(string\)/],
    ['signal', {}, /`options\.signal` to be an AbortSignal, got `\[object Object\]` \(object\)/],
    ['signal', true, /`options\.signal` to be an AbortSignal, got `true` \(boolean\)/],
    ['signal', null, /`options\.signal` to be an AbortSignal, got `null` \(null\)/],
    ['timeout', 0, /`options\.timeout` to be a number of milliseconds > 0, got `0` \(number\)/],
    ['timeout', -5, /`options\.timeout` to be a number of milliseconds > 0, got `-5` \(number\)/],
    ['timeout', Number.NaN, /`options\.timeout` to be a number of milliseconds > 0, got `NaN` \(number\)/],
    ['timeout', '100', /`options\.timeout` to be a number of milliseconds > 0, got `"100"` \(string\)/],
    // setTimeout cannot wait longer: such a timer would fire after 1 ms and time every task out at once.
    [
      'timeout',
      2 ** 31,
      /`options\.timeout` to be at most 2147483647 ms \(the longest setTimeout can wait\) or Infinity, got `2147483648` \(number\)/,
    ],
    ['rate', 5, /`options\.rate` to be rateLimit\(\{ limit, interval \}\), got `5` \(number\)/],
    ['rate', null, /`options\.rate` to be rateLimit\(\{ limit, interval \}\), got `null` \(null\)/],
    // The plain object of 0.1 is shown, with the factory to wrap it in.
    [
      'rate',
      { limit: 5, interval: 1000 },
      /^Expected `options\.rate` to be rateLimit\(\{ limit, interval \}\), got `\{"limit":5,"interval":1000\}` \(object\)$/,
    ],
    ['retry', { retries: 3 }, /`options\.retry` to be retryPolicy\(\{ retries \}\), got `\{"retries":3\}` \(object\)/],
    ['perKey', 2, /`options\.perKey` to be perKey\(\(item\) => key, perKey\), got `2` \(number\)/],
    [
      'slots',
      5,
      /`options\.slots` to be createSharedLimit\(n\), allOf\(\.\.\.\) or slotsFrom\(source\), got `5` \(number\)/,
    ],
  ])('option %s = %s throws a TypeError naming the option and showing the value', (key, value, pattern) => {
    expectTypeError(() => call(tasks, 2, { [key]: value }), pattern);
  });

  it.each([
    ['rate', { limit: 0, interval: 100 }, /`windows\[0\]\.limit` to be an integer >= 1, got `0` \(number\)/],
    ['rate', { limit: 1.5, interval: 100 }, /`windows\[0\]\.limit` to be an integer >= 1, got `1\.5` \(number\)/],
    ['rate', { interval: 100 }, /`windows\[0\]\.limit` to be an integer >= 1, got `undefined` \(undefined\)/],
    [
      'rate',
      { limit: 2, interval: 0 },
      /`windows\[0\]\.interval` to be a finite number of milliseconds > 0, got `0` \(number\)/,
    ],
    ['rate', { limit: 2, interval: Number.POSITIVE_INFINITY }, /`windows\[0\]\.interval` .* got `Infinity` \(number\)/],
    ['rate', { limit: 2, interval: '1s' }, /`windows\[0\]\.interval` .* got `"1s"` \(string\)/],
    [
      'rate',
      { limit: 2, interval: 2 ** 31 },
      /`windows\[0\]\.interval` to be at most 2147483647 ms .* got `2147483648` \(number\)/,
    ],
  ])('rateLimit(%s = %j) throws a TypeError naming the window and showing the value', (_, window, pattern) => {
    expectTypeError(() => rateLimit(window as never), pattern);
  });

  it.each([
    [5, '`5` (number)'],
    ['fast', '`"fast"` (string)'],
    [null, '`null` (null)'],
  ])('options that are not an object (%s) throw a TypeError naming `options`', (options, shown) => {
    expectTypeError(
      () => call(tasks, 2, options),
      new RegExp(`^Expected \`options\` to be an object, got ${escape(shown)}$`),
    );
  });

  it('accepts every valid option value', () => {
    const valid = {
      ordered: true,
      buffer: 0,
      signal: new AbortController().signal,
      timeout: 1000,
      rate: rateLimit({ limit: 3, interval: 10 }),
    };
    expect(() => call(tasks, 2, valid)).not.toThrow();
    expect(() => call(tasks, 2, { buffer: Number.POSITIVE_INFINITY, timeout: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() =>
      call(tasks, 2, { timeout: 2 ** 31 - 1, rate: rateLimit({ limit: 1, interval: 2 ** 31 - 1 }) }),
    ).not.toThrow();
    expect(() => call(tasks, 2, {})).not.toThrow();
    expect(() => call(tasks, 2, undefined)).not.toThrow();
  });

  it('validates before touching the source: a bad limit never calls [Symbol.iterator]', () => {
    let isIteratorMade = false;
    const source = {
      [Symbol.iterator]() {
        isIteratorMade = true;
        return [][Symbol.iterator]();
      },
    };
    expect(() => call(source, 0)).toThrow(TypeError);
    expect(() => call(source, 2, { buffer: -1 })).toThrow(TypeError);
    expect(isIteratorMade).toBe(false);
  });
});

describe('limitedMap', () => {
  it.each([
    [undefined, '`undefined` (undefined)'],
    ['map', '`"map"` (string)'],
    [{}, '`[object Object]` (object)'],
    [null, '`null` (null)'],
  ])('a mapper that is not a function (%s) throws a TypeError naming `mapper`', (mapper, shown) => {
    expectTypeError(
      () => limitedMap([1], 2, mapper as never),
      new RegExp(`^Expected \`mapper\` to be a function, got ${escape(shown)}$`),
    );
  });
});

describe('createLimiter', () => {
  // An object is createLimiter's options form ({ concurrency, rejectOnClear }), tested below.
  it.each(badLimits.filter(([value]) => typeof value !== 'object' || value === null))(
    'concurrency %s throws a TypeError naming `concurrency`',
    (concurrency, shown) => {
      expectTypeError(
        () => createLimiter(concurrency as never),
        new RegExp(`^Expected \`concurrency\` to be an integer >= 1 or Infinity, got ${escape(shown)}$`),
      );
    },
  );

  it('an options object is validated too: concurrency and rejectOnClear', () => {
    expectTypeError(() => createLimiter({ concurrency: 0 }), /`concurrency` .* got `0` \(number\)/);
    expectTypeError(
      () => createLimiter({ concurrency: 2, rejectOnClear: 'yes' as never }),
      /`rejectOnClear` to be a boolean, got `"yes"` \(string\)/,
    );
    expect(() => createLimiter({ concurrency: 2, rejectOnClear: true })).not.toThrow();
  });

  it('the concurrency setter rejects bad values and keeps the old one', () => {
    const limit = createLimiter(3);
    for (const [value, shown] of badLimits) {
      expectTypeError(
        () => {
          limit.concurrency = value as number;
        },
        new RegExp(`\`concurrency\` .* got ${escape(shown)}$`),
      );
    }
    expect(limit.concurrency).toBe(3);
  });

  it('a non-function passed to the limiter rejects its promise with a TypeError naming `fn`', async () => {
    const limit = createLimiter(1);
    await expect(limit(42 as never)).rejects.toThrow(/^Expected `fn` to be a function, got `42` \(number\)$/);
    expect(limit.activeCount).toBe(0);
    expect(limit.pendingCount).toBe(0);
  });
});

describe('non-function items are a failure of the run, with a clear message', () => {
  it('limitedAsCompleted rejects next() with a TypeError naming the index and value', async () => {
    const iterator = limitedAsCompleted([() => 1, 'oops' as never], 1);
    const first = await iterator.next();
    expect(first).toEqual({ value: 1, done: false });
    await expect(iterator.next()).rejects.toThrow(
      /^Expected every item of `tasks` to be a function, got `"oops"` \(string\) at index 1$/,
    );
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('limitedAsSettled also fails the run: a bad source is not a task failure', async () => {
    const iterator = limitedAsSettled([null as never], 1);
    await expect(iterator.next()).rejects.toThrow(/got `null` \(null\) at index 0/);
  });
});
