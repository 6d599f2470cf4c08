/**
 * Model-based properties under fc.scheduler(): the scheduler decides which mapper settles and when
 * the reader reads next, and an interruption (`readable.cancel(reason)`, `writer.abort(reason)`,
 * `options.signal`) lands at a random step. After every case the stage must have kept its limit
 * and its bound, delivered exactly what the model says when nothing failed (`undefined` and `null`
 * results included: web streams carry them), errored both sides with the first cause, started
 * nothing after it stopped, aborted what was in flight, and settled both sides (no deadlock).
 *
 * Seeded: LAC_FC_SEED replays a run (the fixed default seed otherwise; it is printed on failure).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TaskContext } from '@lac/core';
import { LimitedTransformStream, limitedReadableStream } from '@lac/web-streams';

const seed = Number(process.env.LAC_FC_SEED ?? 20_261_202);
const numRuns = Number(process.env.LAC_FC_RUNS ?? 150);
/** A longer hunt (LAC_FC_RUNS) gets the time it needs: each case is bounded by its step cap, never the wall clock. */
const testTimeout = Math.max(30_000, numRuns * 100);

async function assertProperty(property: Parameters<typeof fc.assert>[0]): Promise<void> {
  try {
    await fc.assert(property, { seed, numRuns });
  } catch (error) {
    if (error instanceof Error)
      error.message = `[fast-check seed ${seed}; replay with LAC_FC_SEED=${seed}]\n${error.message}`;
    throw error;
  }
}

/** A few macrotask turns: what web streams queue runs in between. */
async function settle(turns = 2): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}

type Outcome = 'value' | 'sync' | 'null' | 'undefined' | 'reject' | 'throw' | 'hang' | 'ignoreAbort';
type Interrupt = 'cancel' | 'abort' | 'signal';

const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  { weight: 10, arbitrary: fc.constant('value' as const) },
  { weight: 3, arbitrary: fc.constant('sync' as const) },
  { weight: 2, arbitrary: fc.constantFrom('null' as const, 'undefined' as const) },
  { weight: 1, arbitrary: fc.constantFrom('reject' as const, 'throw' as const) },
  { weight: 1, arbitrary: fc.constantFrom('hang' as const, 'ignoreAbort' as const) },
);

