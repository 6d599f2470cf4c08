/**
 * `limit: adaptive(...)` in the engine, the limiter and the shared limit: the controller hears every
 * settled task (latency from an injected clock, outcome), the limit changes through `setLimit`'s
 * path, `stats.limit` shows it, and the bound holds after every change. Deferred tasks, no wall clock.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  TimeoutError,
  adaptive,
  createLimiter,
  createSharedLimit,
  limitFunction,
  limitedAsCompleted,
  limitedMap,
  limitedMapSettled,
  type AdaptiveOptions,
  type LimitChangeReason,
} from '@lac/core';
import { limitedMapPush } from '../src/internal.js';
import { Script, deferred, ticks, type Deferred } from './helpers.js';

const unavailable = () => Object.assign(new Error('Service Unavailable'), { status: 503 });

/** An endless source of ids and a mapper whose calls the test settles by hand; checks the bound at every start. */
function service() {
  const pending: Deferred<number>[] = [];
  const state = { running: 0, overLimit: 0, starts: 0, limitOf: () => Number.POSITIVE_INFINITY };
  function* ids(): Generator<number> {
    for (let id = 0; ; id++) yield id;
  }
  const mapper = (id: number): Promise<number> => {
    state.running++;
    state.starts++;
    if (state.running > state.limitOf()) state.overLimit++;
    const handle = deferred<number>();
    pending.push(handle);
    const settled = (): void => {
      state.running--;
    };
    handle.promise.then(settled, settled);
    return handle.promise.then(() => id);
  };
  /** Settles every task pending now, in start order. */
  const settleAll = async (how: (handle: Deferred<number>) => void): Promise<void> => {
    const now = pending.splice(0);
    for (const handle of now) how(handle);
    await ticks(20);
  };
  return { pending, state, ids, mapper, settleAll };
}

