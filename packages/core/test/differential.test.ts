/**
 * Differential tests: the same random scripts run through @lac/core and through the real p-limit,
 * and the observable behaviour must match. Time is driven by deferred promises settled in a
 * script-chosen order, with every microtask run between steps.
 */
import { describe, expect, it } from 'vitest';
import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import pLimit from 'p-limit';
import { createLimiter, limitedAsCompleted, limitedAsSettled, type Task } from '@lac/core';
import { type Deferred, assertProperty, deferred, flush } from './helpers.js';

// Failures and early exits run in every property: none may leave a rejection unhandled.
type Outcome = { kind: 'resolve' | 'reject' | 'throw' | 'value'; value: number };
type Op =
  | { type: 'call'; outcome: Outcome }
  | { type: 'settle'; pick: number }
  | { type: 'concurrency'; value: number }
  | { type: 'clear' };

interface LimiterLike {
  <A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>, ...args: A): Promise<R>;
  readonly activeCount: number;
  readonly pendingCount: number;
  concurrency: number;
  clearQueue(): void;
}

const outcomeArb: fc.Arbitrary<Outcome> = fc.record({
  kind: fc.constantFrom('resolve', 'resolve', 'resolve', 'reject', 'throw', 'value'),
  value: fc.integer({ min: 0, max: 999 }),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ type: fc.constant('call' as const), outcome: outcomeArb }) },
  { weight: 6, arbitrary: fc.record({ type: fc.constant('settle' as const), pick: fc.nat(20) }) },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('concurrency' as const), value: fc.integer({ min: 1, max: 5 }) }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('clear' as const) }) },
);

const concurrencyArb = fc.oneof(
  { weight: 9, arbitrary: fc.integer({ min: 1, max: 5 }) },
  { weight: 1, arbitrary: fc.constant(Number.POSITIVE_INFINITY) },
);

/** Each call is made inside its own AsyncLocalStorage context; the function records the context it runs in. */
const store = new AsyncLocalStorage<number>();

/** Runs a script through a limiter and records everything observable. */
async function runLimiter(limit: LimiterLike, ops: Op[]) {
  const starts: number[] = [];
  const contexts: [number, number | undefined][] = [];
  const results = new Map<number, string>();
  const counts: [number, number][] = [];
  const handles = new Map<number, { handle: Deferred<number>; outcome: Outcome }>();
  const runningIds: number[] = [];
  let running = 0;
  let peak = 0;
  let nextId = 0;

  const fn = (id: number, outcome: Outcome): number | Promise<number> => {
    starts.push(id);
    contexts.push([id, store.getStore()]);
    running++;
    peak = Math.max(peak, running);
    if (outcome.kind === 'value') {
      running--;
      return outcome.value;
    }
    if (outcome.kind === 'throw') {
      running--;
      throw new Error(`throw ${id}`);
    }
    const handle = deferred<number>();
    handle.promise.then(
      () => running--,
      () => running--,
    );
    handles.set(id, { handle, outcome });
    runningIds.push(id);
    return handle.promise;
  };
  const settle = (id: number) => {
    const { handle, outcome } = handles.get(id)!;
    if (outcome.kind === 'reject') handle.reject(new Error(`reject ${id}`));
    else handle.resolve(outcome.value);
  };

  for (const op of ops) {
    if (op.type === 'call') {
      const id = nextId++;
      store
        .run(id, () => limit(fn, id, op.outcome))
        .then(
          (value) => results.set(id, `fulfilled ${value}`),
          // A cleared call's AbortError message is worded differently (ours says why); its name must match.
          (error: Error) =>
            results.set(id, error.name === 'AbortError' ? 'rejected AbortError' : `rejected ${error.message}`),
        );
    } else if (op.type === 'settle') {
      if (runningIds.length > 0) settle(runningIds.splice(op.pick % runningIds.length, 1)[0]!);
    } else if (op.type === 'concurrency') {
      limit.concurrency = op.value;
    } else {
      limit.clearQueue();
    }
    await flush(1);
    counts.push([limit.activeCount, limit.pendingCount]);
  }
  // Finish: settle what runs, oldest first, until nothing runs (cleared calls never start).
  while (runningIds.length > 0) {
    settle(runningIds.shift()!);
    await flush(1);
    counts.push([limit.activeCount, limit.pendingCount]);
  }
  return {
    starts,
    contexts,
    peak,
    results: [...results].sort((a, b) => a[0] - b[0]),
    counts,
    concurrency: limit.concurrency,
  };
}

