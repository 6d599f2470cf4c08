// Which AsyncLocalStorage context a task of limitedAsCompleted runs in (README: "Async context").
// Core imports no node: module; these tests may, to observe what a Node user sees.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import {
  createLimiter,
  createSharedLimit,
  limitedAsCompleted,
  limitedMap,
  limitedMapSettled,
  perKey,
  rateLimit,
  retryPolicy,
  slotsFrom,
  type SlotSource,
  type TaskContext,
} from '@lac/core';
import { ManualAsyncSource, deferred, drain, flush } from './helpers.js';

const als = new AsyncLocalStorage<string>();

/** Tasks that record the context they start in and the one they see after an await. */
function recordingTasks(count: number, seen: string[]) {
  return Array.from({ length: count }, (_, i) => async () => {
    seen.push(`start ${als.getStore()}`);
    await new Promise((resolve) => setImmediate(resolve));
    seen.push(`after ${als.getStore()}`);
    return i;
  });
}

describe('a task runs in the async context of the code that iterates its run', () => {
  it('every task of a run iterated in one context runs in it, wherever the run was created', async () => {
    const seen: string[] = [];
    const run = als.run('creator', () => limitedAsCompleted(recordingTasks(6, seen), 2));
    const { values } = await als.run('consumer', () => drain(run));
    expect(values.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set(seen)).toEqual(new Set(['start consumer', 'after consumer']));
  });

  it('two runs iterated at once in two contexts, limit 1, sharing one slot: no context leaks between them', async () => {
    // One shared slot: a release by one run hands the slot to the other run's waiting acquire.
    let isHeld = false;
    const waiting: Array<(slot: number) => void> = [];
    const slots: SlotSource<number> = {
      acquire: () => {
        if (!isHeld) {
          isHeld = true;
          return 0;
        }
        return new Promise<number>((resolve) => waiting.push(resolve));
      },
      release: () => {
        const next = waiting.shift();
        if (next === undefined) isHeld = false;
        else next(0);
      },
    };
    const seenA: string[] = [];
    const seenB: string[] = [];
    const [a, b] = await Promise.all([
      als.run('A', () => drain(limitedAsCompleted(recordingTasks(5, seenA), 1, { slots: slotsFrom(slots) }))),
      als.run('B', () => drain(limitedAsCompleted(recordingTasks(5, seenB), 1, { slots: slotsFrom(slots) }))),
    ]);
    expect(a.values).toHaveLength(5);
    expect(b.values).toHaveLength(5);
    expect(new Set(seenA)).toEqual(new Set(['start A', 'after A']));
    expect(new Set(seenB)).toEqual(new Set(['start B', 'after B']));
  });

  it('an async source whose items arrive from another context: tasks still run in the consumer context', async () => {
    const source = new ManualAsyncSource<(context: TaskContext) => string>();
    const seen: string[] = [];
    const task = () => {
      seen.push(als.getStore() ?? 'none');
      return 'done';
    };
    const run = limitedAsCompleted(source, 2);
    const first = als.run('consumer', () => run.next());
    await flush();
    als.run('producer', () => source.yieldValue(task));
    expect(await first).toEqual({ value: 'done', done: false });
    const second = als.run('consumer', () => run.next());
    await flush();
    als.run('producer', () => source.yieldValue(task));
    await second;
    const end = als.run('consumer', () => run.next());
    await flush();
    als.run('producer', () => source.finish());
    expect(await end).toEqual({ value: undefined, done: true });
    expect(seen).toEqual(['consumer', 'consumer']);
  });

  it('limitedMap with timeout and a gate released from another context: the mapper runs in the consumer context', async () => {
    const gate = deferred();
    const seen: string[] = [];
    const run = limitedMap(
      [1, 2, 3],
      1,
      async (n) => {
        seen.push(als.getStore() ?? 'none');
        if (n === 1) await gate.promise;
        return n;
      },
      { timeout: 60_000 },
    );
    const drained = als.run('consumer', () => drain(run));
    await flush();
    als.run('other', () => gate.resolve(undefined));
    expect((await drained).values).toEqual([1, 2, 3]);
    expect(seen).toEqual(['consumer', 'consumer', 'consumer']);
  });

  it("two runs in two contexts sharing createSharedLimit(1), with perKey, retry and a binding rate window: each run's attempts, first and retried, run in its own context", async () => {
    const slots = createSharedLimit(1);
    const seen: Record<string, string[]> = { A: [], B: [] };
    const attempts: Record<string, number> = { A: 0, B: 0 };
    const run = (name: string) =>
      limitedMapSettled(
        [0, 1, 2, 3, 4, 5],
        2,
        async (i, context) => {
          attempts[name]!++;
          seen[name]!.push(als.getStore() ?? 'none');
          await new Promise((resolve) => setImmediate(resolve));
          seen[name]!.push(als.getStore() ?? 'none');
          // Even items fail their first attempt: their retries start from a backoff timer.
          if (context.attempt === 1 && i % 2 === 0) throw new Error(`${name} ${i}`);
          return i;
        },
        {
          slots,
          perKey: perKey((i: number) => i % 2, 1),
          retry: retryPolicy({ retries: 1, minDelay: 1 }),
          rate: rateLimit({ limit: 2, interval: 5 }),
        },
      );
    const [a, b] = await Promise.all([als.run('A', () => drain(run('A'))), als.run('B', () => drain(run('B')))]);
    for (const { values } of [a, b])
      expect(values.map((outcome) => outcome.status)).toEqual(Array(6).fill('fulfilled'));
    expect(attempts).toEqual({ A: 9, B: 9 });
    expect(new Set(seen.A)).toEqual(new Set(['A']));
    expect(new Set(seen.B)).toEqual(new Set(['B']));
  });

  it("two limiters sharing createSharedLimit(1), called in two contexts: a call started by the other's release runs in its caller's context", async () => {
    const slots = createSharedLimit(1);
    const limiters = { A: createLimiter({ concurrency: 1, slots }), B: createLimiter({ concurrency: 1, slots }) };
    const seen: string[] = [];
    const task = (name: string) => async () => {
      seen.push(`${name} in ${als.getStore()}`);
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(`${name} in ${als.getStore()}`);
    };
    const calls = (name: 'A' | 'B') =>
      als.run(name, () => Promise.all([1, 2, 3].map(() => limiters[name](task(name)))));
    await Promise.all([calls('A'), calls('B')]);
    expect(seen.sort()).toEqual([...Array(6).fill('A in A'), ...Array(6).fill('B in B')]);
  });
});
