/**
 * Property tests: random limits, buffers, task counts, outcomes, sources and consumer speeds, with
 * fc.scheduler() choosing the interleaving of task settles, source pulls and consumer steps.
 * Rules checked: 1 (bound), 2 (laziness), 3 (order), 4 (exactly once), 5 (fail fast), 6 (settled),
 * 7 (early exit) and 11 (createLimiter).
 */
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import {
  createLimiter,
  limitedAsCompleted,
  limitedAsSettled,
  limitedMap,
  rateLimit,
  TimeoutError,
  type LimitedIterator,
  type Settled,
  type Task,
  type TaskContext,
} from '@lac/core';
import { assertProperty } from './helpers.js';

// Failures and early exits run in every property: none may leave a rejection unhandled.
type Kind = 'resolve' | 'reject' | 'throw' | 'value';
interface TaskSpec {
  readonly kind: Kind;
  readonly readsSignal: boolean;
}

const taskSpecArb: fc.Arbitrary<TaskSpec> = fc.record({
  kind: fc.constantFrom<Kind>('resolve', 'resolve', 'resolve', 'resolve', 'value', 'reject', 'throw'),
  readsSignal: fc.boolean(),
});

const runArb = fc.record({
  form: fc.constantFrom('completed' as const, 'settled' as const, 'map' as const),
  limit: fc.oneof(
    { weight: 9, arbitrary: fc.integer({ min: 1, max: 6 }) },
    { weight: 1, arbitrary: fc.constant(Number.POSITIVE_INFINITY) },
  ),
  buffer: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  ordered: fc.boolean(),
  isAsyncSource: fc.boolean(),
  specs: fc.array(taskSpecArb, { maxLength: 25 }),
  /** Whether the consumer yields to the scheduler before each next(): a slow or a fast consumer. */
  pauses: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  stopAfter: fc.option(fc.nat(12), { nil: undefined, freq: 3 }),
});

const valueOf = (index: number) => index * 10 + 7;

