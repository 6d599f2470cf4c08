// Regression tests for the engine defects of issue 10: each failed before its fix.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { limitedAsCompleted, limitedAsSettled, limitedMap, rateLimit, slotsFrom, type TaskContext } from '@lac/core';
import { Script, deferred, drain, flush, ticks, trackedSource } from './helpers.js';

/** A task that settles at once and hands its context out, to be read only later. */
function lateReader(contexts: TaskContext[], gate?: Promise<unknown>) {
  return (context: TaskContext) => {
    contexts.push(context);
    return gate === undefined ? Promise.resolve(context.index) : gate.then(() => context.index);
  };
}

describe('defect 1: a task in flight at a stop sees its signal aborted whenever it first reads it', () => {
  it('after a failure, even when the task reads its signal only after its promise settled', async () => {
    const contexts: TaskContext[] = [];
    const gate = deferred();
    const failure = new Error('boom');
    const failing = deferred();
    const tasks = [lateReader(contexts, gate.promise), () => failing.promise];
    const iterator = limitedAsCompleted(tasks, 2);
    const pending = iterator.next().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    await flush();
    failing.reject(failure);
    expect(await pending).toBe(failure);
    gate.resolve(undefined);
    await flush();
    // Task 0 was in flight when task 1 failed; it settled since, and reads its signal only now.
    expect(contexts[0]!.signal.aborted).toBe(true);
    expect((contexts[0]!.signal.reason as Error).name).toBe('AbortError');
    expect((contexts[0]!.signal.reason as Error & { cause: unknown }).cause).toBe(failure);
  });

  it('after return(), and after options.signal aborts', async () => {
    for (const stop of ['return', 'signal'] as const) {
      const contexts: TaskContext[] = [];
      const gate = deferred();
      const controller = new AbortController();
      const iterator = limitedAsCompleted([lateReader(contexts, gate.promise), lateReader(contexts, gate.promise)], 2, {
        signal: controller.signal,
      });
      const pending = iterator.next().catch((caught: unknown) => caught);
      await flush();
      if (stop === 'return') await iterator.return();
      else controller.abort('stop');
      await pending;
      gate.resolve(undefined);
      await flush();
      expect(contexts.map((context) => context.signal.aborted)).toEqual([true, true]);
    }
  });

  it('a task that settled before the stop does not see an abort', async () => {
    const contexts: TaskContext[] = [];
    const hanging = (context: TaskContext) => {
      contexts.push(context);
      return new Promise<number>(() => {});
    };
    const iterator = limitedAsCompleted([lateReader(contexts), hanging], 2);
    expect(await iterator.next()).toEqual({ value: 0, done: false });
    await iterator.return();
    expect(contexts[0]!.signal.aborted).toBe(false);
    expect(contexts[1]!.signal.aborted).toBe(true);
  });
});

describe('defect 3: with timeout, the bound holds: a timed-out task keeps its slot until it settles', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });

  it('limit 2, 20 tasks that ignore their signal, timeout 10: never more than 2 run at once', async () => {
    const script = new Script({ readsSignal: false });
    const iterator = limitedAsSettled(script.tasks(20), 2, { timeout: 10 });
    const outcomes: unknown[] = [];
    const consumer = (async () => {
      for await (const outcome of iterator) outcomes.push(outcome);
    })();
    await ticks();
    for (let round = 0; round < 10; round++) {
      expect(script.pending()).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(10);
      // Both timed out: their TimeoutErrors are delivered, but nothing new starts while they run.
      expect(script.pending()).toHaveLength(2);
      expect(iterator.stats).toMatchObject({ running: 2, timedOutRunning: 2 });
      for (const id of script.pending()) script.resolve(id, id);
      await ticks();
    }
    await consumer;
    expect(script.peak).toBe(2);
    expect(script.started).toHaveLength(20);
    expect(outcomes).toHaveLength(20);
    expect(outcomes.every((outcome) => (outcome as { status: string }).status === 'rejected')).toBe(true);
    expect(iterator.stats).toMatchObject({ running: 0, timedOutRunning: 0, failed: 20, completed: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the TimeoutError is delivered at the deadline, while the task still runs', async () => {
    const script = new Script({ readsSignal: false });
    const iterator = limitedAsSettled(script.tasks(2), 1, { timeout: 10 });
    const first = iterator.next();
    await ticks();
    await vi.advanceTimersByTimeAsync(10);
    expect((await first).value).toMatchObject({ status: 'rejected', index: 0, reason: { name: 'TimeoutError' } });
    expect(script.contexts.get(0)!.signal.aborted).toBe(true);
    expect(script.started).toEqual([0]);
    script.resolve(0, 0);
    await ticks();
    expect(script.started).toEqual([0, 1]);
    script.resolve(1, 1);
    expect((await drain(iterator)).values).toEqual([{ status: 'fulfilled', value: 1, index: 1 }]);
  });
});

