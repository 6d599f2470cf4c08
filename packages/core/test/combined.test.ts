/** key + retry + rate together (fake timers): the bounds hold at once and retries are exact. */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { limitedMapSettled, perKey, rateLimit, retryPolicy } from '@lac/core';
import { assertProperty } from './helpers.js';

// The unhandled-rejection watch is test/setup.ts's, which also restores real timers after each test.
beforeEach(() => {
  vi.useFakeTimers();
});

describe('per-key limits, retries and rate windows at once', () => {
  it('property: per-key and total bounds, rate windows and exact retry counts all hold (ordered or not); drain() starts no new item', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 0, max: 2 }),
        fc.option(fc.record({ limit: fc.integer({ min: 1, max: 3 }), interval: fc.integer({ min: 1, max: 100 }) }), {
          nil: undefined,
        }),
        fc.array(
          fc.record({
            key: fc.constantFrom('a', 'b', 'c'),
            failures: fc.integer({ min: 0, max: 3 }),
            duration: fc.integer({ min: 0, max: 40 }),
          }),
          {
            maxLength: 12,
          },
        ),
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        async (limit, perKeyLimit, retries, rate, specs, ordered, drainAfter) => {
          const calls = specs.map(() => 0);
          const running = new Map<string, number>();
          const starts: number[] = [];
          let total = 0;
          const violations: string[] = [];
          const items = specs.map((spec, id) => ({ ...spec, id }));
          const iterator = limitedMapSettled(
            items,
            limit,
            (item, context) => {
              calls[item.id]!++;
              starts.push(Date.now());
              total++;
              running.set(item.key, (running.get(item.key) ?? 0) + 1);
              if (total > limit) violations.push(`total ${total} > ${limit}`);
              if (running.get(item.key)! > perKeyLimit) violations.push(`key ${item.key} over ${perKeyLimit}`);
              return new Promise<number>((resolve, reject) =>
                setTimeout(() => {
                  total--;
                  running.set(item.key, running.get(item.key)! - 1);
                  if (context.attempt <= item.failures) reject(new Error(`item ${item.id}`));
                  else resolve(item.id);
                }, item.duration),
              );
            },
            {
              perKey: perKey((item: (typeof items)[number]) => item.key, perKeyLimit),
              retry: retryPolicy({ retries, minDelay: 5 }),
              ordered,
              ...(rate === undefined ? {} : { rate: rateLimit(rate) }),
            },
          );
          let startedAtDrain: number[] | undefined;
          const done = (async () => {
            const values = [];
            for (;;) {
              if (values.length === drainAfter && startedAtDrain === undefined) {
                startedAtDrain = calls.flatMap((count, id) => (count > 0 ? [id] : []));
                iterator.drain();
              }
              const step = await iterator.next();
              if (step.done) return { values, isThrown: false };
              values.push(step.value);
            }
          })();
          await vi.advanceTimersByTimeAsync(200_000);
          const { values, isThrown } = await done;
          expect(isThrown).toBe(false);
          expect(violations).toEqual([]);
          // Drained: exactly the items started before drain() run (with all their retries) and are delivered.
          const expectedIds = startedAtDrain ?? specs.map((_, id) => id);
          expect(calls.flatMap((count, id) => (count > 0 ? [id] : []))).toEqual(expectedIds);
          for (const id of expectedIds) expect(calls[id]).toBe(Math.min(specs[id]!.failures, retries) + 1);
          expect(values.map((outcome) => outcome.index).sort((a, b) => a - b)).toEqual(expectedIds);
          if (ordered) expect(values.map((outcome) => outcome.index)).toEqual(expectedIds);
          if (rate !== undefined) {
            for (let i = rate.limit; i < starts.length; i++)
              expect(starts[i]! - starts[i - rate.limit]!).toBeGreaterThanOrEqual(rate.interval);
          }
          return true;
        },
      ),
      100,
    );
  });
});