describe('properties of limitedAsCompleted, limitedAsSettled and limitedMap under random interleavings', () => {
  it('hold the bound, laziness, order, exactly-once, fail-fast and early-exit rules', async () => {
    await assertProperty(
      fc.asyncProperty(fc.scheduler(), runArb, async (s, run) => {
        const { form, limit, ordered, isAsyncSource, specs, pauses, stopAfter } = run;
        const n = specs.length;
        const windowSize = limit + (run.buffer ?? limit);
        const errors = specs.map((_, index) => new Error(`task ${index} failed`));

        let running = 0;
        let peak = 0;
        let nextCalls = 0;
        const starts: number[] = [];
        const calls = new Array<number>(n).fill(0);
        const contexts = new Map<number, TaskContext>();
        const settleLog: { index: number; isFulfilled: boolean }[] = [];
        const violations: string[] = [];
        let iterator: LimitedIterator<unknown> | undefined;

        let startsAtFirstFailure: number | undefined;
        const onSettled = (index: number, isFulfilled: boolean) => {
          if (!isFulfilled && startsAtFirstFailure === undefined) startsAtFirstFailure = starts.length;
          running--;
          settleLog.push({ index, isFulfilled });
        };
        const runTask = (index: number, context: TaskContext): number | Promise<number> => {
          calls[index]!++;
          starts.push(index);
          contexts.set(index, context);
          if (context.index !== index) violations.push(`task ${index} got context.index ${context.index}`);
          if (running >= limit) violations.push(`task ${index} started with ${running} running (limit ${limit})`);
          if (starts.length - nextCalls > windowSize) {
            violations.push(
              `task ${index} started with ${starts.length} started and only ${nextCalls} next() calls (window ${windowSize})`,
            );
          }
          running++;
          peak = Math.max(peak, running);
          const spec = specs[index]!;
          if (spec.readsSignal) void context.signal;
          if (spec.kind === 'value') {
            onSettled(index, true);
            return valueOf(index);
          }
          if (spec.kind === 'throw') {
            onSettled(index, false);
            throw errors[index];
          }
          const promise =
            spec.kind === 'resolve'
              ? s.schedule(Promise.resolve(valueOf(index)), `task ${index} resolves`)
              : s.schedule(Promise.resolve(), `task ${index} rejects`).then(() => {
                  throw errors[index];
                });
          // Registered before the scheduler's own callbacks on the same promise.
          promise.then(
            () => onSettled(index, true),
            () => onSettled(index, false),
          );
          return promise;
        };

        // The source: a sync generator, or a hand-written async iterator whose pulls the scheduler delays.
        let pulls = 0;
        let outstandingPulls = 0;
        let maxOutstandingPulls = 0;
        let isSourceExhausted = false;
        let isFinallyRun = false;
        let returnCalls = 0;
        let isReturnedWhilePulling = false;
        const checkPull = () => {
          pulls++;
          if (running >= limit) violations.push(`source pulled with ${running} running (limit ${limit})`);
          const stats = iterator!.stats;
          if (stats.running + stats.buffered >= windowSize)
            violations.push(`source pulled with a full window (${JSON.stringify(stats)})`);
        };
        const item = (index: number): unknown =>
          form === 'map' ? index : (context: TaskContext) => runTask(index, context);
        let source: Iterable<unknown> | AsyncIterable<unknown>;
        if (isAsyncSource) {
          let position = 0;
          const asyncIterator: AsyncIterableIterator<unknown> = {
            [Symbol.asyncIterator]: () => asyncIterator,
            next: () => {
              outstandingPulls++;
              maxOutstandingPulls = Math.max(maxOutstandingPulls, outstandingPulls);
              checkPull();
              const step: IteratorResult<unknown> =
                position < n ? { value: item(position++), done: false } : { value: undefined, done: true };
              if (step.done) isSourceExhausted = true;
              return s.schedule(Promise.resolve(step), 'source pull').then((result) => {
                outstandingPulls--;
                return result;
              });
            },
            return: () => {
              returnCalls++;
              if (outstandingPulls > 0) isReturnedWhilePulling = true;
              isFinallyRun = true;
              return Promise.resolve({ value: undefined, done: true });
            },
          };
          source = asyncIterator;
        } else {
          source = (function* generate() {
            try {
              for (let index = 0; index < n; index++) {
                checkPull();
                yield item(index);
              }
              checkPull();
              isSourceExhausted = true;
            } finally {
              isFinallyRun = true;
            }
          })();
        }

        const options = { ordered, ...(run.buffer === undefined ? {} : { buffer: run.buffer }) };
        iterator =
          form === 'completed'
            ? limitedAsCompleted(source as Iterable<Task<number>>, limit, options)
            : form === 'settled'
              ? (limitedAsSettled(source as Iterable<Task<number>>, limit, options) as LimitedIterator<unknown>)
              : limitedMap(source as Iterable<number>, limit, (index, context) => runTask(index, context), options);

        // The consumer.
        const yielded: unknown[] = [];
        let thrown: unknown;
        let isThrown = false;
        let isConsumerDone = false;
        let startsAtStop: number | undefined;
        let runningAtStop: number[] = [];
        const consumer = (async () => {
          try {
            for (let step = 0; ; step++) {
              if (pauses[step % pauses.length]) await s.schedule(Promise.resolve(), 'consumer pause');
              nextCalls++;
              const result = await iterator.next();
              if (result.done) break;
              yielded.push(result.value);
              if (stopAfter !== undefined && yielded.length >= stopAfter) {
                startsAtStop = starts.length;
                const settledIndices = new Set(settleLog.map((entry) => entry.index));
                runningAtStop = starts.filter((index) => !settledIndices.has(index));
                await iterator.return();
                break;
              }
            }
          } catch (error) {
            thrown = error;
            isThrown = true;
          }
          isConsumerDone = true;
        })();

        for (let round = 0; round < 20 && !isConsumerDone; round++) await s.waitIdle();
        await s.waitIdle();
        await consumer;

        // Rule 1 and 2.
        expect(violations).toEqual([]);
        expect(peak).toBeLessThanOrEqual(limit);
        expect(maxOutstandingPulls).toBeLessThanOrEqual(1);
        expect(isReturnedWhilePulling).toBe(false);
        expect(pulls).toBeLessThanOrEqual(n + 1);

        // Rule 4: every task is called at most once; nothing is yielded twice.
        expect(calls.every((count) => count <= 1)).toBe(true);
        const yieldedIndices = yielded.map((value) => {
          if (form === 'settled') return (value as Settled<number>).index;
          return ((value as number) - 7) / 10;
        });
        expect(new Set(yieldedIndices).size).toBe(yieldedIndices.length);

        // Where the expected output ends: the first failure (fail-fast forms) or the early stop.
        const firstFailure = form === 'settled' ? -1 : settleLog.findIndex((entry) => !entry.isFulfilled);
        const beforeFailure = firstFailure === -1 ? settleLog : settleLog.slice(0, firstFailure);

        if (form === 'settled') {
          expect(isThrown).toBe(false);
          for (const record of yielded as Settled<number>[]) {
            if (record.status === 'fulfilled') expect(record.value).toBe(valueOf(record.index));
            else expect(record.reason).toBe(errors[record.index]);
            expect(record.status).toBe(
              specs[record.index]!.kind === 'resolve' || specs[record.index]!.kind === 'value'
                ? 'fulfilled'
                : 'rejected',
            );
          }
        } else {
          for (const value of yielded) expect(specs[((value as number) - 7) / 10]!.kind).toMatch(/resolve|value/);
        }

        // Rule 3: completion order is settle order; ordered is source order.
        let expected: number[];
        if (ordered) {
          const deliverable = new Set(
            beforeFailure.filter((entry) => form === 'settled' || entry.isFulfilled).map((entry) => entry.index),
          );
          let prefix = 0;
          while (deliverable.has(prefix)) prefix++;
          expected = [...Array(prefix).keys()];
        } else {
          expected = beforeFailure
            .filter((entry) => form === 'settled' || entry.isFulfilled)
            .map((entry) => entry.index);
        }
        if (startsAtStop === undefined) {
          expect(yieldedIndices).toEqual(expected);
        } else {
          // Stopped early: what came out is the start of what would have come out.
          expect(yieldedIndices).toEqual(expected.slice(0, yieldedIndices.length));
        }

        // Rule 5: fail fast.
        if (firstFailure !== -1 && startsAtStop === undefined) {
          const failure = settleLog[firstFailure]!;
          expect(isThrown).toBe(true);
          expect(thrown).toBe(errors[failure.index]);
          // No task started after the failure.
          expect(starts.length).toBe(startsAtFirstFailure);
          // In-flight tasks at the failure saw their signal abort.
          const settledBefore = new Set(settleLog.slice(0, firstFailure + 1).map((entry) => entry.index));
          for (const index of starts) {
            if (!settledBefore.has(index) && specs[index]!.readsSignal)
              expect(contexts.get(index)!.signal.aborted).toBe(true);
          }
          expect(await iterator.next()).toEqual({ value: undefined, done: true });
        } else if (startsAtStop === undefined) {
          // Rule 4: a full run calls every task once and delivers every result once.
          expect(isThrown).toBe(false);
          expect(calls.every((count) => count === 1)).toBe(true);
          expect(yielded).toHaveLength(n);
        }

        // Rule 7: early exit.
        if (startsAtStop !== undefined) {
          expect(starts.length).toBe(startsAtStop);
          // (A task that never read its signal while running has no controller to abort: it is made lazily.)
          for (const index of runningAtStop)
            if (specs[index]!.readsSignal) expect(contexts.get(index)!.signal.aborted).toBe(true);
        }

        // The source is closed (or ran out) in every case.
        expect(isFinallyRun || isSourceExhausted).toBe(true);
        if (isAsyncSource) expect(returnCalls).toBe(isSourceExhausted ? 0 : 1);
        else expect(isFinallyRun).toBe(true);
        expect(running).toBe(0);
        // Stats agree with what the tasks saw.
        const fulfilled = settleLog.filter((entry) => entry.isFulfilled).length;
        expect(iterator.stats).toMatchObject({
          started: starts.length,
          running: 0,
          completed: fulfilled,
          failed: settleLog.length - fulfilled,
        });
      }),
      300,
    );
  });
});

