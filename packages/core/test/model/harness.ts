/**
 * The model-based fuzzer's harness: runs one random case (a limit, a source, task outcomes, a
 * consumer, options, and a list of "picks" that choose the interleaving) against the real
 * `limited*` functions under a fake clock, records every event with a sequence number, and returns
 * the invariants the run broke. Nothing here reads the wall clock; a case is deterministic.
 *
 * The case's steps: each step performs one enabled action (settle a running task, answer a pending
 * pull or slot request, advance the clock by whole milliseconds, let a slow consumer pull), then
 * runs every queued microtask, then lets the consumer act. When the consumer is finished, the
 * harness settles everything still pending, runs the timers out and checks the invariants.
 */
import { getEventListeners } from 'node:events';
import { vi } from 'vitest';
import {
  limitedAsCompleted,
  limitedAsSettled,
  limitedMap,
  limitedMapSettled,
  rateLimit,
  skip,
  slotsFrom,
  type LimitedIterator,
  type LimitOptions,
  type SlotSource,
  type TaskContext,
} from '@lac/core';
import { turns, watchUnhandled } from '@lac/test-tools/unhandled';
import { type Deferred, deferred } from '../helpers.js';

export type TaskKind =
  | 'resolve'
  | 'reject'
  | 'throw'
  | 'value'
  | 'undefined'
  | 'hang'
  | 'ignoreAbort'
  | 'thenGetterThrows'
  | 'thenThrows'
  /** Resolves with `skip`: no result. */
  | 'skip';
export type SourceKind = 'array' | 'syncGen' | 'asyncGen' | 'syncIter' | 'asyncIter';
export type ReturnKind = 'normal' | 'throws' | 'rejects' | 'hangs';
export type Form = 'completed' | 'settled' | 'map' | 'mapSettled';

export interface TaskSpec {
  readonly kind: TaskKind;
  /** Reads `context.signal` when it starts (otherwise only once the case is over). */
  readonly readsSignal: boolean;
}

export interface FuzzCase {
  readonly form: Form;
  readonly limit: number;
  readonly ordered: boolean;
  readonly buffer?: number | undefined;
  readonly timeout?: number | undefined;
  readonly rate?: { readonly limit: number; readonly interval: number } | undefined;
  /** Pass `options.signal` and abort it at the start of this step; `-1`: pass one, never abort it. */
  readonly abortAt?: number | undefined;
  readonly slots?:
    | {
        readonly capacity: number;
        readonly isAsync: boolean;
        readonly failAt?: number | undefined;
        readonly failKind: 'acquireRejects' | 'releaseThrows' | 'releaseRejects';
        /** The source's `maxPendingAcquires` (undefined: one acquire at a time). */
        readonly maxPending?: number | undefined;
      }
    | undefined;
  readonly source: {
    readonly kind: SourceKind;
    readonly length: number;
    readonly isEndless: boolean;
    readonly throwAt?: number | undefined;
    readonly returnKind: ReturnKind;
  };
  /** `limitedMap` only: item `i` is a plain value, a promise of it, or a rejected promise (`itemKinds[i % length]`). */
  readonly itemKinds?: readonly ('plain' | 'promise' | 'rejected')[] | undefined;
  /** Task `i` behaves as `tasks[i % tasks.length]`. */
  readonly tasks: readonly TaskSpec[];
  readonly consumer: {
    readonly kind: 'fast' | 'slow' | 'many';
    /** How many `next()` calls a `many` consumer makes at once without awaiting. */
    readonly batch: number;
    /** Stop after this many results. */
    readonly stopAt?: number | undefined;
    readonly stopKind: 'return' | 'returnWhilePending' | 'throw';
  };
  readonly picks: readonly number[];
}

export const MAX_STEPS = 250;
const MICROTASK_TURNS = 40;

interface TaskRecord {
  readonly index: number;
  readonly spec: TaskSpec;
  calls: number;
  readonly startSeq: number;
  readonly startTime: number;
  context: TaskContext;
  handle?: Deferred<unknown>;
  /** When the task's own promise (or sync call) settled, as a sequence number. */
  settleSeq?: number;
  /** The interval within which the engine saw the outcome (a sync outcome: exact; a thenable: until the step ends). */
  outcomeSeq?: [number, number];
  readonly error: Error;
  readonly value: unknown;
  isFailure: boolean;
  /** Set when the fake clock passed the task's deadline while it was still running. */
  timedOut?: [number, number];
}

interface StopEvent {
  readonly what: string;
  readonly lo: number;
  readonly hi: number;
  /** The error the consumer may receive for this stop, when it is one. */
  readonly error?: unknown;
  readonly isErrorless?: boolean;
}

interface NextCall {
  readonly callNo: number;
  readonly seq: number;
  settled?: { seq: number; done: boolean; value?: unknown; error?: unknown; isError: boolean };
}

/** A one-line summary of the case for failure messages. */
export function describeCase(c: FuzzCase): string {
  return JSON.stringify(c, (_, value) => (value === Number.POSITIVE_INFINITY ? 'Infinity' : value));
}

/** The inverse of `describeCase`, for replaying a case printed by a failure. */
export function parseCase(text: string): FuzzCase {
  return JSON.parse(text, (_, value) => (value === 'Infinity' ? Number.POSITIVE_INFINITY : value)) as FuzzCase;
}

export async function runCase(c: FuzzCase): Promise<string[]> {
  const harness = new Harness(c);
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const unhandled = watchUnhandled();
  try {
    await harness.run();
    await turns(3);
    for (const reason of unhandled.reasons) harness.violation(`unhandled rejection: ${String(reason)}`);
    harness.checkTimers(vi.getTimerCount());
  } finally {
    await unhandled.dispose();
    vi.clearAllTimers();
    vi.useRealTimers();
  }
  return harness.violations;
}

