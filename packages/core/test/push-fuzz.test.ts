/**
 * A model-based fuzzer for the push entry the stream adapters use (`limitedMapPush` of
 * `@lac/core/internal`): a writer that writes items (plain values, promises, rejected promises) and
 * waits for `onReady()` after a false `write()`, sometimes writing again from inside `onReady()` as a
 * stream's write callback does; a consumer whose `onResult()` returns false at random and that
 * `resume()`s later; mappers that resolve, reject, throw, return at once or hang until aborted; and,
 * at random steps, `end()`, `drain()`, `return()` and `setLimit()`. Each step performs one enabled
 * action, then lets every queued microtask run. Checked after every case: the bound (at most `limit`
 * mappers at once and `limit + buffer` started-but-undelivered), every item mapped at most once and
 * only if it was written while the input was open, every result delivered at most once (in input
 * order with `ordered`), nothing after `onError()`/`onDone()`/`return()`, exactly one end when the
 * input ended, `onReady()` only after a false write, a blocked writer freed by a drain, the signals
 * of the mappers in flight aborted by a stop, and no unhandled rejection.
 *
 * Seeded: LAC_FUZZ_SEED replays a run (a random seed otherwise, printed in the test's name and on failure).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { limitedMapPush, type PushedRun } from '../src/internal.js';
import type { TaskContext } from '../src/index.js';
import { watchUnhandled } from '@lac/test-tools/unhandled';
import { deferred, type Deferred, ticks } from './helpers.js';

const seed =
  process.env.LAC_FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.LAC_FUZZ_SEED);
const numRuns = Number(process.env.LAC_FUZZ_RUNS ?? 3000);

type Outcome = 'resolve' | 'reject' | 'value' | 'throw' | 'hang';
type ItemKind = 'plain' | 'promise' | 'rejected';
type Action = 'settle' | 'write' | 'end' | 'resume' | 'drain' | 'return' | 'setLimit';

interface PushCase {
  readonly limit: number;
  readonly buffer: number | undefined;
  readonly ordered: boolean;
  readonly count: number;
  readonly outcomes: readonly Outcome[];
  readonly itemKinds: readonly ItemKind[];
  /** What `onResult()` returns for result k (cycled). */
  readonly accepts: readonly boolean[];
  /** Write again from inside `onReady()`. */
  readonly writesFromReady: boolean;
  readonly actions: readonly { readonly action: Action; readonly pick: number }[];
}

interface Running {
  readonly item: number;
  readonly settle: Deferred<number>;
  readonly context: TaskContext;
}

