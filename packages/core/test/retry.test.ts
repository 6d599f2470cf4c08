/** `retry`: backoff without holding a slot, exactly as many attempts as configured. Fake timers only. */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { limitedAsCompleted, limitedAsSettled, limitedMap, retryPolicy, type Task, type TaskContext } from '@lac/core';
import { assertProperty, drain, ticks } from './helpers.js';

// The unhandled-rejection watch is test/setup.ts's, which also restores real timers after each test.
beforeEach(() => {
  vi.useFakeTimers();
});

/** A task that fails its first `failures` attempts, recording when each attempt started. */
function flaky(failures: number, log: { time: number; attempt: number }[], value = 0): Task<number> {
  return (context: TaskContext) => {
    log.push({ time: Date.now(), attempt: context.attempt });
    if (context.attempt <= failures) return Promise.reject(new Error(`attempt ${context.attempt} failed`));
    return Promise.resolve(value);
  };
}

describe('options.retry', () => {
  it('retries exactly `retries` times with exponential backoff, then fails with the last error', async () => {
    const t0 = Date.now();
    const log: { time: number; attempt: number }[] = [];
    const done = drain(limitedAsCompleted([flaky(10, log)], 1, { retry: retryPolicy({ retries: 2, minDelay: 100 }) }));
    await vi.advanceTimersByTimeAsync(10_000);
    const { error, isThrown } = await done;
    expect(isThrown).toBe(true);
    expect((error as Error).message).toBe('attempt 3 failed');
    expect(log.map(({ time, attempt }) => [time - t0, attempt])).toEqual([
      [0, 1],
      [100, 2],
      [300, 3],
    ]);
  });

  it('a failed attempt gives its slot back during the backoff, and a due retry starts before new items', async () => {
    const log: string[] = [];
    const calls = new Map<string, number>();
    const task =
      (name: string, failures: number, duration: number): Task<string> =>
      (context) => {
        log.push(`${name}#${context.attempt}@${Date.now()}`);
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return new Promise((resolve, reject) =>
          setTimeout(() => (context.attempt <= failures ? reject(new Error(name)) : resolve(name)), duration),
        );
      };
    const t0 = Date.now();
    const iterator = limitedAsCompleted([task('a', 1, 10), task('b', 0, 200), task('c', 0, 10)], 1, {
      retry: retryPolicy({ retries: 1, minDelay: 50 }),
    });
    const done = drain(iterator);
    await vi.advanceTimersByTimeAsync(15);
    // a failed at 10 ms and waits 50 ms: b took its slot at once.
    expect(iterator.stats).toMatchObject({ running: 1, retrying: 1, retries: 0 });
    await vi.advanceTimersByTimeAsync(1000);
    expect((await done).values).toEqual(['b', 'a', 'c']);
    expect(log.map((entry) => entry.replace(/@(\d+)/, (_, time) => `@${Number(time) - t0}`))).toEqual([
      'a#1@0',
      'b#1@10',
      'a#2@210',
      'c#1@220',
    ]);
    expect(iterator.stats).toMatchObject({ retrying: 0, retries: 1, completed: 3, failed: 0 });
  });

  it('retryDelay() and an error.retryAfter set the backoff; shouldRetry() can refuse', async () => {
    const t0 = Date.now();
    const times: number[] = [];
    const withHint: Task<number> = (context) => {
      times.push(Date.now() - t0);
      return context.attempt === 1
        ? Promise.reject(Object.assign(new Error('busy'), { retryAfter: 700 }))
        : Promise.resolve(1);
    };
    const done = drain(limitedAsCompleted([withHint], 1, { retry: retryPolicy({ retries: 3 }) }));
    await vi.advanceTimersByTimeAsync(5000);
    expect((await done).values).toEqual([1]);
    expect(times).toEqual([0, 700]);

    const hookTimes: number[] = [];
    const start = Date.now();
    const hooked = drain(
      limitedMap(
        [0],
        1,
        (_, context) => (
          hookTimes.push(Date.now() - start), context.attempt < 3 ? Promise.reject(new Error('x')) : 'ok'
        ),
        {
          retry: retryPolicy({ retries: 5, retryDelay: (_error, attempt) => attempt * 1000 }),
        },
      ),
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await hooked).values).toEqual(['ok']);
    expect(hookTimes).toEqual([0, 1000, 3000]);

    const log: { time: number; attempt: number }[] = [];
    const refused = drain(
      limitedAsCompleted([flaky(5, log)], 1, {
        retry: retryPolicy({ retries: 5, shouldRetry: (_error, attempt) => attempt < 2 }),
      }),
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await refused).isThrown).toBe(true);
    expect(log.map((entry) => entry.attempt)).toEqual([1, 2]);
  });

  it('settled mode: an exhausted task is a rejected record carrying its attempt count', async () => {
    const log: { time: number; attempt: number }[] = [];
    const done = drain(
      limitedAsSettled([flaky(9, log), flaky(1, log, 7)], 2, { retry: retryPolicy({ retries: 2, minDelay: 10 }) }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    const { values } = await done;
    expect(values).toContainEqual({ status: 'fulfilled', value: 7, index: 1 });
    expect(values).toContainEqual({
      status: 'rejected',
      reason: expect.objectContaining({ message: 'attempt 3 failed' }),
      index: 0,
      attempts: 3,
    });
  });

  it('early exit and abort cancel pending backoffs at once', async () => {
    const log: { time: number; attempt: number }[] = [];
    const iterator = limitedAsCompleted([flaky(9, log)], 1, { retry: retryPolicy({ retries: 5, minDelay: 1000 }) });
    const pending = iterator.next();
    await ticks();
    expect(iterator.stats.retrying).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    await iterator.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(vi.getTimerCount()).toBe(0);

    const controller = new AbortController();
    const aborted = drain(
      limitedAsCompleted([flaky(9, log)], 1, {
        retry: retryPolicy({ retries: 5, minDelay: 1000 }),
        signal: controller.signal,
      }),
    );
    await ticks();
    controller.abort(new Error('stop'));
    expect((await aborted).error).toEqual(new Error('stop'));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a shouldRetry that throws fails the run with what it threw', async () => {
    const log: { time: number; attempt: number }[] = [];
    const done = drain(
      limitedAsCompleted([flaky(1, log)], 1, {
        retry: retryPolicy({
          retries: 1,
          shouldRetry: () => {
            throw new Error('bad hook');
          },
        }),
      }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect((await done).error).toEqual(new Error('bad hook'));
  });

  it.each([
    [null, /Expected `retry` to be an object \{ retries, \.\.\. \}, got `null` \(null\)/],
    [{ retries: -1 }, /Expected `retry.retries` to be an integer >= 0, got `-1` \(number\)/],
    [
      { retries: 1, minDelay: 'x' },
      /Expected `retry.minDelay` to be a finite number of milliseconds >= 0, got `"x"` \(string\)/,
    ],
    [{ retries: 1, factor: 0.5 }, /Expected `retry.factor` to be a finite number >= 1, got `0.5` \(number\)/],
    [{ retries: 1, shouldRetry: 5 }, /Expected `retry.shouldRetry` to be a function, got `5` \(number\)/],
  ])('retryPolicy(%j) throws a TypeError naming the field', (retry, message) => {
    expect(() => retryPolicy(retry as never)).toThrow(TypeError);
    expect(() => retryPolicy(retry as never)).toThrow(message);
  });

  it('property: every task runs exactly min(failures, retries) + 1 times, never more than limit at once', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.record({ failures: fc.integer({ min: 0, max: 5 }), duration: fc.integer({ min: 0, max: 50 }) }), {
          maxLength: 10,
        }),
        fc.integer({ min: 0, max: 100 }),
        async (limit, retries, specs, minDelay) => {
          const calls = specs.map(() => 0);
          let running = 0;
          let peak = 0;
          const tasks = specs.map(
            ({ failures, duration }, i): Task<number> =>
              (context) => {
                calls[i]!++;
                expect(context.attempt).toBe(calls[i]);
                running++;
                peak = Math.max(peak, running);
                return new Promise((resolve, reject) =>
                  setTimeout(() => {
                    running--;
                    if (context.attempt <= failures) reject(new Error(`task ${i}`));
                    else resolve(i);
                  }, duration),
                );
              },
          );
          const iterator = limitedAsSettled(tasks, limit, { retry: retryPolicy({ retries, minDelay }) });
          const done = drain(iterator);
          await vi.advanceTimersByTimeAsync(100_000);
          const { values } = await done;
          expect(calls).toEqual(specs.map(({ failures }) => Math.min(failures, retries) + 1));
          expect(peak).toBeLessThanOrEqual(limit);
          for (const outcome of values) {
            const spec = specs[outcome.index]!;
            expect(outcome.status).toBe(spec.failures <= retries ? 'fulfilled' : 'rejected');
          }
          expect(values.length).toBe(specs.length);
          expect(iterator.stats.retries).toBe(
            specs.reduce((sum, { failures }) => sum + Math.min(failures, retries), 0),
          );
          return true;
        },
      ),
      80,
    );
  });
});