class Harness {
  readonly violations: string[] = [];
  readonly c: FuzzCase;
  seq = 0;
  step = 0;
  readonly tasks = new Map<number, TaskRecord>();
  running = 0;
  readonly startTimes: number[] = [];
  readonly stops: StopEvent[] = [];
  /**
   * Failures the run may report or ignore: those of a slot acquire the run had given up (its signal
   * aborted: with several acquires pending, the source turned out to be done) before it saw them.
   */
  readonly maybeStops: StopEvent[] = [];
  /** The signal of the acquire each slot was handed out to. */
  readonly slotSignals = new WeakMap<object, AbortSignal>();

  // The source.
  pulls = 0;
  outstandingPulls = 0;
  readonly pendingPulls: { resolve: () => void; reject?: (error: Error) => void }[] = [];
  returnCalls = 0;
  isFinallyRun = false;
  isSourceDone = false;
  isSourceThrown = false;
  /** A generator's body (and so its `finally`) runs only once it was first pulled. */
  isGeneratorStarted = false;
  sourceEndSeq = -1;
  readonly sourceError = new Error('source failed');
  readonly returnError = new Error('source return failed');

  // Options.
  controller: AbortController | undefined;
  readonly abortReason = new Error('aborted by options.signal');
  slotSource: SlotSource | undefined;
  slotsHeld = 0;
  readonly liveSlots = new Set<object>();
  readonly slotWaiters: { grant: () => void; signal: AbortSignal; onAbort: () => void }[] = [];
  acquireCalls = 0;
  releaseCalls = 0;
  acquireSignal: AbortSignal | undefined;
  readonly slotError = new Error('slot source failed');

  // The consumer.
  iterator!: LimitedIterator<unknown>;
  readonly nexts: NextCall[] = [];
  outstanding = 0;
  received: unknown[] = [];
  /** Source indices of the results received, in the order received. */
  receivedIndices: number[] = [];
  isFinished = false;
  finishedSeq = -1;
  isStopped = false;
  stopKindUsed: string | undefined;
  readonly stopError = new Error('thrown into the iterator');
  throwOutcome: { isError: boolean; value: unknown } | undefined;
  isForced = false;

  constructor(c: FuzzCase) {
    this.c = c;
  }

  get isMapForm(): boolean {
    return this.c.form === 'map' || this.c.form === 'mapSettled';
  }

  get isSettledForm(): boolean {
    return this.c.form === 'settled' || this.c.form === 'mapSettled';
  }

  violation(message: string): void {
    if (this.violations.length < 8) this.violations.push(message);
  }

  next(): number {
    return ++this.seq;
  }

  async drain(): Promise<void> {
    for (let i = 0; i < MICROTASK_TURNS; i++) await undefined;
  }

  // ---- tasks -------------------------------------------------------------------------------

  valueOf(index: number): unknown {
    const kind = this.c.tasks[index % this.c.tasks.length]!.kind;
    if (kind === 'skip') return skip;
    return kind === 'undefined' ? undefined : index * 10 + 7;
  }

  runTask(index: number, context: TaskContext): unknown {
    const spec = this.c.tasks[index % this.c.tasks.length]!;
    const existing = this.tasks.get(index);
    if (existing !== undefined) {
      existing.calls++;
      this.violation(`task ${index} was called ${existing.calls} times`);
      return undefined;
    }
    if (context.index !== index) this.violation(`task ${index} got context.index ${context.index}`);
    // A mapper given a promise item runs in a promise callback: the engine sees even a sync outcome later.
    const isLate = this.isMapForm && this.itemKindOf(index) !== 'plain';
    const startSeq = this.next();
    const record: TaskRecord = {
      index,
      spec,
      calls: 1,
      // The engine started it when it took the item; the mapper runs once the item resolved.
      startSeq: isLate ? (this.itemPulledSeq.get(index) ?? startSeq) : startSeq,
      startTime: Date.now(),
      context,
      error: new Error(`task ${index} failed`),
      value: this.valueOf(index),
      isFailure: false,
    };
    this.tasks.set(index, record);
    this.startTimes.push(record.startTime);
    this.running++;
    this.checkBounds(index);
    if (spec.readsSignal || spec.kind === 'hang') void context.signal;
    const settleNow = (isFailure: boolean, exact = !isLate) => {
      record.settleSeq = this.seq;
      record.isFailure = isFailure;
      record.outcomeSeq = exact ? [this.seq, this.seq] : [this.seq, Number.POSITIVE_INFINITY];
      this.running--;
      if (isFailure) this.taskFailed(record);
    };
    switch (spec.kind) {
      case 'value':
        settleNow(false);
        return record.value;
      case 'throw':
        settleNow(true);
        throw record.error;
      case 'thenGetterThrows': {
        settleNow(true, false);
        const error = record.error;
        return {
          get then(): never {
            throw error;
          },
        };
      }
      case 'thenThrows': {
        settleNow(true, false);
        const error = record.error;
        return {
          then(): never {
            throw error;
          },
        };
      }
      case 'hang': {
        const handle = deferred<unknown>();
        record.handle = handle;
        this.watchSettle(record, handle.promise);
        const signal = context.signal;
        if (signal.aborted) handle.reject(signal.reason);
        else signal.addEventListener('abort', () => handle.reject(signal.reason), { once: true });
        return handle.promise;
      }
      default: {
        const handle = deferred<unknown>();
        record.handle = handle;
        this.watchSettle(record, handle.promise);
        return handle.promise;
      }
    }
  }

