/**
 * `drain()` (stop taking work, finish what runs) and `setLimit()` (a limit that changes), with
 * deferred tasks and fc.scheduler(): no wall clock.
 */
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { limitedAsCompleted, limitedAsSettled, limitedMap, perKey, rateLimit, type Task } from '@lac/core';
import { assertProperty, drain, flush, ManualAsyncSource, Script, ticks, trackedSource } from './helpers.js';

/** `perKey()`, for the property below whose `perKey` is a number. */
const byKey = perKey;

describe('drain()', () => {
  it('delivers every running task result, starts nothing new, closes the source and ends normally without aborting', async () => {
    const script = new Script();
    const { source, state } = trackedSource((i) => script.task(i));
    const iterator = limitedAsCompleted(source, 3);
    const first = iterator.next();
    await flush();
    expect(script.started).toEqual([0, 1, 2]);
    iterator.drain();
    expect(state.isReturned).toBe(true);
    expect(state.isFinallyRun).toBe(true);
    script.resolve(1, 10);
    expect(await first).toEqual({ value: 10, done: false });
    script.resolve(0, 0);
    script.resolve(2, 20);
    expect(await drain(iterator)).toEqual({ values: [0, 20], error: undefined, isThrown: false });
    expect(script.started).toEqual([0, 1, 2]);
    expect([0, 1, 2].map((id) => script.signal(id).aborted)).toEqual([false, false, false]);
    expect(iterator.stats).toMatchObject({ started: 3, running: 0, completed: 3 });
  });

  it('an item whose async pull was pending at drain() never starts, and the source is closed once that pull settles', async () => {
    const source = new ManualAsyncSource<Task<number>>();
    const calls: number[] = [];
    const iterator = limitedAsCompleted(source, 2);
    const pending = iterator.next();
    await ticks();
    source.yieldValue(() => {
      calls.push(0);
      return 0;
    });
    await ticks();
    expect(source.pulls.length).toBe(2);
    iterator.drain();
    expect(source.returnCalls).toBe(0);
    source.yieldValue(() => {
      calls.push(1);
      return 1;
    });
    await ticks();
    expect(source.returnCalls).toBe(1);
    expect(source.isReturnedWhilePulling).toBe(false);
    expect(await pending).toEqual({ value: 0, done: false });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(calls).toEqual([0]);
  });

  it('before the first next(): nothing is pulled and the run ends at once', async () => {
    const { source, state } = trackedSource((i) => () => i);
    const iterator = limitedMap(source, 2, (task) => task());
    iterator.drain();
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(state.pulled).toBe(0);
    expect(state.isReturned).toBe(true);
  });

  it('drops an item held back by a rate window and clears the rate timer', async () => {
    vi.useFakeTimers();
    try {
      const iterator = limitedAsCompleted([() => 0, () => 1, () => 2], 2, {
        rate: rateLimit({ limit: 1, interval: 1000 }),
      });
      expect(await iterator.next()).toEqual({ value: 0, done: false });
      expect(iterator.stats.waiting).toBe(1);
      iterator.drain();
      expect(iterator.stats.waiting).toBe(0);
      expect(await iterator.next()).toEqual({ value: undefined, done: true });
      expect(vi.getTimerCount()).toBe(0);
      expect(iterator.stats.started).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a rejected promise item held for a rate window when drain() drops it is observed, not unhandled', async () => {
    vi.useFakeTimers();
    try {
      function* items() {
        yield Promise.resolve(1);
        yield Promise.reject(new Error('dropped'));
      }
      const iterator = limitedMap(items(), 2, (n) => n, { rate: rateLimit({ limit: 1, interval: 1000 }) });
      expect(await iterator.next()).toEqual({ value: 1, done: false });
      expect(iterator.stats.waiting).toBe(1);
      iterator.drain();
      expect(await iterator.next()).toEqual({ value: undefined, done: true });
    } finally {
      vi.useRealTimers();
    }
  });

  it('after drain(), return() still aborts the tasks that run', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(4), 2);
    void iterator.next();
    await flush();
    iterator.drain();
    await iterator.return();
    expect(script.signal(0).aborted).toBe(true);
    expect(script.signal(1).aborted).toBe(true);
    expect(script.started).toEqual([0, 1]);
  });

  it('property: drain delivers every in-flight result and starts nothing new (random limits, settles and drain points)', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 8 }),
        fc.boolean(),
        fc.scheduler(),
        async (limit, count, drainAfter, ordered, s) => {
          const started: number[] = [];
          const tasks = Array.from(
            { length: count },
            (_, i): Task<number> =>
              () => {
                started.push(i);
                return s.schedule(Promise.resolve(i), `task ${i}`);
              },
          );
          const iterator = limitedAsSettled(tasks, limit, { ordered });
          const delivered: number[] = [];
          let startedAtDrain: number[] | undefined;
          let isDone = false;
          const consume = (async () => {
            for (;;) {
              await s.schedule(Promise.resolve(), 'consumer step');
              const step = await iterator.next();
              if (step.done) break;
              delivered.push(step.value.index);
              if (delivered.length === drainAfter && startedAtDrain === undefined) {
                startedAtDrain = [...started];
                iterator.drain();
              }
            }
            isDone = true;
          })();
          for (let round = 0; round < 50 && !isDone; round++) await s.waitIdle();
          await consume;
          const expected = startedAtDrain ?? started;
          expect(started).toEqual(expected);
          expect([...delivered].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
          return true;
        },
      ),
      150,
    );
  });
});

