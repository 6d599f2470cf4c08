import { describe, expect, it } from 'vitest';
import { limitedAsCompleted, limitedAsSettled, limitedMap, type Task } from '@lac/core';
import { ManualAsyncSource, Script, drain, flush, trackedSource } from './helpers.js';

describe('rule 5: fail fast when a task rejects', () => {
  it('delivers results finished before the failure, then rejects with the same error object, then is done', async () => {
    const script = new Script();
    const { source, state } = trackedSource((i) => script.task(i), 100);
    const iterator = limitedAsCompleted(source, 3);
    const first = iterator.next();
    await flush();
    script.resolve(1, 1);
    expect(await first).toEqual({ value: 1, done: false });
    await flush();
    // The consumer stops pulling: 0 and 3 finish and wait in the buffer, then 2 fails.
    script.resolve(0, 0);
    script.resolve(3, 3);
    await flush();
    const startedBeforeFailure = script.started.length;
    const error = new Error('boom');
    script.reject(2, error);
    await flush();
    expect(script.started.length).toBe(startedBeforeFailure);
    expect(state.isReturned).toBe(true);
    expect(state.isFinallyRun).toBe(true);
    expect(await iterator.next()).toEqual({ value: 0, done: false });
    expect(await iterator.next()).toEqual({ value: 3, done: false });
    await expect(iterator.next()).rejects.toBe(error);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('aborts the signals of in-flight tasks with an AbortError whose cause is the failure', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(10), 4);
    const results = drain(iterator);
    await flush();
    const error = new Error('boom');
    script.reject(1, error);
    const { values, error: thrown } = await results;
    expect(values).toEqual([]);
    expect(thrown).toBe(error);
    for (const id of [0, 2, 3]) {
      const signal = script.signal(id);
      expect(signal.aborted).toBe(true);
      expect((signal.reason as Error).name).toBe('AbortError');
      expect((signal.reason as Error & { cause: unknown }).cause).toBe(error);
    }
    expect(script.signal(1).aborted).toBe(false);
    expect(script.started).toEqual([0, 1, 2, 3]);
  });

  it('late rejections and resolutions of aborted tasks are dropped, never unhandled', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(4), 4);
    const results = drain(iterator);
    await flush();
    script.reject(0, new Error('first'));
    await flush();
    script.reject(1, new Error('late 1'));
    script.reject(2, new Error('late 2'));
    script.resolve(3, 3);
    const { values, error } = await results;
    expect(values).toEqual([]);
    expect((error as Error).message).toBe('first');
    expect(iterator.stats).toMatchObject({ running: 0, completed: 1, failed: 3 });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('a result that finishes after the failure is not delivered, even when nobody was waiting yet', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(3), 3);
    const first = iterator.next();
    await flush();
    script.resolve(0, 0);
    expect(await first).toEqual({ value: 0, done: false });
    const error = new Error('boom');
    script.reject(1, error);
    await flush();
    script.resolve(2, 2);
    await flush();
    await expect(iterator.next()).rejects.toBe(error);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(iterator.stats).toMatchObject({ completed: 2, failed: 1, buffered: 0 });
  });

  it('a task that throws synchronously fails the run the same way', async () => {
    const error = new Error('sync throw');
    let laterCalls = 0;
    const { source, state } = trackedSource<Task<number>>((i) => {
      if (i === 2) {
        return () => {
          throw error;
        };
      }
      if (i > 2) laterCalls++;
      return () => i;
    }, 10);
    const { values, error: thrown } = await drain(limitedAsCompleted(source, 1));
    expect(values).toEqual([0, 1]);
    expect(thrown).toBe(error);
    expect(laterCalls).toBe(0);
    expect(state.isFinallyRun).toBe(true);
  });

  it('a mapper that throws or rejects fails limitedMap the same way', async () => {
    const error = new Error('mapper');
    const { values, error: thrown } = await drain(
      limitedMap([1, 2, 3, 4], 1, async (item) => {
        if (item === 3) throw error;
        return item;
      }),
    );
    expect(values).toEqual([1, 2]);
    expect(thrown).toBe(error);
  });

  it('non-Error rejection values come through as they are', async () => {
    const reason = { code: 42 };
    const { error } = await drain(limitedAsCompleted([() => Promise.reject(reason)], 1));
    expect(error).toBe(reason);
    const { error: undefinedReason, isThrown } = await drain(limitedAsCompleted([() => Promise.reject(undefined)], 1));
    expect(isThrown).toBe(true);
    expect(undefinedReason).toBeUndefined();
  });

  it('with several next() calls waiting, one rejects with the error and the rest end as done', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(2), 2);
    const waiting = [iterator.next(), iterator.next(), iterator.next()];
    const settled = Promise.allSettled(waiting);
    await flush();
    const error = new Error('x');
    script.reject(0, error);
    const outcomes = await settled;
    expect(outcomes[0]).toEqual({ status: 'rejected', reason: error });
    expect(outcomes[1]).toEqual({ status: 'fulfilled', value: { value: undefined, done: true } });
    expect(outcomes[2]).toEqual({ status: 'fulfilled', value: { value: undefined, done: true } });
  });
});

