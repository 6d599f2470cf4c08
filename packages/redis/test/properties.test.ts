import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { limitedAsCompleted, slotsFrom, type TaskContext } from '@lac/core';
import { redisSlots } from '../src/index.ts';
import { hasRedisServer, keysOf, RedisServer, waitUntil } from './fixtures/redis-server.ts';

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await RedisServer.start();
  client = server.client();
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

const workerArb = fc.record({
  localLimit: fc.integer({ min: 1, max: 4 }),
  durations: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 12 }),
  /** Stop iterating early after this many results (undefined: consume everything). */
  exitAfter: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
});

describe.skipIf(!hasRedisServer)('shared limit properties (fast-check, real redis-server)', () => {
  it('for random limits, workers and durations: never more than the limit at once, every task at most once (exactly once unless its worker exited early), and nothing left in Redis', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(workerArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(0, 50),
        async (limit, workers, handoffMs) => {
          const key = `prop-${run++}`;
          let running = 0;
          let maxRunning = 0;
          const all = workers.map(() =>
            redisSlots({ client, key, limit, leaseMs: 3000, pollMs: 50, handoffMs, quarantineMs: 0 }),
          );
          try {
            const outcomes = await Promise.all(
              workers.map(async (worker, w) => {
                const calls = new Map<number, number>();
                const tasks = worker.durations.map((ms, index) => ({ signal }: TaskContext) => {
                  calls.set(index, (calls.get(index) ?? 0) + 1);
                  running++;
                  maxRunning = Math.max(maxRunning, running);
                  return new Promise<number>((resolve, reject) => {
                    const timer = setTimeout(() => {
                      running--;
                      resolve(index);
                    }, ms);
                    signal.addEventListener('abort', () => {
                      clearTimeout(timer);
                      running--;
                      reject(signal.reason);
                    });
                  });
                });
                const results: number[] = [];
                for await (const index of limitedAsCompleted(tasks, worker.localLimit, { slots: slotsFrom(all[w]!) })) {
                  if (worker.exitAfter !== undefined && results.length >= worker.exitAfter) break;
                  results.push(index);
                }
                return { calls, results };
              }),
            );
            expect(maxRunning).toBeLessThanOrEqual(limit);
            workers.forEach((worker, w) => {
              const { calls, results } = outcomes[w]!;
              expect([...calls.values()].every((count) => count === 1)).toBe(true);
              expect(new Set(results).size).toBe(results.length);
              if (worker.exitAfter === undefined || worker.exitAfter >= worker.durations.length) {
                expect(results.sort((x, y) => x - y)).toEqual(worker.durations.map((_, i) => i));
              }
            });
            // Every lease and every place in the queue is given back (releases are not awaited by the run).
            const keys = keysOf(key);
            await waitUntil(
              async () => (await client.zcard(keys.leases)) === 0 && (await client.zcard(keys.queue)) === 0,
              5,
            );
            await waitUntil(() => running === 0, 5);
            for (const slots of all) expect(slots.stats).toMatchObject({ held: 0, waiting: 0 });
          } finally {
            for (const slots of all) slots.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