describe('defect 4: a thenable whose then throws fails that task with the thrown error', () => {
  const thrown = new Error('then threw');
  const hostile = {
    'a throwing then getter': () => ({
      get then(): never {
        throw thrown;
      },
    }),
    'a then that throws': () => ({
      then(): never {
        throw thrown;
      },
    }),
    'a promise whose then is overridden to throw': () => {
      const promise = new Promise(() => {});
      Object.defineProperty(promise, 'then', {
        value() {
          throw thrown;
        },
      });
      return promise;
    },
  };
  for (const [name, make] of Object.entries(hostile)) {
    it(`${name}: limitedAsCompleted rejects with it, limitedAsSettled delivers it and ends`, async () => {
      const failFast = limitedAsCompleted([() => make()], 1);
      expect((await drain(failFast)).error).toBe(thrown);
      expect(failFast.stats).toMatchObject({ running: 0, failed: 1 });
      const settled = limitedAsSettled([() => make(), () => 2], 1);
      const { values, isThrown } = await drain(settled);
      expect(isThrown).toBe(false);
      expect(values).toEqual([
        { status: 'rejected', reason: thrown, index: 0 },
        { status: 'fulfilled', value: 2, index: 1 },
      ]);
    });
  }
});

describe("defect 5: nothing a source's return() does surfaces unhandled", () => {
  it('a sync iterator whose return() gives a rejected promise: the rejection is handled', async () => {
    let returns = 0;
    const source: Iterable<() => number> = {
      [Symbol.iterator]() {
        return {
          next: () => ({ value: () => 1, done: false }),
          return: () => {
            returns++;
            return Promise.reject(new Error('return rejected')) as unknown as IteratorResult<() => number>;
          },
        };
      },
    };
    const iterator = limitedAsCompleted(source, 2);
    expect(await iterator.next()).toEqual({ value: 1, done: false });
    await iterator.return();
    await flush(3);
    expect(returns).toBe(1);
    // test/setup.ts asserts no unhandled rejection.
  });

  it('a source whose return getter throws, a sync return() that throws: the run still ends cleanly', async () => {
    for (const kind of ['getter', 'throws'] as const) {
      const iterator: Iterator<() => number> = { next: () => ({ value: () => 1, done: false }) };
      if (kind === 'getter') {
        Object.defineProperty(iterator, 'return', {
          get() {
            throw new Error('return getter');
          },
        });
      } else {
        iterator.return = () => {
          throw new Error('return threw');
        };
      }
      const run = limitedAsCompleted({ [Symbol.iterator]: () => iterator }, 1);
      expect(await run.next()).toEqual({ value: 1, done: false });
      expect(await run.return()).toEqual({ value: undefined, done: true });
    }
  });
});