describe('properties of createLimiter under random interleavings', () => {
  it('never runs more than concurrency calls, calls each function once and settles each promise with its outcome', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 5 }),
        fc.array(
          fc.record({
            isFailure: fc.boolean(),
            raiseTo: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined, freq: 8 }),
          }),
          {
            maxLength: 30,
          },
        ),
        async (s, concurrency, calls) => {
          const limit = createLimiter(concurrency);
          let running = 0;
          let peak = 0;
          let limitInForce = concurrency;
          let maxLimitInForce = concurrency;
          const callCounts = new Array<number>(calls.length).fill(0);
          const outcomes = calls.map((call, index) =>
            limit(async (id: number) => {
              callCounts[id]!++;
              running++;
              peak = Math.max(peak, running);
              if (running > maxLimitInForce) throw new Error(`bound broken: ${running} running`);
              expect(limit.activeCount).toBeLessThanOrEqual(Math.max(limitInForce, maxLimitInForce));
              try {
                await s.schedule(Promise.resolve(), `call ${id}`);
                if (call.raiseTo !== undefined) {
                  limitInForce = call.raiseTo;
                  maxLimitInForce = Math.max(maxLimitInForce, call.raiseTo);
                  limit.concurrency = call.raiseTo;
                }
                if (call.isFailure) throw new Error(`call ${id} failed`);
                return id;
              } finally {
                running--;
              }
            }, index).then(
              (value) => ({ ok: true, value }),
              (error: Error) => ({ ok: false, value: error.message }),
            ),
          );
          await s.waitIdle();
          const results = await Promise.all(outcomes);
          expect(callCounts.every((count) => count === 1)).toBe(true);
          expect(results).toEqual(
            calls.map((call, index) =>
              call.isFailure ? { ok: false, value: `call ${index} failed` } : { ok: true, value: index },
            ),
          );
          expect(peak).toBeLessThanOrEqual(maxLimitInForce);
          if (calls.length >= concurrency) expect(peak).toBeGreaterThanOrEqual(Math.min(concurrency, calls.length));
          expect(limit.activeCount).toBe(0);
          expect(limit.pendingCount).toBe(0);
        },
      ),
      300,
    );
  });
});

