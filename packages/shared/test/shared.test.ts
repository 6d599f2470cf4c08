import { describe as suite, expect, it } from 'vitest';
import { describe, isAbortSignal, isThenable } from '@lac/shared';

suite('describe', () => {
  it('shows every kind of value with its type, as error messages quote it', () => {
    expect(describe('x')).toBe('`"x"` (string)');
    expect(describe(0)).toBe('`0` (number)');
    expect(describe(Number.NaN)).toBe('`NaN` (number)');
    expect(describe(10n)).toBe('`10n` (bigint)');
    expect(describe(Symbol('s'))).toBe('`Symbol(s)` (symbol)');
    expect(describe(true)).toBe('`true` (boolean)');
    expect(describe(undefined)).toBe('`undefined` (undefined)');
    expect(describe(null)).toBe('`null` (null)');
    expect(describe([1, 2])).toBe('`[Array]` (array)');
    expect(describe({ a: 1 })).toBe('`[object Object]` (object)');
    expect(describe(new Map())).toBe('`[object Map]` (object)');
    expect(describe(function named() {})).toBe('`[Function named]` (function)');
    expect(describe(Object.defineProperty(() => {}, 'name', { value: '' }))).toBe('`[Function]` (function)');
  });

  it('never throws, even for objects without a prototype', () => {
    expect(describe(Object.create(null))).toBe('`[object Object]` (object)');
  });
});

suite('isThenable', () => {
  it('is true for what await treats as a promise: an object or function with a callable then', () => {
    expect(isThenable(Promise.resolve(1))).toBe(true);
    expect(isThenable({ then() {} })).toBe(true);
    expect(isThenable(Object.assign(() => {}, { then() {} }))).toBe(true);
  });

  it('is false for everything else', () => {
    for (const value of [null, undefined, 0, 'then', { then: 1 }, {}, () => {}]) expect(isThenable(value)).toBe(false);
  });
});

suite('isAbortSignal', () => {
  it('accepts real signals and signal-shaped objects (another realm)', () => {
    expect(isAbortSignal(new AbortController().signal)).toBe(true);
    expect(isAbortSignal({ aborted: false, addEventListener() {}, removeEventListener() {} })).toBe(true);
  });

  it('rejects what lacks aborted, addEventListener or removeEventListener', () => {
    for (const value of [
      null,
      undefined,
      {},
      { aborted: false, addEventListener() {} },
      { aborted: 'no', addEventListener() {}, removeEventListener() {} },
      new EventTarget(),
    ]) {
      expect(isAbortSignal(value)).toBe(false);
    }
  });
});
