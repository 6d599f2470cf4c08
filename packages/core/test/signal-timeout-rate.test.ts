import { beforeEach, describe, expect, it, vi } from 'vitest';
import { limitedAsCompleted, limitedAsSettled, limitedMap, rateLimit, TimeoutError, type Task } from '@lac/core';
import { Script, drain, flush, ticks, trackedSource } from './helpers.js';

describe('rule 8: options.signal', () => {
  it('aborting rejects the pending next() with signal.reason, aborts in-flight tasks and closes the source', async () => {
    const controller = new AbortController();
    const script = new Script();
    const { source, state } = trackedSource((i) => script.task(i));
    const iterator = limitedAsCompleted(source, 3, { signal: controller.signal });
    const pending = iterator.next();
    await flush();
    const reason = { why: 'user cancelled' };
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    for (const id of [0, 1, 2]) expect(script.signal(id).reason).toBe(reason);
    expect(state.isFinallyRun).toBe(true);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    for (const id of [0, 1, 2]) script.reject(id, new Error('late'));
    await flush();
    expect(script.started).toEqual([0, 1, 2]);
  });

  it('aborting while no next() is pending makes the next next() reject, dropping buffered results', async () => {
    const controller = new AbortController();
    const iterator = limitedAsCompleted([() => 1, () => 2, () => 3], 3, { signal: controller.signal });
    expect(await iterator.next()).toEqual({ value: 1, done: false });
    expect(iterator.stats.buffered).toBe(2);
    controller.abort();
    const error = await iterator.next().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBe(controller.signal.reason);
    expect((error as Error).name).toBe('AbortError');
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('a generator that aborts the signal while being pulled: its item never starts and its finally runs', async () => {
    const controller = new AbortController();
    const script = new Script();
    let isFinallyRun = false;
    function* source() {
      try {
        for (let i = 0; i < 10; i++) {
          if (i === 2) controller.abort('budget spent');
          yield script.task(i);
        }
      } finally {
        isFinallyRun = true;
      }
    }
    const iterator = limitedAsCompleted(source(), 5, { signal: controller.signal });
    await expect(iterator.next()).rejects.toBe('budget spent');
    await flush();
    expect(script.started).toEqual([0, 1]);
    expect(script.signal(0).reason).toBe('budget spent');
    expect(isFinallyRun).toBe(true);
  });

  it('an already-aborted signal starts nothing and pulls nothing; next() rejects with its reason', async () => {
    const reason = new Error('too late');
    let calls = 0;
    const { source, state } = trackedSource(() => () => ++calls);
    for (const form of ['completed', 'settled', 'map'] as const) {
      const signal = AbortSignal.abort(reason);
      const iterator =
        form === 'completed'
          ? limitedAsCompleted(source, 2, { signal })
          : form === 'settled'
            ? limitedAsSettled(source, 2, { signal })
            : limitedMap([1, 2], 2, () => ++calls, { signal });
      await expect(iterator.next()).rejects.toBe(reason);
      expect(await iterator.next()).toEqual({ value: undefined, done: true });
    }
    await flush();
    expect(calls).toBe(0);
    expect(state.pulled).toBe(0);
  });

  it('removes its abort listener when the run ends, fails or exits early', async () => {
    for (const ending of ['end', 'fail', 'return'] as const) {
      const controller = new AbortController();
      const added = vi.spyOn(controller.signal, 'addEventListener');
      const removed = vi.spyOn(controller.signal, 'removeEventListener');
      const tasks: Task<number>[] = [() => 1, ending === 'fail' ? () => Promise.reject(new Error('x')) : () => 2];
      const iterator = limitedAsCompleted(tasks, 1, { signal: controller.signal });
      if (ending === 'return') {
        await iterator.next();
        await iterator.return();
      } else {
        await drain(iterator);
      }
      expect(added).toHaveBeenCalledTimes(1);
      expect(removed).toHaveBeenCalledTimes(1);
      expect(removed.mock.calls[0]![1]).toBe(added.mock.calls[0]![1]);
      // Aborting afterwards changes nothing.
      controller.abort();
      expect(await iterator.next()).toEqual({ value: undefined, done: true });
    }
  });

  it('an abort after a task failure keeps the task failure as the error', async () => {
    const controller = new AbortController();
    const error = new Error('task failed first');
    const iterator = limitedAsCompleted([() => 1, () => Promise.reject(error)], 2, { signal: controller.signal });
    expect(await iterator.next()).toEqual({ value: 1, done: false });
    await flush();
    // The failure happened and waits for the next next(); the abort comes after it and changes nothing.
    expect(iterator.stats.failed).toBe(1);
    controller.abort();
    await expect(iterator.next()).rejects.toBe(error);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('limitedAsSettled: aborting also rejects next() (an abort is not a task failure)', async () => {
    const controller = new AbortController();
    const script = new Script();
    const iterator = limitedAsSettled(script.tasks(3), 2, { signal: controller.signal });
    const pending = iterator.next();
    await flush();
    controller.abort('stop');
    await expect(pending).rejects.toBe('stop');
    expect(script.signal(0).aborted).toBe(true);
  });
});

describe('rule 9: timeout (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });

  it('a task that runs too long fails with a TimeoutError and its signal aborts; its slot frees only when it settles', async () => {
    const script = new Script({ readsSignal: false });
    const iterator = limitedAsSettled(script.tasks(3), 1, { timeout: 100 });
    const first = iterator.next();
    await ticks();
    expect(script.started).toEqual([0]);
    await vi.advanceTimersByTimeAsync(99);
    expect(script.started).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    const record = (await first).value!;
    expect(record.status).toBe('rejected');
    const reason = (record as { reason: TimeoutError }).reason;
    expect(reason).toBeInstanceOf(TimeoutError);
    expect(reason.name).toBe('TimeoutError');
    expect(reason.code).toBe('ERR_LAC_TIMEOUT');
    expect(reason.index).toBe(0);
    expect(reason.timeout).toBe(100);
    expect(reason.message).toBe('Task 0 timed out after 100 ms');
    expect(script.signal(0).aborted).toBe(true);
    expect(script.signal(0).reason).toBe(reason);
    // Task 0 ignores its signal and still runs: it keeps its slot, so task 1 waits.
    expect(script.started).toEqual([0]);
    expect(iterator.stats).toMatchObject({ running: 1, timedOutRunning: 1, failed: 1 });
    // Task 0 settling late frees the slot, and is not delivered again.
    script.resolve(0, 0);
    await ticks();
    expect(script.started).toEqual([0, 1]);
    expect(iterator.stats).toMatchObject({ running: 1, timedOutRunning: 0 });
    script.resolve(1, 1);
    await ticks();
    expect((await iterator.next()).value).toEqual({ status: 'fulfilled', value: 1, index: 1 });
    script.resolve(2, 2);
    expect((await drain(iterator)).values).toEqual([{ status: 'fulfilled', value: 2, index: 2 }]);
    expect(iterator.stats).toMatchObject({ started: 3, completed: 2, failed: 1 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails the run fast in limitedAsCompleted, aborting the others', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(3), 2, { timeout: 50 });
    const pending = iterator.next().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    await ticks();
    await vi.advanceTimersByTimeAsync(50);
    const error = await pending;
    expect((error as Error).name).toBe('TimeoutError');
    expect(script.signal(1).aborted).toBe(true);
    expect(script.started).toEqual([0, 1]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a task that finishes in time clears its timer', async () => {
    const iterator = limitedMap([1, 2, 3], 2, async (n) => n, { timeout: 1000 });
    const { values } = await drain(iterator);
    expect([...values].sort()).toEqual([1, 2, 3]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('early exit clears the timers of in-flight tasks', async () => {
    const script = new Script({ readsSignal: false });
    const iterator = limitedAsCompleted(script.tasks(5), 3, { timeout: 1000 });
    void iterator.next();
    await ticks();
    expect(vi.getTimerCount()).toBe(3);
    await iterator.return();
    expect(vi.getTimerCount()).toBe(0);
    expect(script.signal(0).aborted).toBe(true);
  });

  it('timeout: Infinity means no timeout', async () => {
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(1), 1, { timeout: Number.POSITIVE_INFINITY });
    void iterator.next();
    await ticks();
    expect(vi.getTimerCount()).toBe(0);
    await iterator.return();
  });
});

describe('rule 9: rate (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });

  it.each([
    [1, 100, 4],
    [2, 1000, 10],
    [3, 250, 16],
  ])('never more than rate.limit (%i) starts in any %i ms window (limit %i)', async (perWindow, interval, limit) => {
    const startTimes: number[] = [];
    const total = 12;
    const tasks = Array.from({ length: total }, (_, i) => () => {
      startTimes.push(Date.now());
      return i;
    });
    const t0 = Date.now();
    const iterator = limitedAsCompleted(tasks, limit, { rate: rateLimit({ limit: perWindow, interval }) });
    const results = drain(iterator);
    for (let step = 0; step < 100 && startTimes.length < total; step++) await vi.advanceTimersByTimeAsync(interval / 4);
    const { values } = await results;
    expect([...values].sort((a, b) => a - b)).toEqual([...Array(total).keys()]);
    for (let i = perWindow; i < startTimes.length; i++) {
      expect(startTimes[i]! - startTimes[i - perWindow]!).toBeGreaterThanOrEqual(interval);
    }
    // The first burst starts at once and the rate is used fully, not just respected.
    expect(startTimes.slice(0, perWindow)).toEqual(Array(perWindow).fill(t0));
    expect(startTimes.at(-1)! - t0).toBe(Math.ceil(total / perWindow - 1) * interval);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the rate and the concurrency bound hold together', async () => {
    const script = new Script({ readsSignal: false });
    const iterator = limitedAsCompleted(script.tasks(6), 2, { rate: rateLimit({ limit: 3, interval: 1000 }) });
    const results = drain(iterator);
    await ticks();
    expect(script.started).toEqual([0, 1]);
    script.resolve(0, 0);
    await ticks();
    expect(script.started).toEqual([0, 1, 2]);
    script.resolve(1, 1);
    await ticks();
    // Three starts used in this window: task 3 waits for the window, not for a slot.
    expect(script.started).toEqual([0, 1, 2]);
    await vi.advanceTimersByTimeAsync(999);
    expect(script.started).toEqual([0, 1, 2]);
    await vi.advanceTimersByTimeAsync(1);
    expect(script.started).toEqual([0, 1, 2, 3]);
    expect(script.peak).toBe(2);
    await iterator.return();
    await results;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the run ends as soon as its last task is consumed, not one rate interval later', async () => {
    const iterator = limitedAsCompleted([() => 1, () => 2], 2, { rate: rateLimit({ limit: 1, interval: 60_000 }) });
    expect(await iterator.next()).toEqual({ value: 1, done: false });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await iterator.next()).toEqual({ value: 2, done: false });
    // No third task exists, so nothing should wait for the window before saying so.
    const last = iterator.next();
    let isLastSettled = false;
    void last.then(() => {
      isLastSettled = true;
    });
    await ticks();
    expect(isLastSettled).toBe(true);
    expect(await last).toEqual({ value: undefined, done: true });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a rate-limited run pulls at most one item ahead of the window, only when a slot is free', async () => {
    const script = new Script({ readsSignal: false });
    const { source, state } = trackedSource((i) => script.task(i));
    const iterator = limitedAsCompleted(source, 3, { rate: rateLimit({ limit: 1, interval: 1000 }) });
    void iterator.next();
    await ticks();
    expect(script.started).toEqual([0]);
    expect(state.pulled).toBe(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(script.started).toEqual([0, 1]);
    expect(state.pulled).toBe(3);
    await iterator.return();
    expect(state.isFinallyRun).toBe(true);
    // The held item is dropped with the run: it never starts, however long we wait.
    await vi.advanceTimersByTimeAsync(5000);
    expect(script.started).toEqual([0, 1]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('early exit clears a pending rate timer', async () => {
    const iterator = limitedAsCompleted(
      Array.from({ length: 5 }, () => () => 1),
      5,
      { rate: rateLimit({ limit: 1, interval: 10_000 }) },
    );
    expect(await iterator.next()).toEqual({ value: 1, done: false });
    await ticks();
    expect(vi.getTimerCount()).toBe(1);
    await iterator.return();
    expect(vi.getTimerCount()).toBe(0);
  });
});
