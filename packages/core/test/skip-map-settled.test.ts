// The `skip` sentinel (as p-map's pMapSkip) and limitedMapSettled, the settled form of limitedMap.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  limitedAsCompleted,
  limitedAsSettled,
  limitedMap,
  limitedMapSettled,
  skip,
  type LimitedIterator,
  type Settled,
} from '@lac/core';
import { deferred, drain, flush, type Deferred } from './helpers.js';

describe('skip', () => {
  it('is a registered symbol, so the ESM and CommonJS copies agree on it', () => {
    expect(skip).toBe(Symbol.for('@lac/core.skip'));
  });

  it('a mapper that returns skip produces no result (completion order)', async () => {
    const { values } = await drain(limitedMap([1, 2, 3, 4, 5, 6], 2, async (n) => (n % 2 === 0 ? n * 10 : skip)));
    expect(values.sort((a, b) => a - b)).toEqual([20, 40, 60]);
    expectTypeOf(limitedMap([1], 1, async (n: number) => (n > 0 ? n : skip))).toEqualTypeOf<LimitedIterator<number>>();
  });

  it('ordered mode keeps order around skipped items, whatever order they finish in', async () => {
    const handles = new Map<number, Deferred<number | typeof skip>>();
    const iterator = limitedMap(
      [0, 1, 2, 3, 4],
      5,
      (n) => {
        const handle = deferred<number | typeof skip>();
        handles.set(n, handle);
        return handle.promise;
      },
      { ordered: true },
    );
    const results: number[] = [];
    const consumer = (async () => {
      for await (const value of iterator) results.push(value);
    })();
    await flush();
    expect(handles.size).toBe(5);
    // 3 (a result) and 1 (a skip) finish before 0: both wait behind it.
    handles.get(3)!.resolve(30);
    handles.get(1)!.resolve(skip);
    await flush();
    expect(results).toEqual([]);
    expect(iterator.stats.buffered).toBe(1);
    handles.get(0)!.resolve(0);
    await flush();
    expect(results).toEqual([0]);
    // 2 is skipped: 3, held back, goes out at once.
    handles.get(2)!.resolve(skip);
    await flush();
    expect(results).toEqual([0, 30]);
    handles.get(4)!.resolve(skip);
    await consumer;
    expect(results).toEqual([0, 30]);
    expect(iterator.stats).toMatchObject({ started: 5, completed: 5, buffered: 0 });
  });

  it('ordered mode: a failure after skipped items held back leaves buffered at 0', async () => {
    const failure = new Error('boom');
    const first = deferred<number>();
    const iterator = limitedMap(
      [0, 1, 2, 3],
      4,
      (n) => (n === 0 ? first.promise : n === 3 ? Promise.reject(failure) : n === 1 ? skip : n),
      {
        ordered: true,
      },
    );
    const pending = iterator.next().catch((caught: unknown) => caught);
    await flush();
    // 1 (a skip) and 2 (a result) were held back behind 0 when 3 failed: the result is dropped, the count stays right.
    expect(await pending).toBe(failure);
    expect(iterator.stats.buffered).toBe(0);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    first.resolve(0);
  });

  it('limitedAsSettled: a task that returns skip produces no outcome', async () => {
    const { values } = await drain(limitedAsSettled([() => skip, () => 2, () => Promise.resolve(skip)], 1));
    expect(values).toEqual([{ status: 'fulfilled', value: 2, index: 1 }]);
  });

  it('limitedAsCompleted: a task that returns skip produces no result', async () => {
    const { values } = await drain(limitedAsCompleted([() => 1, () => skip, () => 3], 1, { ordered: true }));
    expect(values).toEqual([1, 3]);
  });
});

describe('limitedMapSettled', () => {
  it('yields every outcome and goes on after failures', async () => {
    const failure = new Error('odd');
    const iterator = limitedMapSettled(
      [1, 2, 3, 4],
      2,
      async (n, { index }) => {
        if (n % 2 === 1) throw failure;
        return n * index;
      },
      { ordered: true },
    );
    expectTypeOf(iterator).toEqualTypeOf<LimitedIterator<Settled<number>>>();
    const { values, isThrown } = await drain(iterator);
    expect(isThrown).toBe(false);
    expect(values).toEqual([
      { status: 'rejected', reason: failure, index: 0 },
      { status: 'fulfilled', value: 2, index: 1 },
      { status: 'rejected', reason: failure, index: 2 },
      { status: 'fulfilled', value: 12, index: 3 },
    ]);
    expect(iterator.stats).toMatchObject({ started: 4, completed: 2, failed: 2 });
  });

  it('a rejected item is a rejected outcome; a skipped one is no outcome', async () => {
    const failure = new Error('item');
    const { values } = await drain(
      limitedMapSettled([Promise.resolve(1), Promise.reject(failure), 3], 1, (n) => (n === 3 ? skip : n)),
    );
    expect(values).toEqual([
      { status: 'fulfilled', value: 1, index: 0 },
      { status: 'rejected', reason: failure, index: 1 },
    ]);
  });

  it('a source that throws still ends the run with its error, after the outcomes before it', async () => {
    const failure = new Error('source');
    function* items() {
      yield 1;
      throw failure;
    }
    const { values, error } = await drain(limitedMapSettled(items(), 1, (n) => n));
    expect(values).toEqual([{ status: 'fulfilled', value: 1, index: 0 }]);
    expect(error).toBe(failure);
  });

  it('bad arguments throw a TypeError naming the argument, value and type', () => {
    expect(() => limitedMapSettled([], 0, (n) => n)).toThrow(
      'Expected `limit` to be an integer >= 1 or Infinity, got `0` (number)',
    );
    expect(() => limitedMapSettled([], 1, 'x' as never)).toThrow(
      'Expected `mapper` to be a function, got `"x"` (string)',
    );
    expect(() => limitedMapSettled(3 as never, 1, (n) => n)).toThrow(
      'Expected `items` to be an iterable or async iterable, got `3` (number)',
    );
    expect(() => limitedMapSettled([], 1, (n) => n, { buffer: -1 })).toThrow(TypeError);
  });
});
