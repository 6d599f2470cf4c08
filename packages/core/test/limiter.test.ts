import { describe, expect, it } from 'vitest';
import { createLimiter } from '@lac/core';
import { type Deferred, deferred, flush } from './helpers.js';

/** Functions for the limiter whose promises the test settles by hand; records starts and the peak running. */
function manual() {
  const started: number[] = [];
  const handles = new Map<number, Deferred<number>>();
  let running = 0;
  let peak = 0;
  const fn = (id: number) => {
    started.push(id);
    running++;
    peak = Math.max(peak, running);
    const handle = deferred<number>();
    handles.set(id, handle);
    handle.promise.then(
      () => running--,
      () => running--,
    );
    return handle.promise;
  };
  return {
    fn,
    started,
    handles,
    get running() {
      return running;
    },
    get peak() {
      return peak;
    },
  };
}

describe('rule 11: createLimiter behaves as p-limit', () => {
  it('never runs more than concurrency calls, and starts them in call order', async () => {
    const limit = createLimiter(2);
    const m = manual();
    const results = [0, 1, 2, 3, 4].map((id) => limit(m.fn, id));
    await flush();
    expect(m.started).toEqual([0, 1]);
    expect(limit.activeCount).toBe(2);
    expect(limit.pendingCount).toBe(3);
    m.handles.get(1)!.resolve(10);
    await flush();
    expect(m.started).toEqual([0, 1, 2]);
    m.handles.get(0)!.resolve(0);
    m.handles.get(2)!.resolve(20);
    await flush();
    expect(m.started).toEqual([0, 1, 2, 3, 4]);
    expect(limit.pendingCount).toBe(0);
    m.handles.get(3)!.resolve(30);
    m.handles.get(4)!.resolve(40);
    expect(await Promise.all(results)).toEqual([0, 10, 20, 30, 40]);
    expect(m.peak).toBe(2);
    expect(limit.activeCount).toBe(0);
  });

  it('calls the function a microtask later, never inside limit() itself', async () => {
    const limit = createLimiter(1);
    let isCalled = false;
    const result = limit(() => {
      isCalled = true;
      return 1;
    });
    expect(isCalled).toBe(false);
    expect(limit.activeCount).toBe(1);
    await Promise.resolve();
    expect(isCalled).toBe(true);
    expect(await result).toBe(1);
  });

  it('passes the arguments through and resolves with the return value, sync or async', async () => {
    const limit = createLimiter(1);
    expect(await limit((a: number, b: string) => `${a}${b}`, 1, 'x')).toBe('1x');
    expect(await limit(async (a: number) => a * 2, 21)).toBe(42);
  });

  it('rejects with the same error object whether the function throws or rejects, and frees the slot', async () => {
    const limit = createLimiter(1);
    const thrown = new Error('thrown');
    const rejected = new Error('rejected');
    const first = limit(() => {
      throw thrown;
    });
    const second = limit(() => Promise.reject(rejected));
    const third = limit(() => 3);
    await expect(first).rejects.toBe(thrown);
    await expect(second).rejects.toBe(rejected);
    expect(await third).toBe(3);
    expect(limit.activeCount).toBe(0);
  });

  it('raising concurrency starts queued work at once, without waiting for a call to finish', async () => {
    const limit = createLimiter(1);
    const m = manual();
    const results = [0, 1, 2, 3].map((id) => limit(m.fn, id));
    await flush();
    expect(m.started).toEqual([0]);
    limit.concurrency = 3;
    expect(limit.concurrency).toBe(3);
    await flush();
    expect(m.started).toEqual([0, 1, 2]);
    expect(limit.activeCount).toBe(3);
    expect(limit.pendingCount).toBe(1);
    for (const id of [0, 1, 2]) m.handles.get(id)!.resolve(id);
    await flush();
    m.handles.get(3)!.resolve(3);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3]);
  });

  it('lowering concurrency lets running calls finish and holds new starts under the new limit', async () => {
    const limit = createLimiter(3);
    const m = manual();
    const results = [0, 1, 2, 3, 4].map((id) => limit(m.fn, id));
    await flush();
    expect(m.started).toEqual([0, 1, 2]);
    limit.concurrency = 1;
    m.handles.get(0)!.resolve(0);
    m.handles.get(1)!.resolve(1);
    await flush();
    // Two calls finished, but one is still running: with concurrency 1, nothing new may start.
    expect(m.started).toEqual([0, 1, 2]);
    m.handles.get(2)!.resolve(2);
    await flush();
    expect(m.started).toEqual([0, 1, 2, 3]);
    expect(limit.activeCount).toBe(1);
    m.handles.get(3)!.resolve(3);
    await flush();
    m.handles.get(4)!.resolve(4);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4]);
  });

  it('clearQueue drops the waiting calls (their promises stay pending) and keeps the running ones', async () => {
    const limit = createLimiter(1);
    const m = manual();
    const running = limit(m.fn, 0);
    let isClearedSettled = false;
    const cleared = [1, 2].map((id) =>
      limit(m.fn, id).finally(() => {
        isClearedSettled = true;
      }),
    );
    void cleared;
    await flush();
    expect(limit.pendingCount).toBe(2);
    limit.clearQueue();
    expect(limit.pendingCount).toBe(0);
    expect(limit.activeCount).toBe(1);
    m.handles.get(0)!.resolve(0);
    expect(await running).toBe(0);
    await flush();
    expect(m.started).toEqual([0]);
    expect(isClearedSettled).toBe(false);
    // The limiter still works afterwards.
    expect(await limit(() => 'after')).toBe('after');
  });

  it('with rejectOnClear, clearQueue rejects the waiting calls with an AbortError', async () => {
    const limit = createLimiter({ concurrency: 1, rejectOnClear: true });
    const m = manual();
    const running = limit(m.fn, 0);
    const cleared = [limit(m.fn, 1), limit(m.fn, 2)];
    await flush();
    limit.clearQueue();
    for (const promise of cleared) {
      const error = await promise.then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect((error as Error).name).toBe('AbortError');
    }
    m.handles.get(0)!.resolve(0);
    expect(await running).toBe(0);
    expect(m.started).toEqual([0]);
  });

  it('concurrency Infinity runs every call at once', async () => {
    const limit = createLimiter(Number.POSITIVE_INFINITY);
    const m = manual();
    const results = Array.from({ length: 100 }, (_, id) => limit(m.fn, id));
    await flush();
    expect(m.running).toBe(100);
    expect(limit.pendingCount).toBe(0);
    for (const handle of m.handles.values()) handle.resolve(1);
    expect((await Promise.all(results)).length).toBe(100);
  });

  it('map runs fn(item, index) through the limiter and resolves with results in input order', async () => {
    const limit = createLimiter(2);
    const m = manual();
    const result = limit.map(['a', 'b', 'c'], (item, index) => {
      expect(item).toBe('abc'[index]);
      return m.fn(index);
    });
    await flush();
    expect(m.started).toEqual([0, 1]);
    m.handles.get(1)!.resolve(11);
    await flush();
    m.handles.get(2)!.resolve(12);
    m.handles.get(0)!.resolve(10);
    expect(await result).toEqual([10, 11, 12]);
    expect(m.peak).toBe(2);
  });

  it('map rejects when the iterable throws, and the calls already scheduled never reject unhandled', async () => {
    const limit = createLimiter(1);
    const error = new Error('iterable broke');
    function* items() {
      yield 1;
      yield 2;
      throw error;
    }
    await expect(limit.map(items(), () => Promise.reject(new Error('each call fails')))).rejects.toBe(error);
    await flush();
  });

  it('map rejects with the first failure', async () => {
    const limit = createLimiter(3);
    const error = new Error('second');
    await expect(limit.map([1, 2, 3], (n) => (n === 2 ? Promise.reject(error) : n))).rejects.toBe(error);
  });
});