function clocked(options: AdaptiveOptions) {
  const clock = { t: 0 };
  const changes: [number, LimitChangeReason][] = [];
  const limit = adaptive({
    ...options,
    now: () => clock.t,
    onLimitChange: (value, reason) => changes.push([value, reason]),
  });
  return { clock, changes, limit };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('limitedMap(items, adaptive(...), mapper)', () => {
  it('starts at initial, grows while every slot is used and tasks succeed (aimd: doubling until an overload), and stats.limit shows it', async () => {
    const { clock, changes, limit } = clocked({ algorithm: 'aimd', initial: 2, samples: 2 });
    const s = service();
    const run = limitedMap(s.ids(), limit, s.mapper);
    s.state.limitOf = () => run.stats.limit;
    const consumed: number[] = [];
    const consume = (async () => {
      for await (const id of run) {
        consumed.push(id);
        if (consumed.length === 40) break;
      }
    })();
    await ticks(20);
    expect(run.stats).toMatchObject({ limit: 2, running: 2 });
    for (let wave = 0; wave < 4; wave++) {
      clock.t += 10;
      await s.settleAll((handle) => handle.resolve(0));
    }
    expect(run.stats.limit).toBe(32);
    expect(run.stats.running).toBe(32);
    expect(changes).toEqual([
      [4, 'increase'],
      [8, 'increase'],
      [16, 'increase'],
      [32, 'increase'],
    ]);
    while (consumed.length < 40) {
      clock.t += 10;
      await s.settleAll((handle) => handle.resolve(0));
    }
    await consume;
    expect(s.state.overLimit).toBe(0);
  });

  it('shrinks on 503 (and on 429, retryAfter and TimeoutError) but not on other errors', async () => {
    const overloads: [string, () => unknown][] = [
      ['503', unavailable],
      ['429', () => Object.assign(new Error('Too Many Requests'), { status: 429 })],
      ['retryAfter', () => Object.assign(new Error('later'), { retryAfter: 500 })],
      ['TimeoutError', () => new TimeoutError(0, 10)],
    ];
    for (const [name, error] of overloads) {
      const { clock, changes, limit } = clocked({ algorithm: 'aimd', initial: 8 });
      const s = service();
      const run = limitedMapSettled(s.ids(), limit, s.mapper);
      const first = run.next();
      await ticks(20);
      clock.t += 5;
      await s.settleAll((handle) => handle.reject(error()));
      expect({ name, limit: run.stats.limit }).toEqual({ name, limit: 6 });
      expect(changes).toEqual([[6, 'overload']]);
      await first;
      await run.return();
    }
    const { clock, changes, limit } = clocked({ algorithm: 'gradient', initial: 8 });
    const s = service();
    const run = limitedMapSettled(s.ids(), limit, s.mapper);
    const first = run.next();
    await ticks(20);
    for (let wave = 0; wave < 5; wave++) {
      clock.t += 5;
      await s.settleAll((handle) => handle.reject(Object.assign(new Error('Internal Server Error'), { status: 500 })));
    }
    expect(run.stats.limit).toBe(8);
    expect(changes).toEqual([]);
    await first;
    await run.return();
  });

  it('a task that times out (options.timeout) shrinks the limit at its deadline, once per window', async () => {
    vi.useFakeTimers();
    const changes: [number, LimitChangeReason][] = [];
    const limit = adaptive({
      algorithm: 'gradient',
      initial: 8,
      now: () => Date.now(),
      onLimitChange: (value, reason) => changes.push([value, reason]),
    });
    const s = service();
    const run = limitedMapSettled(s.ids(), limit, s.mapper, { timeout: 100 });
    const first = run.next();
    await ticks(20);
    await vi.advanceTimersByTimeAsync(100);
    expect(changes).toEqual([[6, 'overload']]);
    expect(run.stats.limit).toBe(6);
    // The timed-out tasks hold their slots until they settle: nothing more started.
    expect(run.stats).toMatchObject({ running: 8, timedOutRunning: 8 });
    await s.settleAll((handle) => handle.resolve(0));
    expect(run.stats.running).toBe(6);
    await first;
    await run.return();
  });

  it('gradient: does not grow while the run does not use the limit (a slow consumer), and shrinks when latency rises over its baseline', async () => {
    const { clock, changes, limit } = clocked({ algorithm: 'gradient', initial: 8 });
    const s = service();
    const run = limitedMap(s.ids(), limit, s.mapper, { buffer: 0 });
    const first = run.next();
    await ticks(20);
    clock.t += 10;
    await s.settleAll((handle) => handle.resolve(0));
    // Every slot was used: one step up (8 + sqrt(8)).
    expect(changes).toEqual([[10, 'increase']]);
    await first;
    // The consumer does not read: seven results fill the window (buffer 0), so only three tasks run.
    expect(run.stats).toMatchObject({ limit: 10, buffered: 7, running: 3 });
    for (let wave = 0; wave < 20; wave++) {
      clock.t += 10;
      await s.settleAll((handle) => handle.resolve(0));
      if (run.stats.buffered === 10) await run.next();
    }
    expect(changes).toHaveLength(1);
    expect(run.stats.limit).toBe(10);
    // Now the consumer reads everything and the service is four times slower.
    const consume = (async () => {
      for await (const _ of run);
    })();
    await ticks(20);
    expect(s.pending).toHaveLength(10);
    clock.t += 40;
    await s.settleAll((handle) => handle.resolve(0));
    expect(changes[1]?.[1]).toBe('latency');
    expect(run.stats.limit).toBeLessThan(10);
    await run.return();
    await consume;
  });

  it('setLimit(n) fixes the limit (no more adapting); setLimit(adaptive()) adapts again from its initial', async () => {
    const { clock, changes, limit } = clocked({ algorithm: 'aimd', initial: 2, samples: 2 });
    const s = service();
    const run = limitedMap(s.ids(), limit, s.mapper);
    const consume = (async () => {
      for await (const _ of run);
    })();
    await ticks(20);
    run.setLimit(3);
    await ticks(20);
    for (let wave = 0; wave < 3; wave++) {
      clock.t += 10;
      await s.settleAll((handle) => handle.resolve(0));
    }
    expect(run.stats.limit).toBe(3);
    expect(changes).toEqual([]);
    run.setLimit(limit);
    expect(run.stats.limit).toBe(2);
    await ticks(20);
    for (let wave = 0; wave < 3; wave++) {
      clock.t += 10;
      await s.settleAll((handle) => handle.resolve(0));
    }
    expect(run.stats.limit).toBeGreaterThan(2);
    await run.return();
    await consume;
  });

  it('an isOverload that throws fails the run with what it threw', async () => {
    const boom = new Error('isOverload broke');
    const s = service();
    const run = limitedMap(
      s.ids(),
      adaptive({
        isOverload: () => {
          throw boom;
        },
      }),
      s.mapper,
    );
    const first = run.next();
    await ticks(20);
    s.pending[0]!.reject(unavailable());
    await expect(first).rejects.toBe(boom);
  });

  it('works with limitedAsCompleted and the push runs the stream stages use', async () => {
    const script = new Script({ readsSignal: false });
    const run = limitedAsCompleted(script.tasks(20), adaptive({ initial: 3 }));
    const first = run.next();
    await ticks(20);
    expect(script.running).toBe(3);
    while (script.pending().length > 0) {
      for (const id of script.pending()) script.resolve(id, id);
      await ticks(10);
    }
    await first;
    await run.return();
    const results: number[] = [];
    const push = limitedMapPush(adaptive({ initial: 2 }), (n: number) => n * 2, {
      onResult: (value) => results.push(value) > -1,
      onError: () => {},
      onDone: () => {},
      onReady: () => {},
    });
    push.resume();
    expect(push.stats.limit).toBe(2);
    push.write(1);
    push.end();
    await ticks(10);
    expect(results).toEqual([2]);
  });

  it('property: after any sequence of successes, overloads and other failures, no task starts beyond the limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('aimd' as const, 'gradient' as const),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('ok', 'slow', 'overload', 'error')), {
          minLength: 1,
          maxLength: 120,
        }),
        async (algorithm, initial, steps) => {
          let t = 0;
          const s = service();
          const run = limitedMapSettled(
            s.ids(),
            adaptive({ algorithm, initial, max: 16, samples: 2, now: () => t }),
            s.mapper,
          );
          s.state.limitOf = () => run.stats.limit;
          const consume = (async () => {
            for await (const _ of run);
          })();
          await ticks(10);
          for (const [pick, outcome] of steps) {
            if (s.pending.length === 0) break;
            const [handle] = s.pending.splice(pick % s.pending.length, 1);
            t += outcome === 'slow' ? 50 : 5;
            if (outcome === 'overload') handle!.reject(unavailable());
            else if (outcome === 'error') handle!.reject(new Error('bad input'));
            else handle!.resolve(0);
            await ticks(10);
            expect(run.stats.running).toBeLessThanOrEqual(Math.max(run.stats.limit, s.state.running));
          }
          await run.return();
          await consume;
          expect(s.state.overLimit).toBe(0);
          expect(run.stats.limit).toBeGreaterThanOrEqual(1);
          expect(run.stats.limit).toBeLessThanOrEqual(16);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('createLimiter(adaptive(...))', () => {
  it('grows while its calls use every place and succeed, shrinks on overload, and never runs more than concurrency', async () => {
    const { clock, changes, limit: spec } = clocked({ algorithm: 'aimd', initial: 2, samples: 2 });
    const limit = createLimiter(spec);
    const handles: Deferred<void>[] = [];
    let running = 0;
    let overLimit = 0;
    const call = (): Promise<void> => {
      running++;
      // A call admitted just before a decrease starts a microtask later (p-limit's contract): the limit before counts then.
      if (running > Math.max(limit.concurrency, changes.at(-2)?.[0] ?? 2)) overLimit++;
      const handle = deferred<void>();
      handles.push(handle);
      return handle.promise.finally(() => {
        running--;
      });
    };
    const calls = Array.from({ length: 30 }, () => limit(call).catch(() => {}));
    await ticks(10);
    expect(limit.activeCount).toBe(2);
    for (let wave = 0; wave < 3; wave++) {
      clock.t += 10;
      for (const handle of handles.splice(0)) handle.resolve();
      await ticks(20);
    }
    expect(limit.concurrency).toBe(16);
    clock.t += 10;
    for (const handle of handles.splice(0)) handle.reject(unavailable());
    await ticks(20);
    expect(limit.concurrency).toBe(12);
    expect(changes.at(-1)).toEqual([12, 'overload']);
    while (handles.length > 0) {
      for (const handle of handles.splice(0)) handle.resolve();
      await ticks(20);
    }
    await Promise.all(calls);
    expect(overLimit).toBe(0);
    // Setting concurrency stops adapting.
    limit.concurrency = 4;
    expect(limit.concurrency).toBe(4);
    expect(createLimiter({ concurrency: adaptive({ initial: 3 }) }).concurrency).toBe(3);
    expect(limitFunction(async () => 1, adaptive({ initial: 5 })).concurrency).toBe(5);
  });
});

describe('createSharedLimit(adaptive(...))', () => {
  it('learns from releases: slot.release({ error }) with overload shrinks it, for direct callers and runs alike', async () => {
    const { clock, changes, limit: spec } = clocked({ algorithm: 'aimd', initial: 4 });
    const shared = createSharedLimit(spec);
    expect(shared.limit).toBe(4);
    const slots = [0, 1, 2, 3].map(() => shared.acquire());
    clock.t += 10;
    for (const slot of slots)
      (slot as { release(failure?: { error: unknown }): void }).release({ error: unavailable() });
    // Once for the four: they started together, before the change.
    expect(changes).toEqual([[3, 'overload']]);
    expect(shared.limit).toBe(3);
    // The same from a run using the limit as `slots`: its failures reach the limit through release().
    const s = service();
    const run = limitedMapSettled(s.ids(), 16, s.mapper, { slots: shared });
    const first = run.next();
    await ticks(20);
    expect(s.pending).toHaveLength(3);
    clock.t += 10;
    await s.settleAll((handle) => handle.reject(unavailable()));
    expect(changes).toEqual([
      [3, 'overload'],
      [2, 'overload'],
    ]);
    expect(shared.limit).toBe(2);
    expect(run.stats.running).toBe(2);
    await first;
    await run.return();
  });
});