describe('setLimit()', () => {
  it('raising the limit starts tasks at once; stats.limit shows it', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(6), 1, { buffer: 10 });
    void iterator.next();
    await flush();
    expect(script.started).toEqual([0]);
    iterator.setLimit(3);
    expect(script.started).toEqual([0, 1, 2]);
    expect(iterator.stats.limit).toBe(3);
    await iterator.return();
  });

  it('lowering the limit starts nothing new until fewer than the new limit run', async () => {
    const script = new Script();
    const iterator = limitedAsSettled(script.tasks(6), 3, { buffer: 10 });
    void iterator.next();
    await flush();
    expect(script.started).toEqual([0, 1, 2]);
    iterator.setLimit(1);
    script.resolve(0, 0);
    await flush();
    expect(script.started).toEqual([0, 1, 2]);
    script.resolve(1, 1);
    await flush();
    expect(script.started).toEqual([0, 1, 2]);
    script.resolve(2, 2);
    await flush();
    expect(script.started).toEqual([0, 1, 2, 3]);
    expect(script.peak).toBe(3);
    await iterator.return();
  });

  it.each([0, -1, 1.5, Number.NaN, '2', null])('rejects %s with a TypeError naming `limit`', (value) => {
    const iterator = limitedAsCompleted([() => 1], 1);
    expect(() => iterator.setLimit(value as number)).toThrow(TypeError);
    expect(() => iterator.setLimit(value as number)).toThrow(/Expected `limit` to be an integer >= 1 or Infinity, got/);
    expect(iterator.stats.limit).toBe(1);
  });

  it('property: after setLimit(n) returns, no task starts while n or more run', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 6 })), { maxLength: 4 }),
        fc.integer({ min: 0, max: 20 }),
        fc.scheduler(),
        async (initial, changes, count, s) => {
          let running = 0;
          let limit = initial;
          let settledCount = 0;
          const violations: string[] = [];
          const pendingChanges = [...changes].sort((a, b) => a[0] - b[0]);
          const tasks = Array.from(
            { length: count },
            (_, i): Task<number> =>
              () => {
                running++;
                if (running > limit) violations.push(`task ${i} started with ${running} running, limit ${limit}`);
                return s.schedule(Promise.resolve(i), `task ${i}`).finally(() => {
                  running--;
                  settledCount++;
                });
              },
          );
          const iterator = limitedAsCompleted(tasks, initial);
          let isDone = false;
          const consume = (async () => {
            for (;;) {
              while (pendingChanges.length > 0 && pendingChanges[0]![0] <= settledCount) {
                const [, next] = pendingChanges.shift()!;
                // Tasks already running above the new limit keep running; only new starts are bounded.
                limit = Math.max(next, running);
                iterator.setLimit(next);
              }
              await s.schedule(Promise.resolve(), 'consumer step');
              const step = await iterator.next();
              if (step.done) break;
              // Once running drops to the current limit, the bound is the limit itself.
              if (running <= iterator.stats.limit) limit = iterator.stats.limit;
            }
            isDone = true;
          })();
          for (let round = 0; round < 50 && !isDone; round++) await s.waitIdle();
          await consume;
          expect(violations).toEqual([]);
          return true;
        },
      ),
      150,
    );
  });
});

