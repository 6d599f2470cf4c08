/**
 * Test helpers: deferred promises, a task "script" that records starts, settles and the peak number
 * running, sources that record how they are pulled and closed. The deferred promise and the
 * unhandled-rejection watch come from @lac/test-tools. Nothing here reads the wall clock.
 */
import { setImmediate as setImmediateP } from 'node:timers/promises';
import fc from 'fast-check';
import type { LimitedIterator, Task, TaskContext } from '@lac/core';

import { type Deferred, deferred } from '@lac/test-tools/deferred';

export { type Deferred, deferred };

/** Lets every queued microtask and one round of macrotasks run (real timers only). */
export async function flush(rounds = 2): Promise<void> {
  for (let i = 0; i < rounds; i++) await setImmediateP();
}

/** Lets `count` microtask turns pass, for tests that run under fake timers. */
export async function ticks(count = 50): Promise<void> {
  for (let i = 0; i < count; i++) await Promise.resolve();
}

/**
 * A set of tasks whose promises the test settles by hand. Records the order tasks start and
 * settle, how many run at once (peak), and each task's context.
 */
export class Script<T = number> {
  readonly started: number[] = [];
  readonly settled: number[] = [];
  readonly contexts = new Map<number, TaskContext>();
  readonly calls = new Map<number, number>();
  readonly deferreds = new Map<number, Deferred<T>>();
  running = 0;
  peak = 0;
  /** When true, every task reads `context.signal` as soon as it starts. */
  readsSignal: boolean;

  constructor(options: { readsSignal?: boolean } = {}) {
    this.readsSignal = options.readsSignal ?? true;
  }

  /** The task for source position `id` (also its expected `context.index` when ids are 0, 1, 2...). */
  task(id: number): Task<T> {
    return (context) => {
      this.calls.set(id, (this.calls.get(id) ?? 0) + 1);
      this.started.push(id);
      this.contexts.set(id, context);
      if (this.readsSignal) void context.signal;
      this.running++;
      this.peak = Math.max(this.peak, this.running);
      const handle = deferred<T>();
      this.deferreds.set(id, handle);
      // Registered before the scheduler's own callbacks, so `running` drops before a new task can start.
      handle.promise.then(
        () => this.#onSettled(id),
        () => this.#onSettled(id),
      );
      return handle.promise;
    };
  }

  tasks(count: number): Task<T>[] {
    return Array.from({ length: count }, (_, id) => this.task(id));
  }

  #onSettled(id: number): void {
    this.running--;
    this.settled.push(id);
  }

  resolve(id: number, value: T): void {
    const handle = this.deferreds.get(id);
    if (handle === undefined) throw new Error(`task ${id} has not started`);
    handle.resolve(value);
  }

  reject(id: number, reason: unknown): void {
    const handle = this.deferreds.get(id);
    if (handle === undefined) throw new Error(`task ${id} has not started`);
    handle.reject(reason);
  }

  /** Started tasks whose promise is still pending. */
  pending(): number[] {
    return this.started.filter((id) => !this.deferreds.get(id)!.isSettled);
  }

  signal(id: number): AbortSignal {
    return this.contexts.get(id)!.signal;
  }
}

/** A sync generator source that records how far it was pulled and whether its `finally` ran. */
export function trackedSource<T>(items: Iterable<T> | ((index: number) => T), count = Number.POSITIVE_INFINITY) {
  const state = { pulled: 0, isFinallyRun: false, isReturned: false };
  const at = typeof items === 'function' ? items : undefined;
  const list = typeof items === 'function' ? undefined : [...items];
  const total = list === undefined ? count : list.length;
  function* generate(): Generator<T> {
    try {
      for (let i = 0; i < total; i++) {
        state.pulled++;
        yield at === undefined ? list![i]! : at(i);
      }
    } finally {
      state.isFinallyRun = true;
    }
  }
  const generator = generate();
  const originalReturn = generator.return.bind(generator);
  generator.return = (value?: unknown) => {
    state.isReturned = true;
    return originalReturn(value as never);
  };
  return { source: generator as Iterable<T>, state };
}

/**
 * A hand-written async iterator whose `next()` calls each return a deferred the test settles, so
 * the test sees every pull and can check that two are never outstanding at once.
 */
export class ManualAsyncSource<T> implements AsyncIterableIterator<T> {
  readonly pulls: Deferred<IteratorResult<T>>[] = [];
  outstanding = 0;
  maxOutstanding = 0;
  returnCalls = 0;
  /** Set when `return()` is called while a `next()` is outstanding (allowed by the protocol, but we avoid it). */
  isReturnedWhilePulling = false;

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    const handle = deferred<IteratorResult<T>>();
    this.pulls.push(handle);
    return handle.promise.finally(() => {
      this.outstanding--;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.returnCalls++;
    if (this.outstanding > 0) this.isReturnedWhilePulling = true;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Answers the latest pull with an item. */
  yieldValue(value: T): void {
    this.#last().resolve({ value, done: false });
  }

  finish(): void {
    this.#last().resolve({ value: undefined, done: true });
  }

  fail(error: unknown): void {
    this.#last().reject(error);
  }

  #last(): Deferred<IteratorResult<T>> {
    const handle = this.pulls.at(-1);
    if (handle === undefined || handle.isSettled) throw new Error('no pull is outstanding');
    return handle;
  }
}

/** Pulls one result after another until `count` results or the end; returns values and the error, if any. */
export async function drain<T>(iterator: LimitedIterator<T> | AsyncIterator<T>, count = Number.POSITIVE_INFINITY) {
  const values: T[] = [];
  let error: unknown;
  let isThrown = false;
  try {
    while (values.length < count) {
      const step = await iterator.next();
      if (step.done) break;
      values.push(step.value);
    }
  } catch (caught) {
    error = caught;
    isThrown = true;
  }
  return { values, error, isThrown };
}

/** fast-check settings: a fixed seed (LAC_FC_SEED overrides it) so CI runs are reproducible. */
export const fcSeed = Number(process.env.LAC_FC_SEED ?? 20_261_124);

/** LAC_FC_RUNS_SCALE multiplies every property's run count, for a longer hunt than CI's. */
const runsScale = Number(process.env.LAC_FC_RUNS_SCALE ?? 1);

/** fc.assert with our seed; on failure the error says how to replay it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function assertProperty(property: fc.IRawProperty<any, boolean>, numRuns: number): Promise<void> {
  try {
    await fc.assert(property, { seed: fcSeed, numRuns: Math.max(1, Math.round(numRuns * runsScale)) });
  } catch (error) {
    if (error instanceof Error)
      error.message = `[fast-check seed ${fcSeed}; replay with LAC_FC_SEED=${fcSeed}]\n${error.message}`;
    throw error;
  }
}