  /** Registered before the engine's own callbacks, so `running` drops before the engine can start another task. */
  watchSettle(record: TaskRecord, promise: Promise<unknown>): void {
    promise.then(
      () => {
        record.settleSeq = this.next();
        record.outcomeSeq = [record.settleSeq, record.settleSeq];
        this.running--;
      },
      () => {
        record.settleSeq = this.next();
        record.outcomeSeq = [record.settleSeq, record.settleSeq];
        record.isFailure = true;
        this.running--;
        // A hang task rejects only because its signal aborted: the run had already stopped.
        if (record.spec.kind !== 'hang') this.taskFailed(record);
      },
    );
  }

  taskFailed(record: TaskRecord): void {
    if (this.isSettledForm) return;
    const [lo, hi] = record.outcomeSeq!;
    this.stops.push({ what: `task ${record.index} failed`, lo, hi, error: record.error });
  }

  checkBounds(index: number): void {
    const { limit, slots, buffer, rate } = this.c;
    if (this.running > limit)
      this.violation(`bound: ${this.running} tasks running with limit ${limit} (at the start of task ${index})`);
    if (slots !== undefined && this.running > slots.capacity) {
      this.violation(
        `bound: ${this.running} tasks running with ${slots.capacity} shared slots (at the start of task ${index})`,
      );
    }
    const window = limit + (buffer ?? limit);
    const unconsumed = this.tasks.size - this.receivedIndices.length - this.outstanding - this.undeliverable();
    if (unconsumed > window)
      this.violation(
        `buffer: ${unconsumed} results started but not consumed with limit + buffer ${window} (task ${index})`,
      );
    if (rate !== undefined) {
      const n = this.startTimes.length;
      if (n > rate.limit && this.startTimes[n - 1]! - this.startTimes[n - 1 - rate.limit]! < rate.interval) {
        this.violation(`rate: ${rate.limit + 1} starts within ${rate.interval} ms (task ${index})`);
      }
    }
  }

  /** Results that will never be delivered: skips, and failures in the fail-fast forms. */
  undeliverable(): number {
    let count = 0;
    for (const record of this.tasks.values()) {
      if (this.isSkipped(record.index) || (!this.isSettledForm && (record.isFailure || record.timedOut !== undefined)))
        count++;
    }
    return count;
  }

  /** The task returned `skip` (and did not time out first): it has no result. */
  isSkipped(index: number): boolean {
    const record = this.tasks.get(index);
    return (
      record !== undefined &&
      record.spec.kind === 'skip' &&
      record.settleSeq !== undefined &&
      !record.isFailure &&
      record.timedOut === undefined
    );
  }

  // ---- the source --------------------------------------------------------------------------

  readonly itemErrors = new Map<number, Error>();
  readonly itemPulledSeq = new Map<number, number>();

  itemKindOf(index: number): 'plain' | 'promise' | 'rejected' {
    const kinds = this.c.itemKinds;
    // An async generator awaits what it yields: its items are never promises.
    if (this.c.source.kind === 'asyncGen') return 'plain';
    return kinds === undefined || kinds.length === 0 ? 'plain' : kinds[index % kinds.length]!;
  }

  item(index: number): unknown {
    if (this.isMapForm) {
      const kind = this.itemKindOf(index);
      this.itemPulledSeq.set(index, this.next());
      if (kind === 'promise') return Promise.resolve(index);
      if (kind === 'rejected' && this.c.source.kind !== 'array') {
        const error = new Error(`item ${index} rejected`);
        this.itemErrors.set(index, error);
        const promise = Promise.reject(error);
        const then = promise.then;
        // The engine sees the rejection once it starts the item (an item may wait for the rate window):
        // from its `then()` call to the end of that step at the latest.
        promise.then = ((...args: Parameters<typeof then>) => {
          if (this.c.form === 'map')
            this.stops.push({ what: `item ${index} rejected`, lo: this.next(), hi: Number.POSITIVE_INFINITY, error });
          return then.apply(promise, args);
        }) as typeof then;
        return promise;
      }
      if (kind === 'rejected') return Promise.resolve(index);
      return index;
    }
    return (context: TaskContext) => this.runTask(index, context);
  }

  isLast(index: number): boolean {
    return !this.c.source.isEndless && index >= this.c.source.length;
  }

