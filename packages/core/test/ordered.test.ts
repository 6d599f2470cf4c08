import { describe, expect, it } from 'vitest';
import { limitedAsCompleted, limitedAsSettled, limitedMap } from '@lac/core';
import { Script, drain, flush, trackedSource } from './helpers.js';

describe('rule 3: ordered: true yields in source order', () => {
  it('yields in source order whatever order the tasks settle in', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(6), 6, { ordered: true });
    const results = drain(iterator);
    await flush();
    for (const id of [5, 2, 4, 0, 3, 1]) {
      script.resolve(id, id * 10);
      await flush();
    }
    expect((await results).values).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it('a slow first task holds back delivery: nothing is yielded until it settles', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(3), 3, { ordered: true });
    let yielded = 0;
    const results = (async () => {
      const out: number[] = [];
      for await (const value of iterator) {
        yielded++;
        out.push(value);
      }
      return out;
    })();
    await flush();
    script.resolve(1, 1);
    script.resolve(2, 2);
    await flush();
    expect(yielded).toBe(0);
    expect(iterator.stats.buffered).toBe(2);
    script.resolve(0, 0);
    expect(await results).toEqual([0, 1, 2]);
  });

  it.each([
    [1, 0],
    [2, 0],
    [2, 1],
    [3, 3],
  ])(
    'keeps the bound and the window while a slow early task holds results back (limit %i, buffer %i)',
    async (limit, buffer) => {
      const script = new Script();
      const { source, state } = trackedSource((i) => script.task(i), 50);
      const iterator = limitedAsCompleted(source, limit, { ordered: true, buffer });
      const first = iterator.next();
      await flush();
      // Everything but task 0 settles as soon as it starts.
      for (let round = 0; round < 20; round++) {
        for (const id of script.pending()) if (id !== 0) script.resolve(id, id);
        await flush();
        expect(script.running).toBeLessThanOrEqual(limit);
        expect(iterator.stats.running + iterator.stats.buffered).toBeLessThanOrEqual(limit + buffer);
      }
      // Task 0 blocks delivery, so exactly limit + buffer tasks have started, however long we wait.
      expect(state.pulled).toBe(limit + buffer);
      expect(script.peak).toBeLessThanOrEqual(limit);
      script.resolve(0, 0);
      expect(await first).toEqual({ value: 0, done: false });
      let isDone = false;
      const rest = drain(iterator).finally(() => {
        isDone = true;
      });
      while (!isDone) {
        for (const id of script.pending()) script.resolve(id, id);
        await flush();
      }
      expect(script.peak).toBeLessThanOrEqual(limit);
      expect((await rest).values).toEqual([...Array(49).keys()].map((k) => k + 1));
    },
  );

  it('limitedAsSettled with ordered delivers settled records in source order, failures included', async () => {
    const script = new Script();
    const iterator = limitedAsSettled(script.tasks(3), 3, { ordered: true });
    const results = drain(iterator);
    await flush();
    const error = new Error('middle');
    script.resolve(2, 2);
    script.reject(1, error);
    script.resolve(0, 0);
    expect((await results).values).toEqual([
      { status: 'fulfilled', value: 0, index: 0 },
      { status: 'rejected', reason: error, index: 1 },
      { status: 'fulfilled', value: 2, index: 2 },
    ]);
  });

  it('limitedMap with ordered maps a sync iterable in source order', async () => {
    const delays = [3, 1, 2, 0];
    const { values } = await drain(
      limitedMap(
        delays,
        4,
        async (delay, { index }) => {
          for (let i = 0; i < delay * 5; i++) await Promise.resolve();
          return index;
        },
        { ordered: true },
      ),
    );
    expect(values).toEqual([0, 1, 2, 3]);
  });

  it('fail fast in ordered mode: the contiguous results before the failure come out, then the error', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(5), 5, { ordered: true });
    const results = drain(iterator);
    await flush();
    const error = new Error('task 3 failed');
    script.resolve(0, 0);
    script.resolve(1, 1);
    script.resolve(4, 4);
    await flush();
    script.reject(3, error);
    const { values, error: thrown } = await results;
    // 0 and 1 were deliverable before the failure; 4 was held back behind the still-running 2, so it is dropped.
    expect(values).toEqual([0, 1]);
    expect(thrown).toBe(error);
    expect(script.signal(2).aborted).toBe(true);
  });
});
