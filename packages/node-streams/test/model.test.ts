/**
 * Model-based properties under fc.scheduler(): the scheduler decides which mapper settles and which
 * sink write completes next, and an interruption (destroy, destroy(error), options.signal, a
 * pipeline signal, a failing sink or source) lands at a random step. After every case the stage
 * must have kept its bound and its limit, delivered exactly what the model says (all results, in
 * order with `ordered`, when nothing failed), rejected with the first cause, emitted at most one
 * 'error', started nothing after it stopped, aborted what was in flight, and settled (no deadlock).
 *
 * Seeded: LAC_FC_SEED replays a run (the fixed default seed otherwise; it is printed on failure).
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TaskContext } from '@lac/core';
import { limitedReadable, limitedTransform } from '@lac/node-streams';
import { settle, track } from './helpers.js';

const seed = Number(process.env.LAC_FC_SEED ?? 20_261_202);
const numRuns = Number(process.env.LAC_FC_RUNS ?? 150);
/** A longer hunt (LAC_FC_RUNS) gets the time it needs: each case is bounded by its step cap, never the wall clock. */
const testTimeout = Math.max(30_000, numRuns * 100);

async function assertProperty(property: Parameters<typeof fc.assert>[0]): Promise<void> {
  try {
    await fc.assert(property, {
      seed,
      numRuns,
      ...(process.env.LAC_FC_PATH === undefined ? {} : { path: process.env.LAC_FC_PATH }),
    });
  } catch (error) {
    if (error instanceof Error)
      error.message = `[fast-check seed ${seed}; replay with LAC_FC_SEED=${seed}]\n${error.message}`;
    throw error;
  }
}

/** The stream pushed its end (`push(null)`), whether or not it was read to it. Node has no public field for it. */
function isEndPushed(stream: Readable): boolean {
  return (stream as unknown as { _readableState: { ended: boolean } })._readableState.ended;
}

/** What a mapper (or task) does with its item. */
type Outcome = 'value' | 'sync' | 'null' | 'undefined' | 'reject' | 'throw' | 'hang' | 'ignoreAbort';
type Interrupt = 'destroy' | 'destroyError' | 'signal' | 'pipelineSignal' | 'sinkError' | 'sourceError';

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
  highWaterMark: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  ordered: fc.boolean(),
  interrupt: fc.option(
    fc.record({
      at: fc.integer({ min: 0, max: 40 }),
      kind: fc.constantFrom<Interrupt>(
        'destroy',
        'destroyError',
        'signal',
        'pipelineSignal',
        'sinkError',
        'sourceError',
      ),
    }),
    { nil: undefined },
  ),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** The value an item's mapper gives, or why it gives none. */
function runOutcome(
  s: fc.Scheduler,
  outcome: Outcome,
  x: number,
  signal: AbortSignal,
  onFailure: (error: Error) => void,
): unknown {
  const fail = (): never => {
    const error = new Error(`mapper ${x} failed`);
    onFailure(error);
    throw error;
  };
  switch (outcome) {
    case 'sync':
      return x * 10;
    case 'throw':
      return fail();
    case 'hang':
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    case 'ignoreAbort':
      return new Promise(() => {});
    default:
      return s.schedule(Promise.resolve(), `mapper ${x}`).then(() => {
        if (outcome === 'reject') fail();
        return outcome === 'null' ? null : outcome === 'undefined' ? undefined : x * 10;
      });
  }
}

/**
 * What both properties watch of their mappers (tasks), as one state object: `call(x, context)` runs
 * item x's outcome and counts it. `isStopped()` says the stream was destroyed: a start after it is
 * counted, and a failure after it is dropped, not a cause. `onStart` samples what the property bounds.
 */