  makeSource(): Iterable<unknown> | AsyncIterable<unknown> {
    const { kind, throwAt, returnKind } = this.c.source;
    const harness = this;
    let index = 0;
    const onNext = (): boolean => {
      this.pulls++;
      if (this.returnCalls > 0) this.violation('the source was pulled after its return() was called');
      if (this.isSourceDone || this.isSourceThrown) this.violation('the source was pulled after it finished');
      return true;
    };
    const sourceThrows = () => {
      this.isSourceThrown = true;
      const seq = this.next();
      this.stops.push({ what: 'the source threw', lo: seq, hi: seq, error: this.sourceError });
      return this.sourceError;
    };
    const returned = () => {
      this.returnCalls++;
      if (this.returnCalls > 1) this.violation(`the source's return() was called ${this.returnCalls} times`);
      if (this.outstandingPulls > 0) this.violation("the source's return() was called while a next() was pending");
    };
    switch (kind) {
      case 'array':
        return Array.from({ length: this.c.source.length }, (_, i) => this.item(i));
      case 'syncGen': {
        const generator = (function* generate() {
          harness.isGeneratorStarted = true;
          try {
            for (; !harness.isLast(index); index++) {
              onNext();
              if (index === throwAt) throw sourceThrows();
              yield harness.item(index);
            }
            harness.isSourceDone = true;
            harness.sourceEndSeq = harness.next();
          } finally {
            harness.isFinallyRun = true;
          }
        })();
        const originalReturn = generator.return.bind(generator);
        generator.return = (value?: unknown) => {
          returned();
          return originalReturn(value as never);
        };
        return generator;
      }
      case 'asyncGen': {
        const generator = (async function* generate() {
          harness.isGeneratorStarted = true;
          try {
            for (; !harness.isLast(index); index++) {
              await new Promise<void>((resolve) => harness.pendingPulls.push({ resolve }));
              if (index === throwAt) throw sourceThrows();
              yield harness.item(index);
            }
            harness.isSourceDone = true;
            harness.sourceEndSeq = harness.next();
          } finally {
            harness.isFinallyRun = true;
          }
        })();
        const wrapper: AsyncIterableIterator<unknown> = {
          [Symbol.asyncIterator]() {
            return this;
          },
          next() {
            onNext();
            harness.outstandingPulls++;
            if (harness.outstandingPulls > 1) harness.violation('two next() calls of an async source were outstanding');
            const step = generator.next();
            step.then(
              () => harness.outstandingPulls--,
              () => harness.outstandingPulls--,
            );
            return step;
          },
          return(value?: unknown) {
            returned();
            return generator.return(value as never);
          },
        };
        return wrapper;
      }
      case 'syncIter': {
        const iterator: IterableIterator<unknown> = {
          [Symbol.iterator]() {
            return this;
          },
          next() {
            onNext();
            if (index === throwAt) throw sourceThrows();
            if (harness.isLast(index)) {
              harness.isSourceDone = true;
              harness.sourceEndSeq = harness.next();
              return { value: undefined, done: true };
            }
            return { value: harness.item(index++), done: false };
          },
          return() {
            returned();
            harness.isFinallyRun = true;
            if (returnKind === 'throws') throw harness.returnError;
            if (returnKind === 'rejects') return Promise.reject(harness.returnError) as never;
            return { value: undefined, done: true };
          },
        };
        return iterator;
      }
      case 'asyncIter': {
        const iterator: AsyncIterableIterator<unknown> = {
          [Symbol.asyncIterator]() {
            return this;
          },
          next() {
            onNext();
            harness.outstandingPulls++;
            if (harness.outstandingPulls > 1) harness.violation('two next() calls of an async source were outstanding');
            return new Promise<IteratorResult<unknown>>((resolve, reject) => {
              harness.pendingPulls.push({
                resolve: () => {
                  harness.outstandingPulls--;
                  if (index === throwAt) reject(sourceThrows());
                  else if (harness.isLast(index)) {
                    harness.isSourceDone = true;
                    harness.sourceEndSeq = harness.next();
                    resolve({ value: undefined, done: true });
                  } else resolve({ value: harness.item(index++), done: false });
                },
              });
            });
          },
          return() {
            returned();
            harness.isFinallyRun = true;
            if (returnKind === 'throws') throw harness.returnError;
            if (returnKind === 'rejects') return Promise.reject(harness.returnError);
            if (returnKind === 'hangs') return new Promise<never>(() => {});
            return Promise.resolve({ value: undefined, done: true });
          },
        };
        return iterator;
      }
    }
  }

  // ---- options -----------------------------------------------------------------------------

  makeSlots(): SlotSource {
    const spec = this.c.slots!;
    // A rejection reaches the engine some microtasks later: by the end of the step at the latest.
    const fail = (what: string, isAsync = false, isOptional = false) => {
      const seq = this.next();
      const stop = { what, lo: seq, hi: isAsync ? Number.POSITIVE_INFINITY : seq, error: this.slotError };
      (isOptional ? this.maybeStops : this.stops).push(stop);
    };
    return {
      ...(spec.maxPending === undefined ? {} : { maxPendingAcquires: spec.maxPending }),
      acquire: (signal) => {
        this.acquireCalls++;
        if (this.acquireSignal !== undefined && this.acquireSignal !== signal) this.acquireSignal = signal;
        this.acquireSignal = signal;
        if (spec.failKind === 'acquireRejects' && this.acquireCalls === spec.failAt) {
          const rejected = Promise.reject(this.slotError);
          // Looked at right after the run's own handler (attached when acquire returns): with several
          // acquires pending, the run may have given this one up (its source is done) before it saw
          // the rejection, and then need not fail.
          queueMicrotask(() => {
            rejected.then(undefined, () => fail('slots.acquire() rejected', false, signal.aborted));
          });
          return rejected;
        }
        const take = () => {
          this.slotsHeld++;
          const slot = { n: this.acquireCalls };
          this.liveSlots.add(slot);
          this.slotSignals.set(slot, signal);
          return slot;
        };
        if (this.slotsHeld < spec.capacity && this.slotWaiters.length === 0) {
          const slot = take();
          return spec.isAsync ? Promise.resolve(slot) : slot;
        }
        return new Promise((resolve, reject) => {
          const waiter = {
            signal,
            grant: () => {
              signal.removeEventListener('abort', waiter.onAbort);
              resolve(take());
            },
            onAbort: () => {
              this.slotWaiters.splice(this.slotWaiters.indexOf(waiter), 1);
              reject(signal.reason);
            },
          };
          signal.addEventListener('abort', waiter.onAbort, { once: true });
          this.slotWaiters.push(waiter);
        });
      },
      release: (slot) => {
        this.releaseCalls++;
        // A slot of an acquire the run gave up may come back after the run ended (where a failure is ignored).
        const isAbandoned = this.slotSignals.get(slot as object)?.aborted === true;
        if (!this.liveSlots.has(slot as object))
          this.violation(`slots.release() got a slot that is not held: ${JSON.stringify(slot)}`);
        else {
          this.liveSlots.delete(slot as object);
          this.slotsHeld--;
        }
        if (spec.failKind === 'releaseThrows' && this.releaseCalls === spec.failAt) {
          fail('slots.release() threw', false, isAbandoned);
          throw this.slotError;
        }
        if (spec.failKind === 'releaseRejects' && this.releaseCalls === spec.failAt) {
          fail('slots.release() rejected', true, isAbandoned);
          return Promise.reject(this.slotError);
        }
        return undefined;
      },
    };
  }

