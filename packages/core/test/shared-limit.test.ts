/**
 * createSharedLimit (FIFO, abortable, O(1)), governors as `options.slots`, allOf, and several rate
 * windows. Deferred tasks, fc.scheduler() and fake timers: no wall clock.
 */
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import {
  allOf,
  createLimiter,
  createSharedLimit,
  limitedAsCompleted,
  limitedMap,
  rateLimit,
  slotsFrom,
  type SharedSlot,
  type Task,
} from '@lac/core';
import { assertProperty, drain, flush, Script, ticks } from './helpers.js';

describe('createSharedLimit()', () => {
  it('hands out slots synchronously while free, then serves waiters first come, first served', async () => {
    const limit = createSharedLimit(2);
    const a = limit.acquire() as SharedSlot;
    const b = limit.acquire() as SharedSlot;
    expect(typeof a.release).toBe('function');
    expect(limit.running).toBe(2);
    const order: string[] = [];
    const c = (limit.acquire() as Promise<SharedSlot>).then((slot) => (order.push('c'), slot));
    const d = (limit.acquire() as Promise<SharedSlot>).then((slot) => (order.push('d'), slot));
    expect(limit.pending).toBe(2);
    b.release();
    b.release(); // twice: no effect
    await ticks();
    expect(order).toEqual(['c']);
    expect(limit.running).toBe(2);
    limit.release(a);
    await ticks();
    expect(order).toEqual(['c', 'd']);
    (await c).release();
    (await d).release();
    expect(limit.running).toBe(0);
    expect(limit.pending).toBe(0);
  });

  it('an aborted acquire rejects with signal.reason, keeps no slot and is skipped in the queue', async () => {
    const limit = createSharedLimit(1);
    const held = limit.acquire() as SharedSlot;
    const controller = new AbortController();
    const aborted = limit.acquire(controller.signal);
    const next = limit.acquire() as Promise<SharedSlot>;
    controller.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    expect(limit.pending).toBe(1);
    held.release();
    const slot = await next;
    expect(limit.running).toBe(1);
    slot.release();
    await expect(limit.acquire(AbortSignal.abort(new Error('already'))) as Promise<SharedSlot>).rejects.toThrow(
      'already',
    );
    expect(limit.running).toBe(0);
  });

  it('property: acquire, abort and release in any order: slots go first come, first served, an aborted waiter never gets one', async () => {
    // A model of the queue beside the real one: every grant must go to the oldest waiter still waiting.
    const op = fc.oneof(
      fc.constant({ kind: 'acquire' as const }),
      fc.record({ kind: fc.constant('acquire with signal' as const) }),
      fc.record({ kind: fc.constant('abort' as const), which: fc.nat() }),
      fc.record({ kind: fc.constant('release' as const), which: fc.nat() }),
    );
    await assertProperty(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.array(op, { maxLength: 40 }), async (size, ops) => {
        const limit = createSharedLimit(size);
        const held: SharedSlot[] = [];
        const granted: number[] = [];
        const rejected: number[] = [];
        /** The model: waiters in the order they must be served. */
        const queue: number[] = [];
        const controllers = new Map<number, AbortController>();
        let id = 0;
        const take = (slot: SharedSlot, me: number): void => {
          granted.push(me);
          held.push(slot);
        };
        for (const step of ops) {
          if (step.kind === 'release') {
            if (held.length === 0) continue;
            held.splice(step.which % held.length, 1)[0]!.release();
            // The head waiter gets the slot now (synchronously), so no newcomer can take it first.
            if (queue.length > 0) expect(limit.pending).toBe(queue.length - 1);
            queue.shift();
          } else if (step.kind === 'abort') {
            // Any call made with a signal: one still waiting leaves the queue at once; for one served already it is too late.
            const calls = [...controllers.keys()];
            if (calls.length === 0) continue;
            const me = calls[step.which % calls.length]!;
            controllers.get(me)!.abort(new Error(`abort ${me}`));
            if (queue.includes(me)) queue.splice(queue.indexOf(me), 1);
            expect(limit.pending).toBe(queue.length);
          } else {
            const me = id++;
            let signal: AbortSignal | undefined;
            if (step.kind === 'acquire with signal') {
              const controller = new AbortController();
              controllers.set(me, controller);
              signal = controller.signal;
            }
            const acquired = limit.acquire(signal);
            if (acquired instanceof Promise) {
              queue.push(me);
              acquired.then(
                (slot) => take(slot, me),
                () => rejected.push(me),
              );
            } else {
              // A slot now only when one is free and nobody waits ahead.
              expect(queue).toEqual([]);
              take(acquired, me);
            }
          }
          await flush();
          expect(limit.running).toBe(held.length);
          expect(limit.running).toBeLessThanOrEqual(size);
          expect(limit.pending).toBe(queue.length);
        }
        // Grants in order of the calls (FIFO), and never to a call that rejected.
        expect(granted).toEqual([...granted].sort((a, b) => a - b));
        for (const me of rejected) expect(granted).not.toContain(me);
        expect(granted.length + rejected.length + queue.length).toBe(id);
        return true;
      }),
      200,
    );
  });

  it('acquires that gave up leave nothing behind while the limit stays full (heap after 20,000 of them)', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const limit = createSharedLimit(1);
    const held = limit.acquire() as SharedSlot;
    const giveUp = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const controller = new AbortController();
        const acquired = limit.acquire(controller.signal);
        controller.abort();
        await (acquired as Promise<SharedSlot>).catch(() => undefined);
      }
    };
    await giveUp(1000);
    gc();
    const before = process.memoryUsage().heapUsed;
    await giveUp(20_000);
    gc();
    // A waiter kept in the queue until the next release (with its signal and callbacks) is ~2 KB: 40 MB here.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(4 * 1024 * 1024);
    expect(limit.pending).toBe(0);
    held.release();
    expect(limit.running).toBe(0);
  });

  it('a run using the limit as slots starts no task ahead of an acquire() queued before it', async () => {
    const limit = createSharedLimit(1);
    const first = limit.acquire() as SharedSlot;
    const order: string[] = [];
    const queued = (limit.acquire() as Promise<SharedSlot>).then((slot) => {
      order.push('queued');
      return slot;
    });
    const run = limitedAsCompleted(
      [
        () => {
          order.push(`task (running ${limit.running})`);
          return 1;
        },
      ],
      1,
      { slots: limit },
    );
    const result = run.next();
    await ticks();
    expect(order).toEqual([]);
    expect(limit.pending).toBe(2);
    first.release();
    const slot = await queued;
    await ticks();
    expect(order).toEqual(['queued']);
    slot.release();
    expect(await result).toEqual({ value: 1, done: false });
    expect(order).toEqual(['queued', 'task (running 1)']);
    expect(await run.next()).toEqual({ value: undefined, done: true });
    expect(limit.running).toBe(0);
    expect(limit.pending).toBe(0);
  });

  it('runs that take free slots without waiting give each back once: a slot released twice would free two', async () => {
    const limit = createSharedLimit(3);
    const results = await Promise.all(
      [0, 1].map(async (r) => {
        const values: number[] = [];
        for await (const value of limitedAsCompleted(
          Array.from({ length: 20 }, (_, i) => () => {
            // Never more than the limit at once, counted by the limit itself.
            expect(limit.running).toBeLessThanOrEqual(3);
            return r * 100 + i;
          }),
          2,
          { slots: limit },
        ))
          values.push(value);
        return values.length;
      }),
    );
    expect(results).toEqual([20, 20]);
    expect(limit.running).toBe(0);
    // Exactly the limit is free again: three now, the fourth waits.
    const three = [limit.acquire(), limit.acquire(), limit.acquire()];
    expect(three.every((slot) => !(slot instanceof Promise))).toBe(true);
    const fourth = limit.acquire();
    expect(fourth).toBeInstanceOf(Promise);
    (three[0] as SharedSlot).release();
    (await fourth).release();
    for (const slot of three.slice(1)) (slot as SharedSlot).release();
    expect(limit.running).toBe(0);
  });

  it('its slots release through Symbol.dispose (for `using`)', () => {
    const limit = createSharedLimit(1);
    const slot = limit.acquire() as SharedSlot & { [key: symbol]: () => void };
    const dispose = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('Symbol.dispose');
    slot[dispose]!();
    expect(limit.running).toBe(0);
  });

  it.each([0, -1, 1.5, '4', null])('rejects limit %s with a TypeError naming `limit`', (value) => {
    expect(() => createSharedLimit(value as number)).toThrow(/Expected `limit` to be an integer >= 1 or Infinity, got/);
  });

  it('release() of something that is not a slot throws a TypeError naming `slot`', () => {
    expect(() => createSharedLimit(1).release(5 as never)).toThrow(
      /Expected `slot` to be a slot this limit handed out, got `5` \(number\)/,
    );
  });

  it('property: runs sharing one limit never run more than its limit in all, and every slot comes back', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 8 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.scheduler(),
        async (shared, runs, s) => {
          const limit = createSharedLimit(shared);
          let running = 0;
          let peak = 0;
          const consumers = runs.map(([runLimit, count], r) => {
            const tasks = Array.from(
              { length: count },
              (_, i): Task<number> =>
                async () => {
                  running++;
                  peak = Math.max(peak, running);
                  await s.schedule(Promise.resolve(), `run ${r} task ${i}`);
                  running--;
                  return i;
                },
            );
            return drain(limitedAsCompleted(tasks, runLimit, { slots: limit }));
          });
          let isDone = false;
          const all = Promise.all(consumers).then((results) => {
            isDone = true;
            return results;
          });
          for (let round = 0; round < 100 && !isDone; round++) await s.waitIdle();
          const results = await all;
          expect(results.map((result) => result.values.length)).toEqual(runs.map(([, count]) => count));
          expect(peak).toBeLessThanOrEqual(shared);
          expect(limit.running).toBe(0);
          expect(limit.pending).toBe(0);
          return true;
        },
      ),
      100,
    );
  });

  it('an early exit while waiting for a slot leaves no slot taken and no waiter queued', async () => {
    const limit = createSharedLimit(1);
    const held = limit.acquire() as SharedSlot;
    const iterator = limitedAsCompleted([() => 1, () => 2], 2, { slots: limit });
    const pending = iterator.next();
    await ticks();
    expect(limit.pending).toBe(1);
    await iterator.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    await ticks();
    expect(limit.pending).toBe(0);
    held.release();
    expect(limit.running).toBe(0);
  });
});