async function runPushCase(c: PushCase): Promise<string[]> {
  const problems: string[] = [];
  const watch = watchUnhandled();
  // `buffer` keeps the value it had when the run was made (its default is the first limit); setLimit() moves the window with the limit.
  const window = (limit: number) => limit + (c.buffer ?? c.limit);
  let limit = c.limit;
  let running: Running[] = [];
  const mapped = new Set<number>();
  const delivered: number[] = [];
  const settledOk = new Set<number>();
  let ends = 0;
  let errors = 0;
  let isStopped = false;
  let isDrained = false;
  let isEnded = false;
  let isPaused = true;
  let falseWrites = 0;
  let readies = 0;
  let isBlocked = false;
  let written = 0;
  /** Items written while the input was open (after the end, a drain or a stop, writes are dropped). */
  const acceptedWrites = new Set<number>();
  let run: PushedRun<unknown> | undefined;
  const closed = () => isEnded || isDrained || isStopped || ends > 0 || errors > 0;

  const itemValue = (i: number): unknown => {
    const kind = c.itemKinds[i % c.itemKinds.length]!;
    if (kind === 'plain') return i;
    if (kind === 'promise') return Promise.resolve(i);
    const rejected = Promise.reject(new Error(`item ${i} rejected`));
    return rejected;
  };

  const write = (): void => {
    if (run === undefined || written >= c.count || isEnded) return;
    const i = written++;
    if (!closed()) acceptedWrites.add(i);
    const isTaken = run.write(itemValue(i));
    if (!isTaken) {
      if (closed()) problems.push(`write(${i}) returned false after the input closed`);
      falseWrites++;
      isBlocked = true;
    }
  };

  const mapper = (item: number, context: TaskContext): unknown => {
    if (mapped.has(item)) problems.push(`item ${item} mapped twice`);
    mapped.add(item);
    if (!acceptedWrites.has(item)) problems.push(`item ${item} mapped though written after the input closed`);
    if (isStopped) problems.push(`item ${item} mapped after return()`);
    if (running.length >= limit) problems.push(`item ${item} started with ${running.length} running, limit ${limit}`);
    const undelivered = [...settledOk].filter((i) => !delivered.includes(i)).length;
    if (running.length + undelivered >= window(limit))
      problems.push(
        `item ${item} started with ${running.length} running and ${undelivered} undelivered, window ${window(limit)}`,
      );
    const outcome = c.outcomes[item % c.outcomes.length]!;
    if (outcome === 'value') {
      settledOk.add(item);
      return item;
    }
    if (outcome === 'throw') throw new Error(`mapper ${item} threw`);
    const settle = deferred<number>();
    const entry: Running = { item, settle, context };
    running.push(entry);
    const leave = () => {
      running = running.filter((r) => r !== entry);
    };
    if (outcome === 'hang') context.signal.addEventListener('abort', () => settle.reject(context.signal.reason));
    return settle.promise.then(
      (value) => {
        leave();
        settledOk.add(item);
        return value;
      },
      (error: unknown) => {
        leave();
        throw error;
      },
    );
  };

  let k = 0;
  run = limitedMapPush<unknown, number>(
    limit,
    mapper as never,
    {
      onResult(value) {
        if (isStopped || ends > 0 || errors > 0) problems.push(`onResult(${value}) after the end`);
        if (isPaused) problems.push(`onResult(${value}) while paused`);
        if (delivered.includes(value)) problems.push(`result ${value} delivered twice`);
        delivered.push(value);
        const accept = c.accepts[k++ % c.accepts.length]!;
        if (!accept) isPaused = true;
        return accept;
      },
      onError() {
        if (isStopped || ends > 0 || errors > 0) problems.push('onError after the end');
        errors++;
      },
      onDone() {
        if (isStopped || ends > 0 || errors > 0) problems.push('onDone after the end');
        ends++;
      },
      onReady() {
        readies++;
        if (!isBlocked) problems.push('onReady() without a blocked write');
        if (isStopped || errors > 0)
          problems.push('onReady() after a stop: the blocked write must hear of the stop, not that it is free');
        isBlocked = false;
        if (c.writesFromReady) write();
      },
    },
    { ordered: c.ordered, ...(c.buffer === undefined ? {} : { buffer: c.buffer }) },
  );

  const enabled = (action: Action): boolean => {
    switch (action) {
      case 'settle':
        return running.length > 0;
      case 'write':
        return !isBlocked && written < c.count && !isEnded;
      case 'end':
        return !isEnded && written === c.count;
      case 'resume':
        return isPaused;
      default:
        return true;
    }
  };
  const act = (action: Action, pick: number): void => {
    switch (action) {
      case 'settle': {
        const entry = running[pick % running.length]!;
        const outcome = c.outcomes[entry.item % c.outcomes.length]!;
        if (outcome === 'reject') entry.settle.reject(new Error(`mapper ${entry.item} rejected`));
        else if (outcome === 'hang') break;
        else entry.settle.resolve(entry.item);
        break;
      }
      case 'write':
        write();
        break;
      case 'end':
        isEnded = true;
        run!.end();
        break;
      case 'resume':
        isPaused = false;
        run!.resume();
        break;
      case 'drain':
        if (!isStopped && ends === 0 && errors === 0) isDrained = true;
        run!.drain();
        break;
      case 'return':
        isStopped = true;
        void run!.return();
        break;
      case 'setLimit':
        limit = 1 + (pick % 4);
        run!.setLimit(limit);
        break;
    }
  };

  for (const { action, pick } of c.actions) {
    if (enabled(action)) act(action, pick);
    await ticks(20);
  }
  // Finish: the writer writes what is left and ends, the consumer takes everything, every mapper settles.
  for (let guard = 0; guard < 200; guard++) {
    if (isPaused && !isStopped) act('resume', 0);
    if (!isBlocked && written < c.count) write();
    else if (!isEnded && written === c.count) act('end', 0);
    else if (running.length > 0) {
      const entry = running[0]!;
      if (c.outcomes[entry.item % c.outcomes.length] === 'hang') entry.settle.reject(new Error('hung'));
      else entry.settle.resolve(entry.item);
    } else if (ends + errors > 0 || isStopped) break;
    await ticks(20);
  }
  await ticks(20);

  if (ends + errors > 1) problems.push(`${ends} onDone and ${errors} onError`);
  if (!isStopped && ends + errors === 0)
    problems.push(`never ended: ${running.length} running, blocked ${isBlocked}, written ${written}/${c.count}`);
  if (readies > falseWrites) problems.push(`${readies} onReady() for ${falseWrites} false writes`);
  if (isBlocked && isDrained && !isStopped && errors === 0) problems.push('a drain left the writer blocked');
  if (isStopped || errors > 0) {
    for (const entry of running)
      if (!entry.context.signal.aborted)
        problems.push(`mapper ${entry.item} in flight at a stop, its signal not aborted`);
  }
  if (!isStopped && errors === 0) {
    // Ended normally: every item mapped and fulfilled was delivered once, in input order with `ordered`.
    const expected = [...settledOk].sort((a, b) => a - b);
    const got = [...delivered].sort((a, b) => a - b);
    if (JSON.stringify(expected) !== JSON.stringify(got))
      problems.push(`delivered ${JSON.stringify(delivered)}, fulfilled ${JSON.stringify(expected)}`);
    if (c.ordered && JSON.stringify(delivered) !== JSON.stringify(got))
      problems.push(`ordered run delivered ${JSON.stringify(delivered)}`);
    if (!isDrained) {
      const notMapped = [...acceptedWrites].filter((i) => !mapped.has(i));
      if (notMapped.length > 0) problems.push(`written items never mapped: ${notMapped.join(', ')}`);
    }
  }
  for (const entry of running) entry.settle.reject(new Error('case over'));
  await ticks(20);
  await watch.dispose();
  for (const reason of watch.reasons) problems.push(`unhandled rejection: ${String(reason)}`);
  return problems;
}