describe('defect 6: limit Infinity over an endless sync source does not freeze the event loop', () => {
  it('a pump pass yields to the event loop after a bounded number of starts', async () => {
    const { source, state } = trackedSource(() => () => new Promise<number>(() => {}), 200_000);
    const iterator = limitedAsCompleted(source, Number.POSITIVE_INFINITY);
    const pending = iterator.next();
    // Before the fix the first next() pulled the whole (here finite, really endless) source synchronously.
    const pulledAtOnce = state.pulled;
    expect(pulledAtOnce).toBeGreaterThan(0);
    expect(pulledAtOnce).toBeLessThan(200_000);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
    // And it resumes on a later turn.
    expect(state.pulled).toBeGreaterThan(pulledAtOnce);
    await iterator.return();
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
    expect(state.isFinallyRun).toBe(true);
  });

  it('the yield timer is cleared when the run stops', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    // Finite (but large) so that a regression fails the test instead of hanging it.
    const { source } = trackedSource(() => () => new Promise<number>(() => {}), 200_000);
    const iterator = limitedAsCompleted(source, Number.POSITIVE_INFINITY);
    void iterator.next();
    expect(vi.getTimerCount()).toBe(1);
    await iterator.return();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('defect 7: a slots.release() that fails delivers the result already earned, then fails the run', () => {
  for (const kind of ['throws', 'rejects'] as const) {
    it(`release ${kind}`, async () => {
      const failure = new Error(`release ${kind}`);
      let next = 0;
      const slots = {
        acquire: () => next++,
        release: () => {
          if (kind === 'throws') throw failure;
          return Promise.reject(failure);
        },
      };
      const iterator = limitedAsCompleted([() => 'earned', () => new Promise(() => {})], 1, {
        slots: slotsFrom(slots),
      });
      expect(await iterator.next()).toEqual({ value: 'earned', done: false });
      await expect(iterator.next()).rejects.toBe(failure);
      expect(await iterator.next()).toEqual({ value: undefined, done: true });
    });
  }
});

describe('defect 7, at the end of a run: a release that rejects fails the run instead of being lost', () => {
  it("the last task's release rejects: its result is delivered, then the run fails", async () => {
    const failure = new Error('last release rejects');
    let released = 0;
    const slots = {
      acquire: () => 'slot',
      // The task's release rejects; the slot taken for a next start, given back when the source ends, does not.
      release: () => (++released === 1 ? Promise.reject(failure) : Promise.resolve()),
    };
    const iterator = limitedAsCompleted([() => 1], 1, { slots: slotsFrom(slots) });
    const first = iterator.next();
    const second = iterator.next();
    expect(await first).toEqual({ value: 1, done: false });
    await expect(second).rejects.toBe(failure);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('the slot acquired for a start that never comes (the source is empty) is released, and its rejection fails the run', async () => {
    const failure = new Error('drop release rejects');
    const slots = { acquire: () => 'slot', release: () => Promise.reject(failure) };
    const iterator = limitedAsCompleted([], 1, { slots: slotsFrom(slots) });
    await expect(iterator.next()).rejects.toBe(failure);
  });
});

describe('a rejected promise item dropped after a stop is observed, never unhandled', () => {
  it('return() while a pull is pending; the pull then answers with a rejected promise', async () => {
    const pull = deferred<IteratorResult<Promise<number>>>();
    const source: AsyncIterable<Promise<number>> = {
      [Symbol.asyncIterator]: () => ({
        next: () => pull.promise,
        return: async () => ({ value: undefined, done: true }),
      }),
    };
    const iterator = limitedMap(source, 2, async (value: number) => value);
    const pending = iterator.next();
    await flush();
    const returned = iterator.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    pull.resolve({ value: Promise.reject(new Error('dropped item')), done: false });
    await returned;
    await flush();
    // test/setup.ts asserts that no rejection went unhandled.
    expect(iterator.stats.started).toBe(0);
  });
});

describe('a rejected promise item held for a rate window when the run stops is observed, never unhandled', () => {
  it('the first item fails the run while the second waits for the window', async () => {
    const first = new Error('item 0 rejected');
    const items = [Promise.reject(first), Promise.reject(new Error('item 1 rejected'))];
    const iterator = limitedMap(items, 2, async (value: number) => value, {
      rate: rateLimit({ limit: 1, interval: 60_000 }),
    });
    await expect(iterator.next()).rejects.toBe(first);
    await flush();
    // test/setup.ts asserts that no rejection went unhandled.
    expect(iterator.stats.started).toBeLessThanOrEqual(1);
  });
});

describe('defect 8: a run listens to options.signal only once it is iterated', () => {
  it('runs created and never iterated add no listener to a long-lived signal', async () => {
    const { getEventListeners } = await import('node:events').then(
      (events) => events as unknown as { getEventListeners: (target: EventTarget, type: string) => unknown[] },
    );
    const shutdown = new AbortController();
    const slotsSignal = new AbortController();
    const slots = { acquire: () => 0, release: () => {}, signal: slotsSignal.signal };
    const gate = deferred<number>();
    const runs = Array.from({ length: 1000 }, () =>
      limitedAsCompleted([() => gate.promise], 1, { signal: shutdown.signal, slots: slotsFrom(slots) }),
    );
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(slotsSignal.signal, 'abort')).toHaveLength(0);
    const pending = runs[0]!.next();
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
    expect(getEventListeners(slotsSignal.signal, 'abort')).toHaveLength(1);
    gate.resolve(1);
    expect(await pending).toEqual({ value: 1, done: false });
    expect(await runs[0]!.next()).toEqual({ value: undefined, done: true });
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(slotsSignal.signal, 'abort')).toHaveLength(0);
  });

  it('a signal that aborts between creation and the first next() starts nothing', async () => {
    const controller = new AbortController();
    const script = new Script();
    const { source, state } = trackedSource((i) => script.task(i));
    const iterator = limitedAsCompleted(source, 2, { signal: controller.signal });
    controller.abort('too late');
    await expect(iterator.next()).rejects.toBe('too late');
    expect(script.started).toEqual([]);
    expect(state.pulled).toBe(0);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('an already-aborted signal still starts nothing', async () => {
    const controller = new AbortController();
    controller.abort('before');
    const script = new Script();
    const iterator = limitedMap([1, 2], 2, (n, context) => script.task(n)(context), { signal: controller.signal });
    await expect(iterator.next()).rejects.toBe('before');
    expect(script.started).toEqual([]);
  });

  it('a slots.signal that aborts before the first next() fails the run without starting anything', async () => {
    const slotsSignal = new AbortController();
    const slots = { acquire: () => 0, release: () => {}, signal: slotsSignal.signal };
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(2), 2, { slots: slotsFrom(slots) });
    slotsSignal.abort('lost');
    await expect(iterator.next()).rejects.toBe('lost');
    expect(script.started).toEqual([]);
  });
});

describe('defect 9: validation checks every method the run uses', () => {
  it('a duck-typed signal without removeEventListener is a TypeError at call time', () => {
    const signal = { aborted: false, addEventListener() {} } as unknown as AbortSignal;
    expect(() => limitedAsCompleted([], 1, { signal })).toThrow(TypeError);
    expect(() => limitedAsCompleted([], 1, { signal })).toThrow(
      /Expected `options.signal` to be an AbortSignal, got `\[object Object\]` \(object\)/,
    );
    const slots = { acquire: () => 0, release() {}, signal };
    expect(() => limitedAsCompleted([], 1, { slots: slotsFrom(slots) })).toThrow(
      /Expected `source.signal` to be an AbortSignal/,
    );
  });
});

describe('defect 10: the iterator has throw()', () => {
  it('throw(error) stops the run as return() does, then rejects with that error', async () => {
    const script = new Script();
    const { source, state } = trackedSource((i) => script.task(i));
    const iterator = limitedAsCompleted(source, 2);
    const pending = iterator.next();
    await flush();
    const error = new Error('consumer failed');
    await expect(iterator.throw(error)).rejects.toBe(error);
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
    expect(script.signal(0).aborted).toBe(true);
    expect(script.signal(1).aborted).toBe(true);
    expect(state.isFinallyRun).toBe(true);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    await expect(iterator.throw(error)).rejects.toBe(error);
  });

  it('yield* delegation with throw(err) surfaces the consumer error, not a TypeError', async () => {
    const script = new Script();
    const { source, state } = trackedSource((i) => script.task(i));
    async function* delegate() {
      yield* limitedAsCompleted(source, 2);
    }
    const outer = delegate();
    const first = outer.next();
    await flush();
    script.resolve(0, 10);
    expect(await first).toEqual({ value: 10, done: false });
    const error = new Error('consumer failed');
    await expect(outer.throw(error)).rejects.toBe(error);
    expect(script.signal(1).aborted).toBe(true);
    expect(state.isFinallyRun).toBe(true);
  });
});

describe('defect 11: limitedMap awaits items that are promises before the mapper', () => {
  it('the mapper receives resolved values', async () => {
    const seen: unknown[] = [];
    const items = [Promise.resolve(1), 2, Promise.resolve(3)];
    const { values } = await drain(limitedMap(items, 2, (n) => (seen.push(n), (n as number) * 10), { ordered: true }));
    expect(values).toEqual([10, 20, 30]);
    expect(seen.sort()).toEqual([1, 2, 3]);
  });

  it("a rejected item is that item's failure: fail fast, or a rejected outcome in settled mode", async () => {
    const failure = new Error('item rejected');
    const mapper = vi.fn((n: number) => n);
    const run = limitedMap([Promise.resolve(1), Promise.reject(failure)], 1, mapper);
    const { values, error } = await drain(run);
    expect(values).toEqual([1]);
    expect(error).toBe(failure);
    expect(mapper).toHaveBeenCalledTimes(1);
  });

  it("an item whose then getter throws is that item's failure", async () => {
    const failure = new Error('then getter');
    const item = {
      get then(): never {
        throw failure;
      },
    };
    const { error } = await drain(limitedMap([item], 1, (n) => n));
    expect(error).toBe(failure);
  });
});

describe('return() after options.signal aborted', () => {
  it('in-flight tasks see signal.reason even when a listener added before the run called return()', async () => {
    const controller = new AbortController();
    const reason = new Error('shutdown');
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(2), 2, { signal: controller.signal });
    // Added before the run's own listener (which is added on the first next()).
    controller.signal.addEventListener('abort', () => void iterator.return());
    const pending = iterator.next();
    await flush();
    controller.abort(reason);
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
    expect(script.signal(0).reason).toBe(reason);
    expect(script.signal(1).reason).toBe(reason);
  });
});

describe('a source step whose done or value getter throws', () => {
  for (const isAsync of [false, true]) {
    for (const field of ['done', 'value'] as const) {
      it(`${isAsync ? 'async' : 'sync'} source, ${field} getter: the run fails with the thrown error, nothing unhandled`, async () => {
        const thrown = new Error(`${field} getter`);
        let pulls = 0;
        const step = () => {
          pulls++;
          if (pulls === 1) return { done: false, value: () => 1 };
          return Object.defineProperty({ done: false, value: () => 2 }, field, {
            get() {
              throw thrown;
            },
          });
        };
        const iterator = isAsync ? { next: async () => step() } : { next: step };
        const source = isAsync ? { [Symbol.asyncIterator]: () => iterator } : { [Symbol.iterator]: () => iterator };
        const run = limitedAsCompleted(source as Iterable<() => number>, 1);
        expect(await run.next()).toEqual({ value: 1, done: false });
        // next() returns a rejected promise; it does not throw synchronously.
        let pending: Promise<unknown> | undefined;
        expect(() => {
          pending = run.next();
        }).not.toThrow();
        await expect(pending).rejects.toBe(thrown);
        expect(await run.next()).toEqual({ value: undefined, done: true });
        expect(pulls).toBe(2);
      });
    }
  }
});