describe('setPerKey()', () => {
  it('raising perKey starts waiting items of keys with room at once; lowering it starts nothing of a key until fewer run', async () => {
    const script = new Script();
    const keyOf = (index: number): string => (index < 4 ? 'a' : 'b');
    const iterator = limitedAsSettled(script.tasks(6), 6, {
      perKey: perKey((_: Task<number>, index) => keyOf(index), 1),
      buffer: 10,
    });
    void iterator.next();
    await flush();
    expect(script.started).toEqual([0, 4]);
    iterator.setPerKey(3);
    // Ready keys take turns: a, b, a.
    expect(script.started).toEqual([0, 4, 1, 5, 2]);
    iterator.setPerKey(1);
    script.resolve(0, 0);
    await flush();
    expect(script.started).toEqual([0, 4, 1, 5, 2]);
    script.resolve(1, 1);
    await flush();
    expect(script.started).toEqual([0, 4, 1, 5, 2]);
    script.resolve(2, 2);
    await flush();
    expect(script.started).toEqual([0, 4, 1, 5, 2, 3]);
    await iterator.return();
  });

  it('replaces a perKey function with a number', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(4), 4, {
      perKey: perKey(
        () => 'same',
        () => 1,
      ),
    });
    void iterator.next();
    await flush();
    expect(script.started).toEqual([0]);
    iterator.setPerKey(Number.POSITIVE_INFINITY);
    expect(script.started).toEqual([0, 1, 2, 3]);
    await iterator.return();
  });

  it.each([0, -1, 1.5, Number.NaN, '2', null])('rejects %s with a TypeError naming `perKey`', (value) => {
    const iterator = limitedAsCompleted([() => 1], 1, { perKey: perKey(() => 1) });
    expect(() => iterator.setPerKey(value as number)).toThrow(TypeError);
    expect(() => iterator.setPerKey(value as number)).toThrow(
      /Expected `perKey` to be an integer >= 1 or Infinity, got/,
    );
  });

  it('a run without options.perKey: a TypeError that says so', () => {
    const iterator = limitedAsCompleted([() => 1], 1);
    expect(() => iterator.setPerKey(2)).toThrow(
      new TypeError('Expected a run made with `options.perKey` to change `perKey`, got a run without `options.perKey`'),
    );
  });

  it('property: after setPerKey(n) returns, no task of a key starts while n or more of it run, nor while limit run', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 4 })), { maxLength: 4 }),
        fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 20 }),
        fc.scheduler(),
        async (limit, initial, changes, keys, s) => {
          const running = new Map<string, number>();
          let total = 0;
          let perKey = initial;
          let settledCount = 0;
          const violations: string[] = [];
          const pendingChanges = [...changes].sort((a, b) => a[0] - b[0]);
          const tasks = keys.map(
            (key, i): Task<number> =>
              () => {
                const now = (running.get(key) ?? 0) + 1;
                running.set(key, now);
                total++;
                // Tasks of a key already running above a lowered perKey keep running; only new starts are bounded.
                if (now > perKey)
                  violations.push(`task ${i} of ${key} started with ${now} of it running, perKey ${perKey}`);
                if (total > limit) violations.push(`task ${i} started with ${total} running, limit ${limit}`);
                return s.schedule(Promise.resolve(i), `task ${i}`).finally(() => {
                  running.set(key, running.get(key)! - 1);
                  total--;
                  settledCount++;
                });
              },
          );
          const iterator = limitedAsCompleted(tasks, limit, {
            perKey: byKey((_: Task<number>, index) => keys[index]!, initial),
          });
          let target = initial;
          let isDone = false;
          let delivered = 0;
          const consume = (async () => {
            for (;;) {
              while (pendingChanges.length > 0 && pendingChanges[0]![0] <= settledCount) {
                const [, next] = pendingChanges.shift()!;
                target = next;
                perKey = Math.max(next, ...running.values(), 0);
                iterator.setPerKey(next);
              }
              await s.schedule(Promise.resolve(), 'consumer step');
              const step = await iterator.next();
              if (step.done) break;
              delivered++;
              // Once every key runs at most the new value, the bound is the value itself.
              if (Math.max(0, ...running.values()) <= target) perKey = target;
            }
            isDone = true;
          })();
          for (let round = 0; round < 50 && !isDone; round++) await s.waitIdle();
          await consume;
          expect(violations).toEqual([]);
          expect(delivered).toBe(keys.length);
          return true;
        },
      ),
      150,
    );
  });
});