describe('createLimiter({ slots })', () => {
  it('a limiter and a run sharing one limit never run more than it in all; a failed acquire rejects the call', async () => {
    const shared = createSharedLimit(2);
    const limiter = createLimiter({ concurrency: 2, slots: shared });
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(2), 2, { slots: shared });
    const first = iterator.next();
    await flush();
    expect(script.started).toEqual([0, 1]);
    let isCalled = false;
    const call = limiter(() => {
      isCalled = true;
      return 'called';
    });
    await flush();
    expect(isCalled).toBe(false);
    script.resolve(0, 0);
    expect(await first).toEqual({ value: 0, done: false });
    expect(await call).toBe('called');
    script.resolve(1, 1);
    await drain(iterator);
    await flush();
    expect([shared.running, shared.pending, limiter.activeCount]).toEqual([0, 0, 0]);
    const failing = createLimiter({
      concurrency: 1,
      slots: slotsFrom({ acquire: () => Promise.reject(new Error('no slot')), release: () => {} }),
    });
    await expect(failing(() => 1)).rejects.toThrow('no slot');
    expect(failing.activeCount).toBe(0);
  });

  it('rejects slots that are neither a SlotSource nor a governor', () => {
    expect(() => createLimiter({ concurrency: 1, slots: 5 as never })).toThrow(
      /Expected `slots` to be createSharedLimit\(n\), allOf\(\.\.\.\) or slotsFrom\(source\), got `5` \(number\)/,
    );
  });
});