describe('differential: createLimiter against p-limit', () => {
  it('the same random scripts give the same start order, async contexts, peak concurrency, results and counts', async () => {
    await assertProperty(
      fc.asyncProperty(
        concurrencyArb,
        fc.boolean(),
        fc.array(opArb, { maxLength: 60 }),
        async (concurrency, rejectOnClear, ops) => {
          const ours = await runLimiter(createLimiter({ concurrency, rejectOnClear }), ops);
          const theirs = await runLimiter(pLimit({ concurrency, rejectOnClear }) as LimiterLike, ops);
          expect(ours.starts).toEqual(theirs.starts);
          expect(ours.contexts).toEqual(theirs.contexts);
          // Each call ran in the context it was made in, whichever call freed its slot.
          for (const [id, context] of ours.contexts) expect(context).toBe(id);
          expect(ours.peak).toBe(theirs.peak);
          expect(ours.results).toEqual(theirs.results);
          expect(ours.counts).toEqual(theirs.counts);
          // And the invariant itself, which p-limit holds as well: never more than the limit in force.
          const maxLimit = Math.max(concurrency, ...ops.flatMap((op) => (op.type === 'concurrency' ? [op.value] : [])));
          expect(ours.peak).toBeLessThanOrEqual(maxLimit);
        },
      ),
      250,
    );
  });

  it('p-limit and createLimiter agree on a script where nothing settles until the end', async () => {
    const ops: Op[] = Array.from({ length: 10 }, (_, i) => ({ type: 'call', outcome: { kind: 'resolve', value: i } }));
    const ours = await runLimiter(createLimiter(3), ops);
    const theirs = await runLimiter(pLimit(3) as LimiterLike, ops);
    expect(ours).toEqual(theirs);
    expect(ours.peak).toBe(3);
    expect(ours.counts[9]).toEqual([3, 7]);
  });
});

/** Runs task scripts through p-limit and records the order its promises settle in. */
async function runThroughPLimit(limit: number, outcomes: Outcome[], settleOrder: number[]) {
  const started: number[] = [];
  const settled: string[] = [];
  const handles = new Map<number, Deferred<number>>();
  let running = 0;
  let peak = 0;
  const limiter = pLimit(limit);
  outcomes.forEach((outcome, id) => {
    void limiter(() => startTask(id, outcome)).then(
      (value) => settled.push(`${id} fulfilled ${value}`),
      (error: Error) => settled.push(`${id} rejected ${error.message}`),
    );
  });
  function startTask(id: number, outcome: Outcome): number | Promise<number> {
    started.push(id);
    running++;
    peak = Math.max(peak, running);
    if (outcome.kind === 'value') {
      running--;
      return outcome.value;
    }
    if (outcome.kind === 'throw') {
      running--;
      throw new Error(`throw ${id}`);
    }
    const handle = deferred<number>();
    handle.promise.then(
      () => running--,
      () => running--,
    );
    handles.set(id, handle);
    return handle.promise;
  }
  await driveSettles(handles, outcomes, settleOrder);
  return { started, settled, peak };
}