function observer(
  s: fc.Scheduler,
  outcomes: readonly Outcome[],
  isStopped: () => boolean,
  onStart: () => void = () => {},
) {
  const state = {
    running: 0,
    maxRunning: 0,
    started: 0,
    startsAfterStop: 0,
    /** Results that were `null` or `undefined`: they leave the stream without reaching the sink. */
    dropped: 0,
    inFlight: new Map<number, AbortSignal>(),
    /** Why the run stops: the first is the cause. */
    causes: [] as unknown[],
    call(x: number, { signal }: TaskContext): unknown {
      if (isStopped()) state.startsAfterStop++;
      state.started++;
      state.running++;
      state.maxRunning = Math.max(state.maxRunning, state.running);
      onStart();
      state.inFlight.set(x, signal);
      const done = (isDropped: boolean): void => {
        state.running--;
        state.inFlight.delete(x);
        if (isDropped) state.dropped++;
      };
      let value: unknown;
      try {
        value = runOutcome(s, outcomes[x]!, x, signal, (error) => {
          if (!isStopped()) state.causes.push(error);
        });
      } catch (error) {
        done(false);
        throw error;
      }
      if (!(value instanceof Promise)) {
        done(value === null || value === undefined);
        return value;
      }
      return value.then(
        (result) => {
          done(result === null || result === undefined);
          return result;
        },
        (error: unknown) => {
          done(false);
          throw error;
        },
      );
    },
  };
  return state;
}