describe('createLimiter runs each call in the async context of its own call (as p-limit does)', () => {
  it('with concurrency 1, calls made in contexts A, B, C see A, B, C', async () => {
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const store = new AsyncLocalStorage<string>();
    const limit = createLimiter(1);
    const m = manual();
    const seen: (string | undefined)[] = [];
    const fn = (id: number) => {
      seen.push(store.getStore());
      return m.fn(id);
    };
    const results = ['A', 'B', 'C'].map((name, id) => store.run(name, () => limit(fn, id)));
    await flush();
    // Each queued call starts from inside the settle of the previous one, made in another context.
    m.handles.get(0)!.resolve(0);
    await flush();
    m.handles.get(1)!.resolve(1);
    await flush();
    m.handles.get(2)!.resolve(2);
    expect(await Promise.all(results)).toEqual([0, 1, 2]);
    expect(seen).toEqual(['A', 'B', 'C']);
  });

  it('keeps the caller context through raised concurrency and map', async () => {
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const store = new AsyncLocalStorage<number>();
    const limit = createLimiter(1);
    const m = manual();
    const seen = new Map<number, number | undefined>();
    const fn = (id: number) => {
      seen.set(id, store.getStore());
      return m.fn(id);
    };
    const results = [0, 1, 2, 3].map((id) => store.run(id, () => limit(fn, id)));
    await flush();
    // The queued calls start from the concurrency setter, run outside every caller's context.
    store.run(99, () => {
      limit.concurrency = 4;
    });
    await flush();
    for (const id of [0, 1, 2, 3]) m.handles.get(id)!.resolve(id);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3]);
    expect([...seen.entries()].sort(([a], [b]) => a - b)).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    const mapped = store.run(7, () => limit.map([1, 2], async (item) => [item, store.getStore()]));
    expect(await mapped).toEqual([
      [1, 7],
      [2, 7],
    ]);
  });
});
