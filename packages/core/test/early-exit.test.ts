import { describe, expect, it } from 'vitest';
import { limitedAsCompleted, limitedAsSettled, limitedMap, type Task } from '@lac/core';
import { ManualAsyncSource, Script, flush, trackedSource } from './helpers.js';

/** Runs a for-await loop over 100 script tasks and lets the test settle them; `body` decides when to stop. */
async function loopAndStop(stop: 'break' | 'return' | 'throw', form: 'completed' | 'settled' | 'map' = 'completed') {
  const script = new Script();
  const { source, state } = trackedSource((i) => (form === 'map' ? i : script.task(i)), 100);
  const iterator =
    form === 'completed'
      ? limitedAsCompleted(source as Iterable<Task<number>>, 3)
      : form === 'settled'
        ? limitedAsSettled(source as Iterable<Task<number>>, 3)
        : limitedMap(source as Iterable<number>, 3, (item, context) => script.task(item)(context));
  const seen: unknown[] = [];
  const bodyError = new Error('loop body threw');
  const loop = (async () => {
    for await (const value of iterator as AsyncIterable<unknown>) {
      seen.push(value);
      if (seen.length === 2) {
        if (stop === 'break') break;
        if (stop === 'throw') throw bodyError;
        await (iterator as AsyncIterator<unknown>).return!();
      }
    }
  })();
  await flush();
  script.resolve(1, 1);
  await flush();
  script.resolve(0, 0);
  const outcome = await loop.then(
    () => undefined,
    (error: unknown) => error,
  );
  return { script, state, seen, outcome, bodyError, iterator };
}

