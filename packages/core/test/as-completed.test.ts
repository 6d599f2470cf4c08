import { describe, expect, it } from 'vitest';
import { limitedAsCompleted, limitedAsSettled, limitedMap, type Task } from '@lac/core';
import { ManualAsyncSource, Script, drain, flush, trackedSource } from './helpers.js';

describe('rule 1: bound', () => {
  it.each([1, 2, 3, 7])('never runs more than limit tasks (limit %i, 20 tasks settled one by one)', async (limit) => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(20), limit);
    const consumed = drain(iterator);
    await flush();
    expect(script.running).toBe(limit);
    // Settle the newest running task each time, so slots free in an order unlike the start order.
    while (script.pending().length > 0) {
      const pending = script.pending();
      script.resolve(pending.at(-1)!, pending.at(-1)!);
      await flush();
      expect(script.running).toBeLessThanOrEqual(limit);
    }
    const { values } = await consumed;
    expect(script.peak).toBe(limit);
    expect([...values].sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
  });

  it('counts a task as running from its call until its promise settles, not until it is consumed', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(4), 2, { buffer: 2 });
    void iterator.next();
    await flush();
    expect(script.started).toEqual([0, 1]);
    script.resolve(0, 0);
    await flush();
    // The settled task's result was handed to the waiting next(), so the slot and the window are free again.
    expect(script.started).toEqual([0, 1, 2]);
    expect(iterator.stats).toMatchObject({ running: 2, started: 3, completed: 1 });
    await iterator.return();
  });

  it('limit Infinity starts every task of a finite source at once', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(50), Number.POSITIVE_INFINITY);
    void iterator.next();
    await flush();
    expect(script.running).toBe(50);
    await iterator.return();
  });

  it('synchronous tasks (plain values and thenables) count as settled at once', async () => {
    const thenable = { then: (resolve: (value: number) => void) => resolve(3) };
    const tasks: Task<number>[] = [
      () => 1,
      () => Promise.resolve(2),
      () => thenable as PromiseLike<number>,
      async () => 4,
    ];
    const { values } = await drain(limitedAsCompleted(tasks, 1));
    expect([...values].sort()).toEqual([1, 2, 3, 4]);
  });
});