describe('a governor (TC39 concurrency-control shape) as options.slots', () => {
  it('acquires a token per task and releases it when the task settles', async () => {
    const tokens: { released: boolean }[] = [];
    const governor = {
      acquire: async () => {
        const token = {
          released: false,
          release() {
            token.released = true;
          },
        };
        tokens.push(token);
        return token;
      },
    };
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(2), 2, { slots: slotsFrom(governor) });
    const first = iterator.next();
    await flush();
    expect(script.started).toEqual([0, 1]);
    expect(tokens.map((token) => token.released)).toEqual([false, false]);
    script.resolve(1, 1);
    expect(await first).toEqual({ value: 1, done: false });
    await ticks();
    // The run may also have asked for the next start's token, given back at once when the source was done.
    expect(tokens.slice(0, 2).map((token) => token.released)).toEqual([false, true]);
    script.resolve(0, 0);
    expect(await drain(iterator)).toMatchObject({ values: [0], isThrown: false });
    expect(tokens.every((token) => token.released)).toBe(true);
  });
});

describe('allOf()', () => {
  it('a start needs a slot of every limit; both are released when the task settles', async () => {
    const local = createSharedLimit(1);
    const global = createSharedLimit(2);
    const other = global.acquire() as SharedSlot; // another process holds one of the two
    const script = new Script();
    const iterator = limitedAsCompleted(script.tasks(3), 3, { slots: allOf(local, global) });
    const first = iterator.next();
    await flush();
    expect(script.started).toEqual([0]);
    expect([local.running, global.running]).toEqual([1, 2]);
    script.resolve(0, 0);
    expect(await first).toEqual({ value: 0, done: false });
    await flush();
    expect(script.started).toEqual([0, 1]);
    other.release();
    script.resolve(1, 1);
    await flush();
    script.resolve(2, 2);
    expect(await drain(iterator)).toMatchObject({ values: [1, 2], isThrown: false });
    expect([local.running, global.running, local.pending, global.pending]).toEqual([0, 0, 0, 0]);
  });

  it('an abort while waiting for a later limit gives back the earlier ones', async () => {
    const first = createSharedLimit(1);
    const second = createSharedLimit(1);
    const blocker = second.acquire() as SharedSlot;
    const both = allOf(first, second);
    const controller = new AbortController();
    const acquired = both.acquire(controller.signal);
    await ticks();
    expect(first.running).toBe(1);
    controller.abort(new Error('stop'));
    await expect(acquired).rejects.toThrow('stop');
    expect(first.running).toBe(0);
    blocker.release();
  });

  it('rejects what is neither a SlotSource nor a governor with a TypeError naming it', () => {
    expect(() => allOf(createSharedLimit(1), 5 as never)).toThrow(
      /Expected `limits\[1\]` to be an object with `acquire` and `release` methods .*got `5` \(number\)/,
    );
  });
});