  grantSlots(): boolean {
    let isGranted = false;
    while (this.slotWaiters.length > 0 && this.slotsHeld < this.c.slots!.capacity) {
      this.slotWaiters.shift()!.grant();
      isGranted = true;
    }
    return isGranted;
  }

  // ---- the consumer ------------------------------------------------------------------------

  callNext(): void {
    const call: NextCall = { callNo: this.nexts.length, seq: this.next() };
    this.nexts.push(call);
    this.outstanding++;
    let promise: Promise<IteratorResult<unknown>>;
    try {
      promise = this.iterator.next();
    } catch (error) {
      this.violation(`next() threw synchronously: ${String(error)}`);
      promise = Promise.reject(error);
    }
    promise.then(
      (result) => {
        this.outstanding--;
        call.settled = { seq: this.next(), done: result.done === true, value: result.value, isError: false };
        if (result.done) {
          if (!this.isFinished) this.finishedSeq = this.seq;
          this.isFinished = true;
        } else {
          this.received.push(result.value);
          this.receivedIndices.push(this.indexOfResult(result.value));
        }
      },
      (error: unknown) => {
        this.outstanding--;
        call.settled = { seq: this.next(), done: true, error, isError: true };
        if (!this.isFinished) this.finishedSeq = this.seq;
        this.isFinished = true;
      },
    );
  }

  indexOfResult(value: unknown): number {
    if (this.isSettledForm) {
      const outcome = value as { index?: unknown };
      return typeof outcome?.index === 'number' ? outcome.index : -1;
    }
    if (typeof value === 'number') return (value - 7) / 10;
    // `undefined`: the 'undefined' task not yet counted that comes first (by index when ordered, else by settle).
    let best: TaskRecord | undefined;
    for (const record of this.tasks.values()) {
      if (
        record.spec.kind !== 'undefined' ||
        record.settleSeq === undefined ||
        this.receivedIndices.includes(record.index)
      )
        continue;
      const key = (r: TaskRecord) => (this.c.ordered ? r.index : r.settleSeq!);
      if (best === undefined || key(record) < key(best)) best = record;
    }
    return best?.index ?? -1;
  }

  stop(kind: 'return' | 'returnWhilePending' | 'throw', isForced = false): void {
    this.isStopped = true;
    this.isForced = isForced;
    this.stopKindUsed = kind;
    if (kind === 'returnWhilePending') this.callNext();
    const seq = this.next();
    this.stops.push({
      what: `the consumer called ${kind === 'throw' ? 'throw' : 'return'}()`,
      lo: seq,
      hi: seq,
      isErrorless: kind !== 'throw',
      error: this.stopError,
    });
    if (kind === 'throw') {
      const iterator = this.iterator as LimitedIterator<unknown> & { throw?: (error: unknown) => Promise<unknown> };
      if (typeof iterator.throw !== 'function') {
        this.violation('the iterator has no throw()');
        void this.iterator.return();
        return;
      }
      iterator.throw(this.stopError).then(
        (value) => {
          this.throwOutcome = { isError: false, value };
        },
        (error: unknown) => {
          this.throwOutcome = { isError: true, value: error };
        },
      );
      return;
    }
    this.iterator.return().then(
      (result) => {
        if (result.done !== true) this.violation(`return() resolved with ${JSON.stringify(result)}`);
      },
      (error: unknown) => this.violation(`return() rejected with ${String(error)}`),
    );
  }

  consumerAct(isSlowTurn: boolean): void {
    if (this.isFinished || this.isStopped) return;
    const { kind, batch, stopAt, stopKind } = this.c.consumer;
    if (stopAt !== undefined && this.received.length >= stopAt && this.outstanding === 0) {
      this.stop(stopKind);
      return;
    }
    if (this.outstanding > 0) return;
    if (kind === 'fast') this.callNext();
    else if (kind === 'many') for (let i = 0; i < batch; i++) this.callNext();
    else if (isSlowTurn) this.callNext();
  }

  // ---- the run -----------------------------------------------------------------------------