/** Settles running tasks one per step: each step picks among the running ones by the script's numbers. */
async function driveSettles(handles: Map<number, Deferred<number>>, outcomes: Outcome[], settleOrder: number[]) {
  await flush(1);
  for (let step = 0; ; step++) {
    const running = [...handles].filter(([, handle]) => !handle.isSettled).map(([id]) => id);
    if (running.length === 0) break;
    const id = running[(settleOrder[step % Math.max(1, settleOrder.length)] ?? 0) % running.length]!;
    const outcome = outcomes[id]!;
    if (outcome.kind === 'reject') handles.get(id)!.reject(new Error(`reject ${id}`));
    else handles.get(id)!.resolve(outcome.value);
    await flush(1);
  }
}

async function runThroughLac(form: 'completed' | 'settled', limit: number, outcomes: Outcome[], settleOrder: number[]) {
  const started: number[] = [];
  const yielded: string[] = [];
  const handles = new Map<number, Deferred<number>>();
  let running = 0;
  let peak = 0;
  const tasks: Task<number>[] = outcomes.map((outcome, id) => () => {
    started.push(id);
    running++;
    peak = Math.max(peak, running);
    if (outcome.kind === 'value') {
      running--;
      return outcome.value;
    }
    if (outcome.kind === 'throw') {
      running--;
      throw new Error(`throw ${id}`);
    }
    const handle = deferred<number>();
    handle.promise.then(
      () => running--,
      () => running--,
    );
    handles.set(id, handle);
    return handle.promise;
  });
  const consumer = (async () => {
    if (form === 'completed') {
      // Only called with outcomes that fulfil (a failure would end this form's run), each with its own value.
      for await (const value of limitedAsCompleted(tasks, limit)) {
        const id = outcomes.findIndex((outcome) => outcome.value === value);
        yielded.push(`${id} fulfilled ${value}`);
      }
      return;
    }
    for await (const record of limitedAsSettled(tasks, limit)) {
      yielded.push(
        record.status === 'fulfilled'
          ? `${record.index} fulfilled ${record.value}`
          : `${record.index} rejected ${(record.reason as Error).message}`,
      );
    }
  })();
  await driveSettles(handles, outcomes, settleOrder);
  await consumer;
  return { started, yielded, peak };
}

describe('differential: limitedAsSettled against p-limit', () => {
  it('yields in exactly the order p-limit settles, with the same start order and peak concurrency', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(outcomeArb, { maxLength: 40 }),
        fc.array(fc.nat(50), { minLength: 1, maxLength: 40 }),
        async (limit, outcomes, settleOrder) => {
          const theirs = await runThroughPLimit(limit, outcomes, settleOrder);
          const ours = await runThroughLac('settled', limit, outcomes, settleOrder);
          expect(ours.started).toEqual(theirs.started);
          expect(ours.peak).toBe(theirs.peak);
          expect(ours.yielded).toEqual(theirs.settled);
          expect(ours.yielded).toHaveLength(outcomes.length);
        },
      ),
      250,
    );
  });
});

describe('differential: limitedAsCompleted against p-limit', () => {
  it('yields values in exactly the order p-limit settles them, with the same start order and peak concurrency', async () => {
    const fulfilling = fc.record({
      kind: fc.constantFrom('resolve' as const, 'resolve' as const, 'value' as const),
      value: fc.integer({ min: 0, max: 999 }),
    });
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        // Distinct values, so each yielded value names its task.
        fc.uniqueArray(fulfilling, { maxLength: 40, selector: (outcome) => outcome.value }),
        fc.array(fc.nat(50), { minLength: 1, maxLength: 40 }),
        async (limit, outcomes, settleOrder) => {
          const theirs = await runThroughPLimit(limit, outcomes, settleOrder);
          const ours = await runThroughLac('completed', limit, outcomes, settleOrder);
          expect(ours.started).toEqual(theirs.started);
          expect(ours.peak).toBe(theirs.peak);
          expect(ours.yielded).toEqual(theirs.settled);
          expect(ours.yielded).toHaveLength(outcomes.length);
        },
      ),
      250,
    );
  });
});