describe('rule 7: early exit', () => {
  it.each(['break', 'return', 'throw'] as const)(
    'on %s: the generator finally runs, in-flight signals abort, no new task starts',
    async (stop) => {
      const { script, state, seen, outcome, bodyError, iterator } = await loopAndStop(stop);
      expect(seen).toEqual([1, 0]);
      expect(outcome).toBe(stop === 'throw' ? bodyError : undefined);
      expect(state.isReturned).toBe(true);
      expect(state.isFinallyRun).toBe(true);
      const startedAtExit = script.started.length;
      const inFlight = script.pending();
      expect(inFlight.length).toBeGreaterThan(0);
      for (const id of inFlight) {
        expect(script.signal(id).aborted).toBe(true);
        expect((script.signal(id).reason as Error).name).toBe('AbortError');
      }
      // Letting them settle late (even by rejecting) starts nothing and surfaces nothing.
      for (const id of inFlight) script.reject(id, new Error(`late ${id}`));
      await flush();
      expect(script.started.length).toBe(startedAtExit);
      expect(script.calls.size).toBe(startedAtExit);
      expect(await iterator.next()).toEqual({ value: undefined, done: true });
    },
  );

  it.each(['settled', 'map'] as const)('limited%s cleans up the same way on break', async (form) => {
    const { script, state } = await loopAndStop('break', form);
    expect(state.isFinallyRun).toBe(true);
    for (const id of script.pending()) expect(script.signal(id).aborted).toBe(true);
  });

  it('return() called from inside the source generator: the pulled item never starts and the finally runs', async () => {
    const script = new Script();
    let isFinallyRun = false;
    let iterator: ReturnType<typeof limitedAsCompleted<number>> | undefined;
    let returned: Promise<unknown> | undefined;
    function* source() {
      try {
        for (let i = 0; ; i++) {
          if (i === 3) returned = iterator!.return();
          yield script.task(i);
        }
      } finally {
        isFinallyRun = true;
      }
    }
    iterator = limitedAsCompleted(source(), 4);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(await returned).toEqual({ value: undefined, done: true });
    expect(script.started).toEqual([0, 1, 2]);
    expect(isFinallyRun).toBe(true);
    for (const id of [0, 1, 2]) expect(script.signal(id).aborted).toBe(true);
  });

  it('return() resolves { value, done: true }, and drops buffered results', async () => {
    const iterator = limitedAsCompleted([() => 1, () => 2, () => 3], 3);
    expect(await iterator.next()).toEqual({ value: 1, done: false });
    expect(iterator.stats.buffered).toBe(2);
    expect(await iterator.return('bye')).toEqual({ value: 'bye', done: true });
    expect(iterator.stats.buffered).toBe(0);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(await iterator.return()).toEqual({ value: undefined, done: true });
  });

  it('return() before the first next() closes the source without pulling it', async () => {
    const { source, state } = trackedSource(() => () => 1);
    const iterator = limitedAsCompleted(source, 2);
    await iterator.return();
    expect(state.pulled).toBe(0);
    expect(state.isReturned).toBe(true);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('return() while next() is pending resolves that next() as done', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(3), 2);
    const pending = iterator.next();
    await flush();
    await iterator.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(script.signal(0).aborted).toBe(true);
    expect(script.signal(1).aborted).toBe(true);
  });

  it('return() after the run failed swallows the undelivered error', async () => {
    const iterator = limitedAsCompleted([() => 1, () => Promise.reject(new Error('x'))], 2);
    expect(await iterator.next()).toEqual({ value: 1, done: false });
    await flush();
    expect(await iterator.return()).toEqual({ value: undefined, done: true });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('a task that reads its signal only after the exit sees it already aborted', async () => {
    const script = new Script({ readsSignal: false });
    const iterator = limitedAsCompleted(script.tasks(2), 2);
    void iterator.next();
    await flush();
    await iterator.return();
    expect(script.signal(0).aborted).toBe(true);
    expect((script.signal(1).reason as Error).name).toBe('AbortError');
  });

  it('a task that settled before the exit keeps a signal that never aborts', async () => {
    const script = new Script({ readsSignal: false });
    const iterator = limitedAsCompleted(script.tasks(2), 2);
    const first = iterator.next();
    await flush();
    script.resolve(0, 0);
    await first;
    await iterator.return();
    expect(script.signal(0).aborted).toBe(false);
    expect(script.signal(1).aborted).toBe(true);
  });

  it('an async source with no pull outstanding is return()ed at once, and awaited', async () => {
    let isFinallyRun = false;
    const script = new Script();
    async function* source() {
      try {
        for (let i = 0; ; i++) yield script.task(i);
      } finally {
        await Promise.resolve();
        isFinallyRun = true;
      }
    }
    const iterator = limitedAsCompleted(source(), 2);
    const first = iterator.next();
    await flush();
    script.resolve(0, 0);
    await first;
    await flush();
    // Both slots are busy again (tasks 1 and 2), so no pull is outstanding.
    expect(script.running).toBe(2);
    await iterator.return();
    expect(isFinallyRun).toBe(true);
  });

  it('an async source with a pull outstanding is return()ed once that pull settles, never twice and never concurrently', async () => {
    const script = new Script();
    const source = new ManualAsyncSource<Task<number>>();
    const iterator = limitedAsCompleted(source, 2);
    void iterator.next();
    await flush();
    source.yieldValue(script.task(0));
    await flush();
    expect(source.outstanding).toBe(1);
    await iterator.return();
    expect(script.signal(0).aborted).toBe(true);
    expect(source.returnCalls).toBe(0);
    let isLateTaskCalled = false;
    source.yieldValue(() => {
      isLateTaskCalled = true;
      return 1;
    });
    await flush();
    expect(source.returnCalls).toBe(1);
    expect(source.isReturnedWhilePulling).toBe(false);
    expect(isLateTaskCalled).toBe(false);
    expect(source.maxOutstanding).toBe(1);
  });

  it('a source whose return() rejects or throws does not make return() fail', async () => {
    const throwing = {
      [Symbol.iterator]: () => ({
        next: () => ({ value: () => new Promise(() => {}), done: false }),
        return: () => {
          throw new Error('sync return failed');
        },
      }),
    };
    const sync = limitedAsCompleted(throwing as Iterable<Task<never>>, 1);
    void sync.next();
    await flush();
    expect(await sync.return()).toEqual({ value: undefined, done: true });

    const rejecting = {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.resolve({ value: () => new Promise(() => {}), done: false }),
        return: () => Promise.reject(new Error('async return failed')),
      }),
    };
    const async = limitedAsCompleted(rejecting as AsyncIterable<Task<never>>, 1);
    void async.next();
    await flush();
    expect(await async.return()).toEqual({ value: undefined, done: true });
  });

  it('stats after a fail-fast stop: tasks in flight that reject on their aborted signal count in failed, one that ignores it and fulfils in completed', async () => {
    const failure = new Error('task 0');
    let rejectFirst!: (error: Error) => void;
    const tasks: Task<number>[] = [
      () => new Promise<number>((_, reject) => (rejectFirst = reject)),
      ...[1, 2].map(
        () =>
          ({ signal }: { signal: AbortSignal }) =>
            new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      ),
      ({ signal }: { signal: AbortSignal }) =>
        new Promise<number>((resolve) => signal.addEventListener('abort', () => resolve(3))),
    ];
    const run = limitedAsCompleted(tasks, 4);
    const first = run.next();
    await flush();
    expect(run.stats).toMatchObject({ started: 4, running: 4, completed: 0, failed: 0 });
    rejectFirst(failure);
    await expect(first).rejects.toBe(failure);
    await flush();
    expect(run.stats).toMatchObject({ started: 4, running: 0, completed: 1, failed: 3 });
  });
});