const caseArb = fc.record({
  outcomes: fc.array(outcomeArb, { maxLength: 24 }),
  limit: fc.integer({ min: 1, max: 4 }),
  buffer: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  readableHighWaterMark: fc.integer({ min: 0, max: 2 }),
  ordered: fc.boolean(),
  interrupt: fc.option(
    fc.record({
      at: fc.integer({ min: 0, max: 40 }),
      kind: fc.constantFrom<Interrupt>('cancel', 'abort', 'signal'),
    }),
    { nil: undefined },
  ),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** A case is interrupted at its step, or, if its mappers hang, once nothing else can happen; never otherwise. */
function mayInterrupt(c: Case): true | undefined {
  return c.interrupt !== undefined || c.outcomes.some((o) => o === 'hang' || o === 'ignoreAbort') ? true : undefined;
}

function expectedValue(outcome: Outcome, x: number): unknown {
  return outcome === 'null' ? null : outcome === 'undefined' ? undefined : x * 10;
}

/** Calls the mapper (or task) for item `x` as its outcome says, and tracks it. */
function makeCall(
  s: fc.Scheduler,
  outcomes: readonly Outcome[],
  track: {
    isStopped(): boolean;
    started(x: number, signal: AbortSignal): void;
    settled(x: number): void;
    failed(error: Error): void;
  },
) {
  return (x: number, { signal }: TaskContext): unknown => {
    track.started(x, signal);
    const outcome = outcomes[x]!;
    const fail = (): never => {
      const error = new Error(`mapper ${x} failed`);
      // A mapper failing after the stage stopped is dropped, not a cause.
      if (!track.isStopped()) track.failed(error);
      track.settled(x);
      throw error;
    };
    if (outcome === 'sync') {
      track.settled(x);
      return x * 10;
    }
    if (outcome === 'throw') return fail();
    if (outcome === 'hang') {
      return new Promise((_resolve, reject) =>
        signal.addEventListener('abort', () => {
          track.settled(x);
          reject(signal.reason);
        }),
      );
    }
    if (outcome === 'ignoreAbort') return new Promise(() => {});
    return s.schedule(Promise.resolve(), `mapper ${x}`).then(() => {
      if (outcome === 'reject') fail();
      track.settled(x);
      return expectedValue(outcome, x);
    });
  };
}

/**
 * What both properties watch of their mappers (tasks), as one state object: `track` is the hooks
 * `makeCall` reports to; the property counts `read` and sets `isStopped` when it interrupts.
 */
function observer() {
  const state = {
    /** An interrupt fired: the stage stops synchronously, so no mapper may start after it. */
    isStopped: false,
    running: 0,
    maxRunning: 0,
    started: 0,
    /** Results the reader has seen. */
    read: 0,
    /** The most started and not yet read. */
    maxAhead: 0,
    startsAfterStop: 0,
    settledCount: 0,
    inFlight: new Map<number, AbortSignal>(),
    /** Why the run stops: the first is the cause. */
    causes: [] as unknown[],
    track: {
      isStopped: () => state.causes.length > 0,
      started(x: number, signal: AbortSignal): void {
        if (state.isStopped) state.startsAfterStop++;
        state.started++;
        state.running++;
        state.maxRunning = Math.max(state.maxRunning, state.running);
        state.maxAhead = Math.max(state.maxAhead, state.started - state.read);
        state.inFlight.set(x, signal);
      },
      settled(x: number): void {
        if (!state.inFlight.delete(x)) return;
        state.running--;
        state.settledCount++;
      },
      failed(error: Error): void {
        state.causes.push(error);
      },
    },
  };
  return state;
}

/**
 * Reads `reader` to its end, each read a task of the scheduler, counting results in `o.read`: the
 * results, the error it ended with (if any), and whether it ended.
 */
function readAll(s: fc.Scheduler, reader: ReadableStreamDefaultReader<unknown>, o: { read: number }) {
  const items: unknown[] = [];
  const state = { items, error: undefined as unknown, isDone: false, done: Promise.resolve() };
  state.done = (async () => {
    try {
      for (;;) {
        await s.schedule(Promise.resolve(), 'read');
        const step = await reader.read();
        if (step.done) break;
        o.read++;
        items.push(step.value);
      }
    } catch (error) {
      state.error = error;
    }
    state.isDone = true;
  })();
  return state;
}

/**
 * Runs the scheduler until `isSettled()`, one scheduled task at a time with event-loop turns in
 * between; `interrupt` fires at step `at`, or as soon as nothing is left to schedule. Returns false
 * if it stalled with nothing left to do.
 */
async function drive(
  s: fc.Scheduler,
  isSettled: () => boolean,
  interrupt: { at: number; fire: () => void } | undefined,
): Promise<boolean> {
  let isInterrupted = interrupt === undefined;
  for (let step = 0; step < 500 && !isSettled(); step++) {
    if (!isInterrupted && step >= interrupt!.at) {
      isInterrupted = true;
      interrupt!.fire();
    }
    if (s.count() > 0) await s.waitOne();
    await settle();
    if (s.count() === 0 && !isSettled()) {
      await settle(5);
      if (s.count() > 0 || isSettled()) continue;
      if (isInterrupted) return false;
      isInterrupted = true;
      interrupt!.fire();
    }
  }
  return isSettled();
}

describe('LimitedTransformStream model', () => {
  it(
    `keeps its limit and bound, delivers what the model says, errors both sides with the first cause and always settles (fast-check seed ${seed})`,
    async () => {
      await assertProperty(
        fc.asyncProperty(fc.scheduler(), caseArb, async (s, c: Case) => {
          const { outcomes, limit, ordered, readableHighWaterMark } = c;
          const buffer = c.buffer ?? limit;
          const userController = new AbortController();
          const o = observer();
          const { causes } = o;
          /** The interrupt came once every mapper had settled: the stage may have completed first. */
          let isLate = false;
          const stage = new LimitedTransformStream<number, unknown>(limit, makeCall(s, outcomes, o.track), {
            ordered,
            signal: userController.signal,
            readableStrategy: { highWaterMark: readableHighWaterMark },
            ...(c.buffer === undefined ? {} : { buffer: c.buffer }),
          });

          const writer = stage.writable.getWriter();
          const reader = stage.readable.getReader();
          let writerError: unknown;
          let isWriterDone = false;
          const writing = (async () => {
            try {
              for (let i = 0; i < outcomes.length; i++) {
                await writer.ready;
                // Its rejection is the stage's error, seen through `closed` below.
                writer.write(i).catch(() => {});
              }
              await writer.close();
            } catch {
              // Errored: `writer.closed` says with what.
            }
            writerError = await writer.closed.then(
              () => undefined,
              (error: unknown) => error,
            );
            isWriterDone = true;
          })();

          const readState = readAll(s, reader, o);
          const { items } = readState;

          const reasons = { cancel: new Error('cancelled'), abort: new Error('aborted'), signal: new Error('signal') };
          const isSettledInTime = await drive(
            s,
            () => isWriterDone && readState.isDone,
            mayInterrupt(c) && {
              at: c.interrupt?.at ?? Number.POSITIVE_INFINITY,
              fire() {
                // Without an interrupt of its own, a case whose mappers hang is ended by a cancel.
                if (causes.length > 0 || (isWriterDone && readState.isDone)) return;
                const kind = c.interrupt?.kind ?? 'cancel';
                o.isStopped = true;
                isLate = o.settledCount === outcomes.length;
                causes.push(reasons[kind]);
                if (kind === 'cancel') reader.cancel(reasons.cancel).catch(() => {});
                else if (kind === 'abort') writer.abort(reasons.abort).catch(() => {});
                else userController.abort(reasons.signal);
              },
            },
          );
          await Promise.race([Promise.all([writing, readState.done]), settle(5)]);

          expect(isSettledInTime, 'both sides settled').toBe(true);
          expect(o.maxRunning).toBeLessThanOrEqual(limit);
          // Started ahead of the reader: the run's window, the readable queue, and the result handed to
          // the pending read() that the reader has not seen yet (counted when its await returns).
          expect(o.maxAhead, 'mappers started ahead of the reader').toBeLessThanOrEqual(
            limit + buffer + readableHighWaterMark + 1,
          );
          expect(o.startsAfterStop, 'mappers started after the stage stopped').toBe(0);
          const cause = causes[0];
          if (cause === undefined) {
            expect(readState.error).toBeUndefined();
            expect(writerError).toBeUndefined();
            const expected = outcomes.flatMap((o, i) => (o === 'reject' || o === 'throw' ? [] : [expectedValue(o, i)]));
            if (ordered) expect(items).toEqual(expected);
            else expect(items).toHaveLength(expected.length);
            if (!ordered) expect(new Set(items)).toEqual(new Set(expected));
          } else if (isLate) {
            // Completed before the interrupt, or stopped by it: either way no other error.
            if (cause === reasons.cancel) expect(readState.error).toBeUndefined();
            else expect([undefined, cause]).toContain(readState.error);
            expect([undefined, cause]).toContain(writerError);
          } else {
            // The canceller's own reader just ends; everyone else sees the cause.
            expect(readState.error).toBe(cause === reasons.cancel ? undefined : cause);
            expect(writerError).toBe(cause);
            for (const signal of o.inFlight.values()) {
              expect(signal.aborted, 'in-flight signals abort').toBe(true);
              if (cause instanceof Error && Object.values(reasons).includes(cause)) expect(signal.reason).toBe(cause);
              else expect((signal.reason as Error).cause).toBe(cause);
            }
          }
        }),
      );
    },
    testTimeout,
  );
});

describe('limitedReadableStream model', () => {
  it(
    `keeps its limit and bound, delivers every result, errors with the first cause and always settles (fast-check seed ${seed})`,
    async () => {
      await assertProperty(
        fc.asyncProperty(fc.scheduler(), caseArb, async (s, c: Case) => {
          const { outcomes, limit, ordered } = c;
          const buffer = c.buffer ?? limit;
          const userController = new AbortController();
          const o = observer();
          const { causes } = o;
          /** The interrupt came once every task had settled: the stream may have completed first. */
          let isLate = false;
          let isSourceStarted = false;
          let isSourceClosed = false;
          const call = makeCall(s, outcomes, o.track);
          function* tasks(): Generator<(context: TaskContext) => unknown> {
            isSourceStarted = true;
            try {
              for (let i = 0; i < outcomes.length; i++) {
                const x = i;
                yield (context) => call(x, context);
              }
            } finally {
              isSourceClosed = true;
            }
          }
          const stream = limitedReadableStream(tasks(), limit, {
            ordered,
            signal: userController.signal,
            ...(c.buffer === undefined ? {} : { buffer: c.buffer }),
          });
          const reader = stream.getReader();
          const readState = readAll(s, reader, o);
          const { items } = readState;

          const reasons = { cancel: new Error('cancelled'), signal: new Error('signal') };
          const isSettledInTime = await drive(
            s,
            () => readState.isDone,
            mayInterrupt(c) && {
              at: c.interrupt?.at ?? Number.POSITIVE_INFINITY,
              fire() {
                if (causes.length > 0 || readState.isDone) return;
                const kind = c.interrupt?.kind === 'signal' ? 'signal' : 'cancel';
                o.isStopped = true;
                isLate = o.settledCount === outcomes.length;
                causes.push(reasons[kind]);
                if (kind === 'cancel') reader.cancel(reasons.cancel).catch(() => {});
                else userController.abort(reasons.signal);
              },
            },
          );
          await Promise.race([readState.done, settle(5)]);

          expect(isSettledInTime, 'the reader settled').toBe(true);
          expect(o.maxRunning).toBeLessThanOrEqual(limit);
          // As above: the run's window, and the result handed to the pending read().
          expect(o.maxAhead, 'tasks started ahead of the reader').toBeLessThanOrEqual(limit + buffer + 1);
          expect(o.startsAfterStop, 'tasks started after the stream stopped').toBe(0);
          const cause = causes[0];
          if (cause === undefined) {
            expect(readState.error).toBeUndefined();
            const expected = outcomes.flatMap((o, i) => (o === 'reject' || o === 'throw' ? [] : [expectedValue(o, i)]));
            if (ordered) expect(items).toEqual(expected);
            else expect(new Set(items)).toEqual(new Set(expected));
            if (!ordered) expect(items).toHaveLength(expected.length);
          } else if (isLate) {
            expect([undefined, cause === reasons.cancel ? undefined : cause]).toContain(readState.error);
          } else {
            expect(readState.error).toBe(cause === reasons.cancel ? undefined : cause);
            for (const signal of o.inFlight.values()) expect(signal.aborted, 'in-flight signals abort').toBe(true);
          }
          // (A generator never pulled has no `finally` to run.)
          expect(isSourceClosed, 'the task source is closed or exhausted').toBe(isSourceStarted);
        }),
      );
    },
    testTimeout,
  );
});