  async run(): Promise<void> {
    const c = this.c;
    const options: { -readonly [K in keyof LimitOptions]: LimitOptions[K] } = { ordered: c.ordered };
    if (c.buffer !== undefined) options.buffer = c.buffer;
    if (c.timeout !== undefined) options.timeout = c.timeout;
    if (c.rate !== undefined) options.rate = rateLimit(c.rate);
    if (c.abortAt !== undefined) {
      this.controller = new AbortController();
      options.signal = this.controller.signal;
    }
    if (c.slots !== undefined) options.slots = slotsFrom((this.slotSource = this.makeSlots()));
    const source = this.makeSource();
    if (this.isMapForm) {
      const mapper = (item: number, context: TaskContext) => {
        if (item !== context.index)
          this.violation(`the mapper got item ${String(item)} with context.index ${context.index}`);
        return this.runTask(context.index, context);
      };
      this.iterator = (
        c.form === 'map'
          ? limitedMap(source as Iterable<number>, c.limit, mapper, options)
          : limitedMapSettled(source as Iterable<number>, c.limit, mapper, options)
      ) as LimitedIterator<unknown>;
    } else if (c.form === 'settled') {
      this.iterator = limitedAsSettled(source as Iterable<never>, c.limit, options) as LimitedIterator<unknown>;
    } else {
      this.iterator = limitedAsCompleted(source as Iterable<never>, c.limit, options);
    }

    while (!this.isFinished && !this.isStopped) {
      if (this.step === c.abortAt) this.abort();
      this.consumerAct(false);
      await this.drain();
      if (this.isFinished || this.isStopped) break;
      const actions = this.actions();
      if (actions.length === 0) {
        if (this.outstanding === 0) {
          // The consumer is not waiting: it gets another turn, until the step cap ends the case.
          if (this.step++ < MAX_STEPS) {
            this.consumerAct(true);
            await this.drain();
            continue;
          }
          this.stop('return', true);
          break;
        }
        // Nothing can happen and the consumer waits: legitimate only while a task hangs until aborted.
        const isHangRunning = [...this.tasks.values()].some((r) => r.spec.kind === 'hang' && r.settleSeq === undefined);
        if (!isHangRunning)
          this.violation(
            `liveness: the consumer waits forever (step ${this.step}, stats ${JSON.stringify(this.iterator.stats)})`,
          );
        this.stop('return', true);
        break;
      }
      if (this.step >= MAX_STEPS) {
        this.stop('return', true);
        break;
      }
      const pick = c.picks.length === 0 ? 0 : c.picks[this.step % c.picks.length]!;
      await actions[pick % actions.length]!(pick);
      this.fixStepEnds();
      this.step++;
    }
    await this.drain();
    this.fixStepEnds();
    const endSeq = this.next();
    await this.cleanUp();
    this.check(endSeq);
  }

  abort(): void {
    if (this.controller === undefined || this.controller.signal.aborted) return;
    const seq = this.next();
    this.stops.push({ what: 'options.signal aborted', lo: seq, hi: seq, error: this.abortReason });
    this.controller.abort(this.abortReason);
  }

  /** Thenable outcomes are seen by the engine some microtasks later: by the end of the step at the latest. */
  fixStepEnds(): void {
    for (let i = 0; i < this.stops.length; i++) {
      const stop = this.stops[i]!;
      if (stop.hi === Number.POSITIVE_INFINITY) this.stops[i] = { ...stop, hi: this.seq };
    }
    for (const record of this.tasks.values()) {
      if (record.outcomeSeq?.[1] === Number.POSITIVE_INFINITY) record.outcomeSeq = [record.outcomeSeq[0], this.seq];
    }
  }

  actions(): ((pick: number) => Promise<void>)[] {
    const actions: ((pick: number) => Promise<void>)[] = [];
    for (const record of this.tasks.values()) {
      const handle = record.handle;
      if (handle === undefined || handle.isSettled || record.spec.kind === 'hang') continue;
      actions.push(async () => {
        this.next();
        if (record.spec.kind === 'reject') handle.reject(record.error);
        else handle.resolve(record.value);
        await this.drain();
      });
    }
    if (this.pendingPulls.length > 0) {
      actions.push(async () => {
        this.next();
        this.pendingPulls.shift()!.resolve();
        await this.drain();
      });
    }
    if (this.slotSource !== undefined && this.slotWaiters.length > 0 && this.slotsHeld < this.c.slots!.capacity) {
      actions.push(async () => {
        this.next();
        this.grantSlots();
        await this.drain();
      });
    }
    if (vi.getTimerCount() > 0) {
      actions.push(async (pick) => {
        const ms = 1 + (pick % 17);
        for (let i = 0; i < ms; i++) await this.tick();
      });
    }
    if (this.c.consumer.kind === 'slow' && this.outstanding === 0) {
      actions.push(async () => {
        this.consumerAct(true);
        await this.drain();
      });
    }
    return actions;
  }

  /** One millisecond of the fake clock; a timeout that runs out in it is seen by the engine within it. */
  async tick(): Promise<void> {
    const lo = this.next();
    this.advance(1);
    await this.drain();
    const hi = this.next();
    const timeout = this.c.timeout;
    if (timeout === undefined) return;
    const now = Date.now();
    for (const record of this.tasks.values()) {
      if (record.timedOut !== undefined || now - record.startTime < timeout) continue;
      // Settled before the deadline (or within this same millisecond): no timeout.
      if (record.settleSeq !== undefined && record.settleSeq < lo) continue;
      record.timedOut = [lo, hi];
      if (!this.isSettledForm)
        this.stops.push({ what: `task ${record.index} timed out`, lo, hi, error: 'TimeoutError' });
    }
  }

  /** Runs the fake clock on; what a timer callback throws would be an uncaught exception in a real process. */
  advance(ms: number): void {
    try {
      vi.advanceTimersByTime(ms);
    } catch (error) {
      this.violation(`uncaught exception from a timer callback: ${String(error)}`);
    }
  }