describe('rule 2: laziness', () => {
  it.each([1, 3, 16])('with every task pending forever, exactly limit (%i) items were pulled', async (limit) => {
    const script = new Script();
    const { source, state } = trackedSource((i) => script.task(i));
    const iterator = limitedAsCompleted(source, limit);
    const pending = iterator.next();
    await flush(4);
    expect(state.pulled).toBe(limit);
    expect(script.started.length).toBe(limit);
    await iterator.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(state.isFinallyRun).toBe(true);
  });

  it('pulls nothing before the first next()', async () => {
    const { source, state } = trackedSource(() => () => 1);
    const iterator = limitedAsCompleted(source, 4);
    await flush();
    expect(state.pulled).toBe(0);
    await iterator.return();
  });

  it.each([
    [1, 0],
    [2, 0],
    [2, 3],
    [4, 4],
    [5, undefined],
  ])(
    'started-but-unconsumed never exceeds limit + buffer (limit %i, buffer %s) with a consumer that stops pulling',
    async (limit, buffer) => {
      const window = limit + (buffer ?? limit);
      const { source, state } = trackedSource((i) => () => i);
      const iterator = limitedAsCompleted(source, limit, buffer === undefined ? {} : { buffer });
      // One next() is consumed; then the consumer stops pulling while every task resolves at once.
      const first = await iterator.next();
      expect(first).toEqual({ value: 0, done: false });
      await flush();
      expect(state.pulled - 1).toBe(window);
      expect(iterator.stats).toEqual({
        limit,
        waiting: 0,
        retrying: 0,
        retries: 0,
        started: window + 1,
        running: 0,
        timedOutRunning: 0,
        completed: window + 1,
        failed: 0,
        buffered: window,
      });
      // Consuming one result frees one place: exactly one more task starts.
      await iterator.next();
      await flush();
      expect(state.pulled - 2).toBe(window);
      await iterator.return();
      expect(state.isFinallyRun).toBe(true);
    },
  );

  it('a slow consumer with async tasks: running + buffered stays within limit + buffer at every step', async () => {
    const script = new Script();
    const limit = 3;
    const buffer = 2;
    const iterator = limitedAsCompleted(script.tasks(30), limit, { buffer });
    void iterator.next();
    let consumed = 0;
    for (let step = 0; step < 200 && consumed < 30; step++) {
      await flush();
      expect(script.started.length - consumed).toBeLessThanOrEqual(limit + buffer + 1);
      expect(iterator.stats.running + iterator.stats.buffered).toBeLessThanOrEqual(limit + buffer);
      const pending = script.pending();
      if (pending.length > 0 && step % 3 !== 2) {
        script.resolve(pending[0]!, pending[0]!);
      } else {
        const next = await iterator.next();
        if (next.done) break;
        consumed++;
      }
    }
    await iterator.return();
  });

  it('an async source never has two next() calls outstanding, and is pulled only when a task can start', async () => {
    const script = new Script();
    const source = new ManualAsyncSource<Task<number>>();
    const iterator = limitedAsCompleted(source, 2);
    const results = drain(iterator);
    await flush();
    expect(source.pulls.length).toBe(1);
    source.yieldValue(script.task(0));
    await flush();
    expect(source.pulls.length).toBe(2);
    source.yieldValue(script.task(1));
    await flush();
    // Both slots are taken: no third pull until a task settles.
    expect(source.pulls.length).toBe(2);
    script.resolve(0, 10);
    await flush();
    expect(source.pulls.length).toBe(3);
    source.yieldValue(script.task(2));
    await flush();
    script.resolve(1, 11);
    script.resolve(2, 12);
    await flush();
    source.finish();
    const { values } = await results;
    expect(values).toEqual([10, 11, 12]);
    expect(source.maxOutstanding).toBe(1);
    // A source that finished is not closed again.
    expect(source.returnCalls).toBe(0);
  });

  it('accepts an async generator source and pulls it lazily', async () => {
    let pulled = 0;
    async function* generate() {
      for (let i = 0; i < 10; i++) {
        pulled++;
        yield () => i;
      }
    }
    const iterator = limitedAsCompleted(generate(), 2, { buffer: 0 });
    const first = await iterator.next();
    expect(first.done).toBe(false);
    await flush();
    expect(pulled).toBeLessThanOrEqual(3);
    const { values } = await drain(iterator);
    expect([first.value!, ...values].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
  });

  it.each([
    ['completion order', false],
    ['ordered', true],
  ])('runs a 1-million-item generator in flat memory, %s (heap sampled during the run)', async (_, ordered) => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const total = 1_000_000;
    const slow = (i: number) => {
      let promise = Promise.resolve();
      for (let k = 0; k < 30; k++) promise = promise.then();
      return promise.then(() => i);
    };
    function* generate() {
      // Every 8th task takes 30 more microtasks, so results finish out of order and ordered mode holds most back.
      for (let i = 0; i < total; i++) yield i % 8 === 0 ? () => slow(i) : () => Promise.resolve(i);
    }
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    let count = 0;
    let sum = 0;
    for await (const value of limitedAsCompleted(generate(), 16, { ordered })) {
      sum += value;
      count++;
      if (count % 200_000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - before);
      }
    }
    expect(count).toBe(total);
    expect(sum).toBe((total * (total - 1)) / 2);
    // Retaining anything per task (results, contexts, promises) would add tens of MB by 1M items.
    expect(peak).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('rule 3: completion order', () => {
  it('yields results in exactly the order the tasks settle', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(5), 5);
    const results = drain(iterator);
    await flush();
    for (const id of [3, 0, 4, 2, 1]) {
      script.resolve(id, id * 100);
      await flush();
    }
    expect((await results).values).toEqual([300, 0, 400, 200, 100]);
  });

  it('keeps settle order among results settled in the same microtask turn and buffered', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(4), 4);
    void iterator.next().then((step) => {
      expect(step.value).toBe('c');
    });
    await flush();
    script.resolve(2, 'c' as never);
    script.resolve(0, 'a' as never);
    script.resolve(3, 'd' as never);
    script.resolve(1, 'b' as never);
    await flush();
    expect((await drain(iterator)).values).toEqual(['a', 'd', 'b']);
  });
});