/**
 * Runs the scheduler until `isSettled()`: one scheduled task at a time, with turns of the event loop
 * between (stream internals run on nextTick and setImmediate). `interrupt` fires at step `at`, or as
 * soon as nothing is left to schedule. Returns false if it stalled with nothing left to do.
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
    await settle(2);
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

describe('limitedTransform model', () => {
  it(
    `keeps its limit and bound, delivers what the model says, fails with the first cause, once, and always settles (fast-check seed ${seed})`,
    async () => {
      await assertProperty(
        fc.asyncProperty(fc.scheduler(), caseArb, async (s, c: Case) => {
          const { outcomes, limit, ordered } = c;
          const buffer = c.buffer ?? limit;
          const hwm = Math.max(c.highWaterMark ?? 16, 1);
          const signalController = new AbortController();
          const pipelineController = new AbortController();
          // Written to the stage and not yet out of it (to the sink, or dropped as null/undefined).
          let written = 0;
          let sunk = 0;
          let maxInStage = 0;
          const o = observer(s, outcomes, () => stage.destroyed);
          const { causes } = o;
          const errors: unknown[] = [];
          const stage = limitedTransform(limit, o.call, {
            ordered,
            signal: signalController.signal,
            ...(c.buffer === undefined ? {} : { buffer: c.buffer }),
            ...(c.highWaterMark === undefined ? {} : { highWaterMark: c.highWaterMark }),
          });
          stage.on('error', (error) => errors.push(error));
          const stageWrite = stage.write.bind(stage) as (...args: unknown[]) => boolean;
          stage.write = ((...args: unknown[]) => {
            written++;
            maxInStage = Math.max(maxInStage, written - sunk - o.dropped);
            return stageWrite(...args);
          }) as typeof stage.write;

          const items: number[] = [];
          let sinkCallback: ((error?: Error | null) => void) | undefined;
          const sink = new Writable({
            objectMode: true,
            highWaterMark: 1,
            write(chunk: number, _encoding, callback) {
              items.push(chunk);
              sunk++;
              sinkCallback = callback;
              void s.schedule(Promise.resolve(), `sink ${chunk}`).then(() => {
                sinkCallback = undefined;
                callback();
              });
            },
          });
          const source = Readable.from(outcomes.map((_outcome, i) => i));
          const reasons = {
            destroyError: new Error('destroyed'),
            signal: new Error('options.signal'),
            sinkError: new Error('sink failed'),
            sourceError: new Error('source failed'),
          };
          const settled = track(pipeline(source, stage, sink, { signal: pipelineController.signal }));
          const interrupt = c.interrupt;
          const isSettledInTime = await drive(
            s,
            () => settled.isSettled,
            interrupt === undefined && !outcomes.some((o) => o === 'hang' || o === 'ignoreAbort')
              ? undefined
              : {
                  at: interrupt?.at ?? Number.POSITIVE_INFINITY,
                  fire: () => {
                    if (stage.destroyed || settled.isSettled) return;
                    let kind = interrupt?.kind ?? 'destroy';
                    // Too late for the source to fail (it ended): destroy the stage instead.
                    if (kind === 'sourceError' && (source.readableEnded || source.destroyed)) kind = 'destroy';
                    // Node's pipeline() never settles when a stage that already pushed its end is destroyed
                    // without an error: it waits for an 'end' that cannot come (a plain Transform hangs the
                    // same way), so that case destroys with an error.
                    if (kind === 'destroy' && isEndPushed(stage)) kind = 'destroyError';
                    // Every result is out: the run is over and its signal no longer matters.
                    if (kind === 'signal' && isEndPushed(stage)) return;
                    if (kind === 'destroy') {
                      causes.push('destroy');
                      stage.destroy();
                    } else if (kind === 'destroyError') {
                      causes.push(reasons.destroyError);
                      stage.destroy(reasons.destroyError);
                    } else if (kind === 'signal') {
                      causes.push(reasons.signal);
                      signalController.abort(reasons.signal);
                    } else if (kind === 'pipelineSignal') {
                      causes.push('pipelineSignal');
                      pipelineController.abort();
                    } else if (kind === 'sourceError') {
                      causes.push(reasons.sourceError);
                      source.destroy(reasons.sourceError);
                    } else {
                      causes.push(reasons.sinkError);
                      if (sinkCallback === undefined) sink.destroy(reasons.sinkError);
                      else sinkCallback(reasons.sinkError);
                    }
                  },
                },
          );
          await settle(5);
          expect(isSettledInTime, 'the pipeline settled').toBe(true);
          expect(o.maxRunning).toBeLessThanOrEqual(limit);
          expect(maxInStage, 'items inside the stage').toBeLessThanOrEqual(limit + buffer + 2 * hwm);
          expect(o.startsAfterStop, 'mappers started after the stage closed').toBe(0);
          expect(errors.length).toBeLessThanOrEqual(1);
          const cause = causes[0];
          if (cause === undefined) {
            expect(settled.rejection).toBeUndefined();
            const expected = outcomes.flatMap((o, i) => (o === 'value' || o === 'sync' ? [i * 10] : []));
            if (ordered) expect(items).toEqual(expected);
            else expect([...items].sort((a, b) => a - b)).toEqual(expected);
          } else {
            expect(stage.destroyed).toBe(true);
            if (cause === 'destroy')
              expect((settled.rejection as NodeJS.ErrnoException).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
            else if (cause === 'pipelineSignal') expect((settled.rejection as Error).name).toBe('AbortError');
            else if (cause === reasons.sinkError || cause === reasons.sourceError) {
              // Another stream's failure reaches pipeline() a few ticks later (the source's destroy is
              // asynchronous), so a mapper that fails meanwhile may be reported first.
              expect(causes).toContain(settled.rejection);
            } else expect(settled.rejection).toBe(cause);
            for (const signal of o.inFlight.values()) expect(signal.aborted, 'in-flight signals abort').toBe(true);
            // The stage's own error is the cause it was given (a sink or source failure reaches it later,
            // and a mapper may fail first meanwhile).
            if (
              errors.length === 1 &&
              (cause === reasons.destroyError || cause === reasons.signal || causes.length === 1)
            )
              if (typeof cause !== 'string' && cause !== reasons.sinkError && cause !== reasons.sourceError)
                expect(errors[0]).toBe(cause);
          }
        }),
      );
    },
    testTimeout,
  );
});

describe('limitedReadable model', () => {
  it(
    `keeps its limit and bound, delivers every result, fails with the first cause and always settles (fast-check seed ${seed})`,
    async () => {
      await assertProperty(
        fc.asyncProperty(fc.scheduler(), caseArb, async (s, c: Case) => {
          const { outcomes, limit, ordered } = c;
          const buffer = c.buffer ?? limit;
          const hwm = Math.max(c.highWaterMark ?? 16, 1);
          const signalController = new AbortController();
          // Out to the sink; a dropped (null or undefined) result leaves at once, counted by the observer.
          let sunk = 0;
          let maxAhead = 0;
          let isSourceStarted = false;
          let isSourceClosed = false;
          const o = observer(
            s,
            outcomes,
            () => stream.destroyed,
            // Started and not yet out to the sink.
            () => {
              maxAhead = Math.max(maxAhead, o.started - (sunk + o.dropped));
            },
          );
          const { causes } = o;
          function* tasks(): Generator<(context: TaskContext) => unknown> {
            isSourceStarted = true;
            try {
              for (let i = 0; i < outcomes.length; i++) {
                const x = i;
                yield (context: TaskContext) => o.call(x, context);
              }
            } finally {
              isSourceClosed = true;
            }
          }
          const stream: Readable = limitedReadable(tasks(), limit, {
            ordered,
            signal: signalController.signal,
            ...(c.buffer === undefined ? {} : { buffer: c.buffer }),
            ...(c.highWaterMark === undefined ? {} : { highWaterMark: c.highWaterMark }),
          });
          const errors: unknown[] = [];
          stream.on('error', (error) => errors.push(error));
          const items: number[] = [];
          const sink = new Writable({
            objectMode: true,
            highWaterMark: 1,
            write(chunk: number, _encoding, callback) {
              items.push(chunk);
              sunk++;
              void s.schedule(Promise.resolve(), `sink ${chunk}`).then(() => callback());
            },
          });
          const reasons = { destroyError: new Error('destroyed'), signal: new Error('options.signal') };
          const settled = track(pipeline(stream, sink));
          const interrupt = c.interrupt;
          const isSettledInTime = await drive(
            s,
            () => settled.isSettled,
            interrupt === undefined && !outcomes.some((o) => o === 'hang' || o === 'ignoreAbort')
              ? undefined
              : {
                  at: interrupt?.at ?? Number.POSITIVE_INFINITY,
                  fire: () => {
                    if (stream.destroyed || settled.isSettled) return;
                    let kind: 'destroy' | 'destroyError' | 'signal' =
                      interrupt?.kind === 'signal'
                        ? 'signal'
                        : interrupt?.kind === 'destroyError'
                          ? 'destroyError'
                          : 'destroy';
                    // As in the limitedTransform model: Node's pipeline() hangs on that one, and a signal
                    // that aborts once every result is out has nothing left to stop.
                    if (kind === 'destroy' && isEndPushed(stream)) kind = 'destroyError';
                    if (kind === 'signal' && isEndPushed(stream)) return;
                    causes.push(kind === 'destroy' ? kind : reasons[kind]);
                    if (kind === 'destroy') stream.destroy();
                    else if (kind === 'destroyError') stream.destroy(reasons.destroyError);
                    else signalController.abort(reasons.signal);
                  },
                },
          );
          await settle(5);

          expect(isSettledInTime, 'the pipeline settled').toBe(true);
          expect(o.maxRunning).toBeLessThanOrEqual(limit);
          // Started ahead of the sink: the run's window, the readable buffer and the one the sink holds.
          expect(maxAhead, 'tasks started ahead of the sink').toBeLessThanOrEqual(limit + buffer + hwm + 1);
          expect(o.startsAfterStop, 'tasks started after the stream closed').toBe(0);
          expect(errors.length).toBeLessThanOrEqual(1);
          const cause = causes[0];
          if (cause === undefined) {
            expect(settled.rejection).toBeUndefined();
            const expected = outcomes.flatMap((o, i) => (o === 'value' || o === 'sync' ? [i * 10] : []));
            if (ordered) expect(items).toEqual(expected);
            else expect([...items].sort((a, b) => a - b)).toEqual(expected);
          } else {
            if (cause === 'destroy')
              expect((settled.rejection as NodeJS.ErrnoException).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
            else expect(settled.rejection).toBe(cause);
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