describe('rule 5: fail fast when the source fails', () => {
  it('a sync source that throws: in-flight tasks abort, finished results come first, then the same error', async () => {
    const script = new Script();
    const error = new Error('source broke');
    function* source() {
      yield script.task(0);
      yield script.task(1);
      yield script.task(2);
      throw error;
    }
    const iterator = limitedAsCompleted(source(), 3);
    const first = iterator.next();
    await flush();
    script.resolve(0, 0);
    expect(await first).toEqual({ value: 0, done: false });
    // Pulling again reaches the throw: task 1 and 2 are still running.
    const { values, error: thrown } = await drain(iterator);
    expect(values).toEqual([]);
    expect(thrown).toBe(error);
    expect(script.signal(1).aborted).toBe(true);
    expect(script.signal(2).aborted).toBe(true);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('a sync source whose next() throws is not return()ed (it is already finished)', async () => {
    let returnCalls = 0;
    const error = new Error('next threw');
    const source: Iterable<Task<number>> = {
      [Symbol.iterator]: () => ({
        next: () => {
          throw error;
        },
        return: () => {
          returnCalls++;
          return { value: undefined, done: true };
        },
      }),
    };
    const { error: thrown } = await drain(limitedAsCompleted(source, 2));
    expect(thrown).toBe(error);
    expect(returnCalls).toBe(0);
  });

  it('an async source that rejects: in-flight tasks abort, then next() rejects with the same error', async () => {
    const script = new Script();
    const source = new ManualAsyncSource<Task<number>>();
    const iterator = limitedAsCompleted(source, 3);
    const results = drain(iterator);
    await flush();
    source.yieldValue(script.task(0));
    await flush();
    script.resolve(0, 0);
    await flush();
    source.yieldValue(script.task(1));
    await flush();
    const error = new Error('async source broke');
    source.fail(error);
    const { values, error: thrown } = await results;
    expect(values).toEqual([0]);
    expect(thrown).toBe(error);
    expect(script.signal(1).aborted).toBe(true);
    expect(source.returnCalls).toBe(0);
    expect(source.maxOutstanding).toBe(1);
  });

  it('an async generator that throws after yielding fails the run with that error', async () => {
    const error = new Error('generator threw');
    async function* source() {
      yield () => 1;
      yield () => 2;
      throw error;
    }
    const { values, error: thrown } = await drain(limitedAsCompleted(source(), 1));
    expect(values).toEqual([1, 2]);
    expect(thrown).toBe(error);
  });

  it('a non-function item: no new task starts, in-flight tasks abort, the source is closed', async () => {
    const script = new Script();
    const { source, state } = trackedSource<Task<number>>((i) => (i === 2 ? (42 as never) : script.task(i)), 10);
    const iterator = limitedAsCompleted(source, 5);
    const { values, error } = await drain(iterator);
    expect(values).toEqual([]);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/got `42` \(number\) at index 2/);
    expect(script.started).toEqual([0, 1]);
    expect(script.signal(0).aborted).toBe(true);
    expect(script.signal(1).aborted).toBe(true);
    expect(state.isReturned).toBe(true);
    expect(state.isFinallyRun).toBe(true);
  });

  it('a task failure while an async pull is pending closes the source once the pull settles, and drops the pulled item', async () => {
    const script = new Script();
    const source = new ManualAsyncSource<Task<number>>();
    const iterator = limitedAsCompleted(source, 2);
    const results = drain(iterator);
    await flush();
    source.yieldValue(script.task(0));
    await flush();
    // The second pull is outstanding when task 0 fails.
    expect(source.outstanding).toBe(1);
    const error = new Error('fail during pull');
    script.reject(0, error);
    expect((await results).error).toBe(error);
    expect(source.returnCalls).toBe(0);
    let isLateTaskCalled = false;
    source.yieldValue(() => {
      isLateTaskCalled = true;
      return 1;
    });
    await flush();
    expect(isLateTaskCalled).toBe(false);
    expect(source.returnCalls).toBe(1);
    expect(source.isReturnedWhilePulling).toBe(false);
  });

  it.each([
    ['a sync', false],
    ['an async', true],
  ])(
    '%s source whose next() gives a non-object fails the run with a TypeError, not a hang or an unhandled rejection',
    async (_, isAsync) => {
      const script = new Script();
      let pulls = 0;
      const next = () => (pulls++ === 0 ? { value: script.task(0), done: false } : undefined);
      const source = isAsync
        ? { [Symbol.asyncIterator]: () => ({ next: async () => next() }) }
        : { [Symbol.iterator]: () => ({ next }) };
      const iterator = limitedAsCompleted(source as Iterable<Task<number>>, 2);
      const { values, error } = await drain(iterator);
      expect(values).toEqual([]);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe(
        "Expected the source's next() to return an object { value, done }, got `undefined` (undefined)",
      );
      expect(script.signal(0).aborted).toBe(true);
      expect(pulls).toBe(2);
    },
  );

  it('errors thrown by the source while it is being closed are swallowed', async () => {
    const error = new Error('task');
    function* source() {
      try {
        yield () => Promise.reject(error);
        yield () => 2;
      } finally {
        // eslint-disable-next-line no-unsafe-finally
        throw new Error('cleanup failed');
      }
    }
    const { error: thrown } = await drain(limitedAsCompleted(source(), 1));
    expect(thrown).toBe(error);
  });
});

describe('rule 6: limitedAsSettled never throws for task failures', () => {
  it('delivers each outcome as a settled record with its index, and the run goes on', async () => {
    const errors = [new Error('e1'), new Error('e3')];
    const tasks: Task<number>[] = [
      () => 0,
      () => {
        throw errors[0];
      },
      async () => 2,
      () => Promise.reject(errors[1]),
      () => 4,
    ];
    const { values, isThrown } = await drain(limitedAsSettled(tasks, 2, { ordered: true }));
    expect(isThrown).toBe(false);
    expect(values).toEqual([
      { status: 'fulfilled', value: 0, index: 0 },
      { status: 'rejected', reason: errors[0], index: 1 },
      { status: 'fulfilled', value: 2, index: 2 },
      { status: 'rejected', reason: errors[1], index: 3 },
      { status: 'fulfilled', value: 4, index: 4 },
    ]);
  });

  it('a failing task aborts no one: other tasks keep running with live signals', async () => {
    const script = new Script();
    const iterator = limitedAsSettled(script.tasks(3), 3);
    const results = drain(iterator);
    await flush();
    script.reject(0, new Error('x'));
    await flush();
    expect(script.signal(1).aborted).toBe(false);
    expect(script.signal(2).aborted).toBe(false);
    script.resolve(1, 1);
    script.resolve(2, 2);
    const { values } = await results;
    expect(values.map((record) => record.index)).toEqual([0, 1, 2]);
    expect(iterator.stats).toMatchObject({ completed: 2, failed: 1 });
  });

  it('a source that throws still ends the run with that error, after the outcomes before it', async () => {
    const error = new Error('source');
    function* source() {
      yield () => Promise.reject(new Error('task'));
      throw error;
    }
    const { values, error: thrown } = await drain(limitedAsSettled(source(), 1));
    expect(values).toHaveLength(1);
    expect(values[0]).toMatchObject({ status: 'rejected', index: 0 });
    expect(thrown).toBe(error);
  });
});