describe('options.rate as several windows', () => {
  it('a start needs every window to allow it ("2 a second and 3 in 10 seconds")', async () => {
    vi.useFakeTimers();
    try {
      const starts: number[] = [];
      const t0 = Date.now();
      const tasks = Array.from({ length: 5 }, (): Task<number> => () => (starts.push(Date.now() - t0), 0));
      const done = drain(
        limitedAsCompleted(tasks, 5, {
          rate: rateLimit({ limit: 2, interval: 1000 }, { limit: 3, interval: 10_000 }),
        }),
      );
      await vi.advanceTimersByTimeAsync(25_000);
      await done;
      expect(starts).toEqual([0, 0, 1000, 10_000, 10_000]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('property: every start is as early as every window allows, no earlier (same-millisecond bursts and gaps)', async () => {
    vi.useFakeTimers();
    try {
      await assertProperty(
        fc.asyncProperty(
          fc.array(fc.record({ limit: fc.integer({ min: 1, max: 6 }), interval: fc.integer({ min: 1, max: 300 }) }), {
            minLength: 1,
            maxLength: 3,
          }),
          // How long after the previous start the source yields each item (0: in the same millisecond).
          fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 })), { minLength: 1, maxLength: 30 }),
          async (rate, gaps) => {
            const starts: number[] = [];
            const t0 = Date.now();
            async function* source() {
              for (const gap of gaps) {
                if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
                yield (): number => starts.push(Date.now() - t0);
              }
            }
            // The concurrency limit never binds: only the windows decide when each item starts.
            const done = drain(limitedAsCompleted(source(), gaps.length + 1, { rate: rateLimit(...rate) }));
            await vi.advanceTimersByTimeAsync(gaps.length * 1000);
            expect((await done).values.length).toBe(gaps.length);
            // The model: an item is pulled when the one before it started, arrives `gap` ms later, and
            // starts at the first millisecond at which every window has had fewer than its limit of
            // starts in the last `interval` ms (a start `interval` old no longer counts).
            const expected: number[] = [];
            let previous = 0;
            for (const gap of gaps) {
              let at = previous + gap;
              for (let moved = true; moved; ) {
                moved = false;
                for (const { limit, interval } of rate) {
                  const inWindow = expected.filter((start) => at - start < interval);
                  if (inWindow.length >= limit) {
                    at = inWindow[inWindow.length - limit]! + interval;
                    moved = true;
                  }
                }
              }
              expected.push(at);
              previous = at;
            }
            expect(starts).toEqual(expected);
            return true;
          },
        ),
        80,
      );
    } finally {
      vi.useRealTimers();
    }
  });

  it('property: in every window, never more than its limit of starts (random windows and durations)', async () => {
    vi.useFakeTimers();
    try {
      await assertProperty(
        fc.asyncProperty(
          fc.array(fc.record({ limit: fc.integer({ min: 1, max: 4 }), interval: fc.integer({ min: 1, max: 500 }) }), {
            minLength: 1,
            maxLength: 3,
          }),
          fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 15 }),
          fc.integer({ min: 1, max: 4 }),
          async (rate, durations, limit) => {
            const starts: number[] = [];
            const tasks = durations.map(
              (duration): Task<number> =>
                () => {
                  starts.push(Date.now());
                  return new Promise((resolve) => setTimeout(resolve, duration, 0));
                },
            );
            const done = drain(
              limitedMap(tasks, limit, (task, context) => task(context), { rate: rateLimit(...rate) }),
            );
            await vi.advanceTimersByTimeAsync(20_000);
            expect((await done).values.length).toBe(durations.length);
            for (const window of rate) {
              for (let i = window.limit; i < starts.length; i++) {
                expect(starts[i]! - starts[i - window.limit]!).toBeGreaterThanOrEqual(window.interval);
              }
            }
            return true;
          },
        ),
        60,
      );
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    [[], /Expected `windows` to be at least one \{ limit, interval \}, got none/],
    [
      [
        { limit: 1, interval: 10 },
        { limit: 0, interval: 10 },
      ],
      /Expected `windows\[1\].limit` to be an integer >= 1, got `0` \(number\)/,
    ],
    [
      [{ limit: 1, interval: 10 }, 5],
      /Expected `windows\[1\]` to be an object \{ limit, interval \}, got `5` \(number\)/,
    ],
  ])('rateLimit(...%j) throws a TypeError naming the window', (windows, message) => {
    expect(() => rateLimit(...(windows as never[]))).toThrow(TypeError);
    expect(() => rateLimit(...(windows as never[]))).toThrow(message);
  });
});
