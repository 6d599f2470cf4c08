/**
 * `timeout` with the other limits at once (fake timers): tasks that ignore their signal keep running
 * past their deadline, and every bound (the run's `limit`, `perKey`, a shared limit across two runs)
 * still counts them until they settle; timeouts are not retried, other failures are, exactly as
 * configured; every item has exactly one outcome, and a run ends only once what it started settled.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { createSharedLimit, limitedMapSettled, perKey, retryPolicy, type Settled } from '@lac/core';
import { assertProperty } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});

interface Spec {
  readonly key: 'a' | 'b' | 'c';
  /** Attempts 1..failures reject (when they do not time out first). */
  readonly failures: number;
  /** Even and at least 2 (a timer of 0 ms waits 1 ms), so it never equals the odd `timeout`: which timer fires first is never a tie. */
  readonly duration: number;
  /** Resolves when its signal aborts (a task that listens) or keeps running until `duration` (one that does not). */
  readonly isListening: boolean;
}

const spec = fc.record({
  key: fc.constantFrom('a' as const, 'b' as const, 'c' as const),
  failures: fc.integer({ min: 0, max: 2 }),
  duration: fc.integer({ min: 1, max: 30 }).map((n) => n * 2),
  isListening: fc.boolean(),
});

describe('timeout with retry, perKey and a shared limit at once', () => {
  it('property: timed-out tasks still running count toward every bound, outcomes are exact and once each, runs end only after their tasks settle', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 15 }).map((n) => n * 2 + 1),
        fc.array(spec, { maxLength: 8 }),
        fc.array(spec, { maxLength: 8 }),
        fc.boolean(),
        async (shared, limit, perKeyLimit, retries, timeout, specsA, specsB, ordered) => {
          const slots = createSharedLimit(shared);
          const violations: string[] = [];
          let runningAll = 0;
          const runOne = async (name: string, specs: readonly Spec[]) => {
            const calls = specs.map(() => 0);
            const perKeyRunning = new Map<string, number>();
            let running = 0;
            let isEnded = false;
            const items = specs.map((s, id) => ({ ...s, id }));
            const iterator = limitedMapSettled(
              items,
              limit,
              (item, context) => {
                calls[item.id]!++;
                if (isEnded) violations.push(`${name}: item ${item.id} started after the run ended`);
                running++;
                runningAll++;
                perKeyRunning.set(item.key, (perKeyRunning.get(item.key) ?? 0) + 1);
                if (running > limit) violations.push(`${name}: ${running} running > limit ${limit}`);
                if (runningAll > shared) violations.push(`${runningAll} running in both runs > shared ${shared}`);
                if (perKeyRunning.get(item.key)! > perKeyLimit)
                  violations.push(`${name}: key ${item.key} has ${perKeyRunning.get(item.key)} > ${perKeyLimit}`);
                const attempt = context.attempt;
                return new Promise<number>((resolve, reject) => {
                  const finish = () => {
                    running--;
                    runningAll--;
                    perKeyRunning.set(item.key, perKeyRunning.get(item.key)! - 1);
                    if (attempt <= item.failures) reject(new Error(`${name} item ${item.id} attempt ${attempt}`));
                    else resolve(item.id);
                  };
                  const timer = setTimeout(finish, item.duration);
                  if (item.isListening)
                    context.signal.addEventListener('abort', () => {
                      clearTimeout(timer);
                      // Settles a little later, as a real task unwinding would: its slot is held until then.
                      setTimeout(finish, 1);
                    });
                });
              },
              {
                timeout,
                slots,
                perKey: perKey((item: (typeof items)[number]) => item.key, perKeyLimit),
                retry: retryPolicy({ retries, minDelay: 3 }),
                ordered,
              },
            );
            const outcomes: Settled<number>[] = [];
            for await (const outcome of iterator) outcomes.push(outcome);
            isEnded = true;
            if (running !== 0) violations.push(`${name}: ended with ${running} of its tasks still running`);
            if (iterator.stats.running !== 0)
              violations.push(`${name}: stats.running ${iterator.stats.running} at the end`);
            return { calls, outcomes };
          };
          const both = Promise.all([runOne('A', specsA), runOne('B', specsB)]);
          await vi.advanceTimersByTimeAsync(100_000);
          const results = await both;
          expect(violations).toEqual([]);
          expect(slots.running).toBe(0);
          expect(slots.pending).toBe(0);
          for (const [run, specs] of [
            [results[0], specsA],
            [results[1], specsB],
          ] as const) {
            const { calls, outcomes } = run;
            const indexes = outcomes.map((o) => o.index);
            expect([...indexes].sort((x, y) => x - y)).toEqual(specs.map((_, i) => i));
            if (ordered) expect(indexes).toEqual(specs.map((_, i) => i));
            for (const outcome of outcomes) {
              const s = specs[outcome.index]!;
              if (s.duration > timeout) {
                // Timed out on its first attempt: not retried.
                expect(calls[outcome.index]).toBe(1);
                expect(outcome.status).toBe('rejected');
                expect(outcome.status === 'rejected' && (outcome.reason as Error).name).toBe('TimeoutError');
              } else {
                expect(calls[outcome.index]).toBe(Math.min(s.failures, retries) + 1);
                expect(outcome.status).toBe(s.failures <= retries ? 'fulfilled' : 'rejected');
                if (outcome.status === 'rejected') expect(outcome.attempts).toBe(retries + 1);
              }
            }
          }
          return true;
        },
      ),
      150,
    );
  });
});