const caseArb: fc.Arbitrary<PushCase> = fc.record({
  limit: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(8) }),
  buffer: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  ordered: fc.boolean(),
  count: fc.integer({ min: 0, max: 12 }),
  outcomes: fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.constant('resolve' as const) },
      { weight: 2, arbitrary: fc.constant('value' as const) },
      { weight: 1, arbitrary: fc.constant('reject' as const) },
      { weight: 1, arbitrary: fc.constant('throw' as const) },
      { weight: 1, arbitrary: fc.constant('hang' as const) },
    ),
    { minLength: 1, maxLength: 6 },
  ),
  itemKinds: fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constant('plain' as const) },
      { weight: 2, arbitrary: fc.constant('promise' as const) },
      { weight: 1, arbitrary: fc.constant('rejected' as const) },
    ),
    { minLength: 1, maxLength: 4 },
  ),
  accepts: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
  writesFromReady: fc.boolean(),
  actions: fc.array(
    fc.record({
      action: fc.oneof(
        { weight: 6, arbitrary: fc.constant('settle' as const) },
        { weight: 6, arbitrary: fc.constant('write' as const) },
        { weight: 3, arbitrary: fc.constant('resume' as const) },
        { weight: 1, arbitrary: fc.constant('end' as const) },
        { weight: 2, arbitrary: fc.constantFrom('drain' as const, 'return' as const, 'setLimit' as const) },
      ),
      pick: fc.nat(100),
    }),
    { maxLength: 40 },
  ),
});

describe('model-based fuzzer of the push entry (write/onReady, onResult/resume, end, drain, return, setLimit)', () => {
  it(`holds every invariant over ${numRuns} random cases (seed ${seed})`, async () => {
    const property = fc.asyncProperty(caseArb, async (c) => {
      const problems = await runPushCase(c);
      if (problems.length > 0) throw new Error(`${problems.join('\n')}\ncase: ${JSON.stringify(c)}`);
    });
    const details = await fc.check(property, { seed, numRuns });
    if (details.failed) {
      const error =
        details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      expect.fail(
        `${error}\n\n${fc.defaultReportMessage(details)}\n\nReplay with: LAC_FUZZ_SEED=${details.seed} npx vitest run test/push-fuzz.test.ts`,
      );
    }
    expect(details.numRuns).toBe(numRuns);
  });
});