describe('rule 4: exactly once', () => {
  it('calls every task once and delivers every result once, with context.index = source position', async () => {
    const script = new Script();
    const iterator = limitedMap([...Array(40).keys()], 4, (item, context) => {
      expect(context.index).toBe(item);
      return script.task(item)(context);
    });
    const results = drain(iterator);
    for (let round = 0; round < 40; round++) {
      await flush();
      const pending = script.pending();
      // Settle a varying subset each round.
      for (const id of pending.filter((_, k) => (k + round) % 2 === 0)) script.resolve(id, id);
    }
    await flush();
    for (const id of script.pending()) script.resolve(id, id);
    const { values } = await results;
    expect([...values].sort((a, b) => a - b)).toEqual([...Array(40).keys()]);
    expect([...script.calls.values()].every((n) => n === 1)).toBe(true);
    expect(script.calls.size).toBe(40);
  });

  it('several next() calls outstanding at once each get a distinct result, then done', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(3), 3);
    const nexts = [iterator.next(), iterator.next(), iterator.next(), iterator.next()];
    await flush();
    script.resolve(1, 1);
    script.resolve(2, 2);
    script.resolve(0, 0);
    const steps = await Promise.all(nexts);
    expect(steps).toEqual([
      { value: 1, done: false },
      { value: 2, done: false },
      { value: 0, done: false },
      { value: undefined, done: true },
    ]);
  });

  it('an empty source is done at once', async () => {
    expect(await limitedAsCompleted([], 3).next()).toEqual({ value: undefined, done: true });
    expect(await limitedMap([], 3, () => 1).next()).toEqual({ value: undefined, done: true });
    expect(await limitedAsSettled([], 3).next()).toEqual({ value: undefined, done: true });
  });

  it('is its own async iterator and stays done after the end', async () => {
    const iterator = limitedAsCompleted([() => 1], 1);
    expect(iterator[Symbol.asyncIterator]()).toBe(iterator);
    expect(await drain(iterator)).toMatchObject({ values: [1], isThrown: false });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(await iterator.return()).toEqual({ value: undefined, done: true });
  });
});

describe('stats', () => {
  it('counts started, running, completed, failed and buffered as the run goes', async () => {
    const script = new Script();
    const iterator = limitedAsSettled(script.tasks(4), 2, { buffer: 2 });
    expect(iterator.stats).toEqual({
      limit: 2,
      waiting: 0,
      retrying: 0,
      retries: 0,
      started: 0,
      running: 0,
      timedOutRunning: 0,
      completed: 0,
      failed: 0,
      buffered: 0,
    });
    const first = iterator.next();
    await flush();
    expect(iterator.stats).toEqual({
      limit: 2,
      waiting: 0,
      retrying: 0,
      retries: 0,
      started: 2,
      running: 2,
      timedOutRunning: 0,
      completed: 0,
      failed: 0,
      buffered: 0,
    });
    script.resolve(0, 0);
    await flush();
    expect((await first).value).toEqual({ status: 'fulfilled', value: 0, index: 0 });
    expect(iterator.stats).toEqual({
      limit: 2,
      waiting: 0,
      retrying: 0,
      retries: 0,
      started: 3,
      running: 2,
      timedOutRunning: 0,
      completed: 1,
      failed: 0,
      buffered: 0,
    });
    script.reject(1, new Error('x'));
    script.resolve(2, 2);
    await flush();
    expect(iterator.stats).toEqual({
      limit: 2,
      waiting: 0,
      retrying: 0,
      retries: 0,
      started: 4,
      running: 1,
      timedOutRunning: 0,
      completed: 2,
      failed: 1,
      buffered: 2,
    });
    await iterator.next();
    expect(iterator.stats.buffered).toBe(1);
    script.resolve(3, 3);
    await flush();
    expect(iterator.stats).toEqual({
      limit: 2,
      waiting: 0,
      retrying: 0,
      retries: 0,
      started: 4,
      running: 0,
      timedOutRunning: 0,
      completed: 3,
      failed: 1,
      buffered: 2,
    });
    expect((await drain(iterator)).values.length).toBe(2);
    expect(iterator.stats.buffered).toBe(0);
  });

  it('returns a snapshot, not a live view', async () => {
    const iterator = limitedAsCompleted([() => 1], 1);
    const before = iterator.stats;
    await drain(iterator);
    expect(before.completed).toBe(0);
    expect(iterator.stats.completed).toBe(1);
  });
});

describe('limitedMap', () => {
  it('passes each item and a context to the mapper, from a sync or async iterable', async () => {
    async function* items() {
      yield 'a';
      yield 'b';
      yield 'c';
    }
    const seen: [string, number][] = [];
    const { values } = await drain(
      limitedMap(items(), 2, async (item, { index, signal }) => {
        expect(signal).toBeInstanceOf(AbortSignal);
        seen.push([item, index]);
        return item.toUpperCase();
      }),
    );
    expect([...values].sort()).toEqual(['A', 'B', 'C']);
    expect(seen).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
  });

  it('accepts items that are not functions, and strings as iterables', async () => {
    const { values } = await drain(limitedMap('xyz', 1, (char) => char + char));
    expect(values).toEqual(['xx', 'yy', 'zz']);
  });
});