  async cleanUp(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      let isBusy = false;
      for (const record of this.tasks.values()) {
        const handle = record.handle;
        if (handle !== undefined && !handle.isSettled && record.spec.kind !== 'hang') {
          if (record.spec.kind === 'reject') handle.reject(record.error);
          else handle.resolve(record.value);
          isBusy = true;
        }
      }
      if (this.pendingPulls.length > 0) {
        this.pendingPulls.shift()!.resolve();
        isBusy = true;
      }
      if (this.slotSource !== undefined && this.grantSlots()) isBusy = true;
      if (vi.getTimerCount() > 0) {
        this.advance(50);
        isBusy = true;
      }
      await this.drain();
      this.fixStepEnds();
      if (!isBusy) break;
    }
  }

  checkTimers(count: number): void {
    if (count > 0) this.violation(`${count} timer(s) left behind`);
  }

  // ---- invariants --------------------------------------------------------------------------

  check(endSeq: number): void {
    const c = this.c;
    const stopLo = Math.min(...this.stops.map((s) => s.lo));
    const stopHi = Math.min(...this.stops.map((s) => s.hi));
    const isStoppedEarly = this.stops.length > 0 && stopLo < endSeq;

    // Every task called once (checked as they start); none after the run stopped.
    for (const record of this.tasks.values()) {
      if (isStoppedEarly && record.startSeq > stopHi) {
        this.violation(
          `task ${record.index} started after the run stopped (${this.stops.map((s) => s.what).join(', ')})`,
        );
      }
    }

    // Cleanup: every task in flight at the stop sees its signal aborted, whenever it reads it.
    if (isStoppedEarly) {
      for (const record of this.tasks.values()) {
        const isInFlight = record.startSeq < stopLo && (record.settleSeq === undefined || record.settleSeq > stopHi);
        if (isInFlight && !record.context.signal.aborted) {
          this.violation(
            `task ${record.index} was in flight at the stop (${this.stops[0]!.what}) but its signal is not aborted`,
          );
        }
      }
    }
    for (const record of this.tasks.values()) {
      if (record.handle !== undefined && !record.handle.isSettled)
        this.violation(`task ${record.index} (${record.spec.kind}) still hangs after the run`);
    }

    // The consumer's view: next() settles in call order, at most one error, nothing after it.
    let lastSettleSeq = -1;
    let errors = 0;
    let isDoneSeen = false;
    for (const call of this.nexts) {
      const settled = call.settled;
      if (settled === undefined) {
        this.violation(`next() call ${call.callNo} never settled`);
        continue;
      }
      if (settled.seq < lastSettleSeq) this.violation(`next() call ${call.callNo} settled before an earlier call`);
      lastSettleSeq = settled.seq;
      if (isDoneSeen && (!settled.done || settled.isError))
        this.violation(`next() call ${call.callNo} gave a result after the iterator was done`);
      if (settled.isError) errors++;
      if (settled.done) isDoneSeen = true;
    }
    if (errors > 1) this.violation(`${errors} next() calls rejected`);

    // Results: each delivered at most once, correct, in order.
    const seen = new Set<number>();
    this.received.forEach((value, position) => {
      const index = this.receivedIndices[position]!;
      const record = this.tasks.get(index);
      const itemError = this.itemErrors.get(index);
      if (record === undefined && itemError !== undefined && c.form === 'mapSettled') {
        // A rejected item is that item's rejected outcome; its mapper never runs.
        const outcome = value as { status: string; reason?: unknown };
        if (outcome.status !== 'rejected' || outcome.reason !== itemError)
          this.violation(`item ${index} rejected but delivered ${describeValue(value)}`);
        if (seen.has(index)) this.violation(`the result of item ${index} was delivered twice`);
        seen.add(index);
        return;
      }
      if (record === undefined) {
        this.violation(`a result ${describeValue(value)} that no task produced`);
        return;
      }
      if (seen.has(index)) this.violation(`the result of task ${index} was delivered twice`);
      seen.add(index);
      if (record.spec.kind === 'skip' && record.timedOut === undefined)
        this.violation(`task ${index} returned skip but was delivered as ${describeValue(value)}`);
      if (this.isSettledForm) {
        const outcome = value as { status: string; value?: unknown; reason?: unknown };
        if (
          record.timedOut !== undefined &&
          outcome.status === 'rejected' &&
          (outcome.reason as Error)?.name === 'TimeoutError'
        )
          return;
        const expected = record.isFailure
          ? { status: 'rejected', reason: record.error, index }
          : { status: 'fulfilled', value: record.value, index };
        const isSame =
          outcome.status === expected.status &&
          (record.isFailure ? outcome.reason === record.error : Object.is(outcome.value, record.value));
        if (!isSame)
          this.violation(`task ${index} delivered ${describeValue(value)}, expected ${describeValue(expected)}`);
      } else if (record.isFailure || !Object.is(value, record.value)) {
        this.violation(
          `task ${index} delivered ${describeValue(value)} but ${record.isFailure ? 'failed' : `resolved ${describeValue(record.value)}`}`,
        );
      }
    });
    if (c.ordered) {
      // Source order, with no gap but skipped tasks.
      let previous = -1;
      for (const index of this.receivedIndices) {
        if (index <= previous) this.violation(`ordered: task ${index} was delivered after task ${previous}`);
        for (let gap = previous + 1; gap < index; gap++) {
          if (!this.isSkipped(gap))
            this.violation(`ordered: task ${index} was delivered but task ${gap} before it was not`);
        }
        previous = Math.max(previous, index);
      }
    } else if (c.timeout === undefined) {
      // Completion order: a result never overtakes one whose task settled in an earlier step.
      for (let a = 0; a < this.receivedIndices.length; a++) {
        for (let b = a + 1; b < this.receivedIndices.length; b++) {
          const first = this.tasks.get(this.receivedIndices[a]!)?.outcomeSeq;
          const second = this.tasks.get(this.receivedIndices[b]!)?.outcomeSeq;
          if (first !== undefined && second !== undefined && second[1] < first[0]) {
            this.violation(
              `completion order: task ${this.receivedIndices[b]} settled before task ${this.receivedIndices[a]} but was delivered after it`,
            );
          }
        }
      }
    }

    // How the run ended.
    const finalCall = this.nexts.find((call) => call.settled?.isError) ?? undefined;
    const stopsBeforeEnd = this.stops.filter((s) => s.lo < this.finishedSeq || !this.isFinished);
    if (finalCall !== undefined) {
      const error = finalCall.settled!.error;
      const candidates = [...this.stops, ...this.maybeStops].filter((s) => s.lo <= stopHi && !s.isErrorless);
      const isKnown = candidates.some((s) =>
        s.error === 'TimeoutError' ? (error as Error)?.name === 'TimeoutError' : s.error === error,
      );
      if (!isKnown) {
        this.violation(
          `the run failed with ${String(error)}, expected one of: ${candidates.map((s) => s.what).join(', ') || 'no error'}`,
        );
      }
    } else if (this.isFinished && !this.isStopped) {
      // It completed: the failures and aborts before the end would have been reported.
      // The run may be over before the consumer asks for the final `done`: an abort after the last task
      // settled and the source ended comes too late to count.
      const lastActivity = Math.max(
        this.sourceEndSeq,
        ...[...this.tasks.values()].map((r) =>
          Math.min(r.settleSeq ?? Number.POSITIVE_INFINITY, r.timedOut?.[1] ?? Number.POSITIVE_INFINITY),
        ),
      );
      const missed = stopsBeforeEnd.filter(
        (s) => !s.isErrorless && s.lo < (s.what === 'options.signal aborted' ? lastActivity : this.finishedSeq),
      );
      if (missed.length > 0)
        this.violation(`the run completed although ${missed.map((s) => s.what).join(', ')} before its end`);
      if (
        !c.source.isEndless &&
        c.source.throwAt === undefined &&
        missed.length === 0 &&
        (this.itemErrors.size === 0 || c.form === 'mapSettled')
      ) {
        for (let index = 0; index < c.source.length; index++) {
          if (this.itemErrors.has(index)) {
            if (!seen.has(index)) this.violation(`the run completed without delivering the rejected item ${index}`);
          } else if (!this.tasks.has(index)) this.violation(`the run completed without starting task ${index}`);
          else if (!seen.has(index) && !this.isSkipped(index))
            this.violation(`the run completed without delivering task ${index}`);
        }
      }
      for (const record of this.tasks.values()) {
        if (record.settleSeq !== undefined && record.settleSeq < this.finishedSeq) continue;
        if (record.timedOut === undefined)
          this.violation(`the run completed while task ${record.index} was still running`);
      }
    }
    if (this.stopKindUsed === 'throw' && this.throwOutcome !== undefined) {
      if (!this.throwOutcome.isError || this.throwOutcome.value !== this.stopError) {
        this.violation(
          `throw(error) ${this.throwOutcome.isError ? `rejected with ${String(this.throwOutcome.value)}` : 'resolved'} instead of rejecting with the given error`,
        );
      }
    }

    // The source: closed when the run stopped before it ended, never twice, never pulled after.
    const hasReturn = c.source.kind !== 'array';
    const isSourceEnded = this.isSourceDone || this.isSourceThrown;
    if (hasReturn && this.isStoppedEarlyBeforeSourceEnd(isSourceEnded) && this.returnCalls !== 1) {
      this.violation(
        `the run stopped before the source ended but the source's return() was called ${this.returnCalls} times`,
      );
    }
    if (isSourceEnded && this.returnCalls > 0)
      this.violation("the source's return() was called after the source had ended");
    if (
      (c.source.kind === 'syncGen' || c.source.kind === 'asyncGen') &&
      this.isGeneratorStarted &&
      this.returnCalls > 0 &&
      !this.isFinallyRun
    ) {
      this.violation("the generator's finally did not run");
    }

    // Options: no listener, slot or waiter left behind.
    if (this.controller !== undefined) {
      const listeners = getEventListeners(this.controller.signal, 'abort').length;
      if (listeners > 0) this.violation(`${listeners} listener(s) left on options.signal`);
    }
    if (this.slotSource !== undefined) {
      if (this.slotsHeld !== 0) this.violation(`${this.slotsHeld} shared slot(s) never released`);
      if (this.slotWaiters.length > 0)
        this.violation(`${this.slotWaiters.length} slots.acquire() call(s) still waiting after the run`);
      if (this.acquireSignal !== undefined) {
        const listeners = getEventListeners(this.acquireSignal, 'abort').length;
        if (listeners > 0) this.violation(`${listeners} listener(s) left on the acquire signal`);
      }
    }
    const stats = this.iterator.stats;
    if (stats.running !== 0) this.violation(`stats.running is ${stats.running} after every task settled`);
    // An item that is a promise counts as started before its mapper is called (never, if it rejects).
    if (
      this.isMapForm
        ? stats.started < this.tasks.size || stats.started > (c.source.kind === 'array' ? c.source.length : this.pulls)
        : stats.started !== this.tasks.size
    ) {
      this.violation(`stats.started is ${stats.started}, ${this.tasks.size} tasks were called`);
    }
  }

  isStoppedEarlyBeforeSourceEnd(isSourceEnded: boolean): boolean {
    if (isSourceEnded) return false;
    // The consumer stopped, or the run failed or aborted, before the source had ended.
    return this.isStopped || this.stops.length > 0 || !this.isFinished;
  }
}

function describeValue(value: unknown): string {
  try {
    return JSON.stringify(value, (_, v) => (v instanceof Error ? `Error(${v.message})` : v));
  } catch {
    return String(value);
  }
}