describe('properties of timeout and rate under random task durations (fake timers)', () => {
  it('never more than rate.limit starts in any interval, never more than limit running, timeouts exactly when due', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.option(fc.record({ limit: fc.integer({ min: 1, max: 3 }), interval: fc.integer({ min: 1, max: 50 }) }), {
          nil: undefined,
        }),
        fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
        // From 1 ms: timers clamp a 0 ms delay to 1 ms, as Node does.
        fc.array(fc.integer({ min: 1, max: 80 }), { maxLength: 15 }),
        fc.boolean(),
        fc.boolean(),
        async (limit, rate, timeout, durations, isAsyncSource, ordered) => {
          vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
          try {
            const startTimes: number[] = [];
            let running = 0;
            let peak = 0;
            const tasks = durations.map((duration, index) => () => {
              startTimes.push(Date.now());
              running++;
              peak = Math.max(peak, running);
              return new Promise<number>((resolve) => {
                setTimeout(() => {
                  running--;
                  resolve(index);
                }, duration);
              });
            });
            async function* asyncTasks() {
              yield* tasks;
            }
            const options = {
              ordered,
              ...(rate === undefined ? {} : { rate: rateLimit(rate) }),
              ...(timeout === undefined ? {} : { timeout }),
            };
            const iterator = limitedAsSettled(isAsyncSource ? asyncTasks() : tasks, limit, options);
            const records: Settled<number>[] = [];
            let isDone = false;
            const t0 = Date.now();
            let endTime = t0;
            const consumer = (async () => {
              for await (const record of iterator) records.push(record);
              endTime = Date.now();
              isDone = true;
            })();
            for (let step = 0; step < 10_000 && !isDone; step++) {
              await Promise.resolve();
              if (vi.getTimerCount() > 0) await vi.advanceTimersToNextTimerAsync();
              else for (let i = 0; i < 20; i++) await Promise.resolve();
            }
            await consumer;
            expect(records).toHaveLength(durations.length);
            if (ordered) expect(records.map((record) => record.index)).toEqual([...durations.keys()]);
            // The bound, timeouts included: a timed-out task keeps its slot until it settles.
            expect(peak).toBeLessThanOrEqual(limit);
            const ends = startTimes.map((start, index) => start + durations[index]!);
            for (const [index, start] of startTimes.entries()) {
              const holding = startTimes.filter((other, k) => k <= index && other <= start && ends[k]! > start).length;
              expect(holding).toBeLessThanOrEqual(limit);
            }
            // The run ends when its last task settles (a timed-out one too), not a rate interval later.
            expect(endTime).toBe(Math.max(t0, ...ends));
            if (rate !== undefined) {
              for (let i = rate.limit; i < startTimes.length; i++) {
                expect(startTimes[i]! - startTimes[i - rate.limit]!).toBeGreaterThanOrEqual(rate.interval);
              }
            }
            for (const record of records) {
              const isDue = timeout !== undefined && durations[record.index]! >= timeout;
              if (isDue) {
                expect(record.status).toBe('rejected');
                expect((record as { reason: unknown }).reason).toBeInstanceOf(TimeoutError);
              } else {
                expect(record).toEqual({ status: 'fulfilled', value: record.index, index: record.index });
              }
            }
            expect(iterator.stats.running).toBe(0);
          } finally {
            vi.useRealTimers();
          }
        },
      ),
      200,
    );
  });
});
