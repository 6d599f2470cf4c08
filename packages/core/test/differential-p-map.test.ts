/**
 * Differential tests against the real p-map 7.1: the same random scripts (items whose mappers
 * resolve, reject, return a value at once or skip, settled in a script-chosen order, with every
 * queued callback run between steps) go through `pMap`, `pMapIterable` in both orders and
 * `pMapSkip` and `pMapSettled`, and through `limitedMap` or `limitedMapSettled` with the matching options; the starts, the peak
 * concurrency, the results and the failure must match.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pMap, { pMapIterable, pMapSettled, pMapSkip } from 'p-map';
import { limitedMap, limitedMapSettled } from '@lac/core';
import { type Deferred, assertProperty, deferred, flush } from './helpers.js';

/** What @lac/core's mappers return to produce no result: `skip` (`Symbol.for('@lac/core.skip')`). */
const lacSkip = Symbol.for('@lac/core.skip');

type Kind = 'resolve' | 'reject' | 'value' | 'skip';
interface Script {
  readonly concurrency: number;
  readonly kinds: readonly Kind[];
  /** Which running mapper settles next: `picks[step] % running.length`, running sorted by index. */
  readonly picks: readonly number[];
}

const scriptArb = (kinds: fc.Arbitrary<Kind>): fc.Arbitrary<Script> =>
  fc.record({
    concurrency: fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }) },
      { weight: 1, arbitrary: fc.constant(Number.POSITIVE_INFINITY) },
    ),
    kinds: fc.array(kinds, { maxLength: 12 }),
    picks: fc.array(fc.nat(100), { minLength: 1, maxLength: 12 }),
  });

const anyKind = fc.constantFrom<Kind>('resolve', 'resolve', 'resolve', 'value', 'skip', 'reject');
const noFailure = fc.constantFrom<Kind>('resolve', 'resolve', 'value', 'skip');

interface Observed {
  starts: number[];
  peak: number;
  values: unknown[];
  error: string | undefined;
}

/** Runs `script` through `consume(mapper)`, settling one running mapper per step. */
async function run(
  script: Script,
  skipValue: symbol,
  consume: (mapper: (item: number) => unknown, values: unknown[]) => Promise<void>,
): Promise<Observed> {
  const observed: Observed = { starts: [], peak: 0, values: [], error: undefined };
  const running = new Map<number, Deferred<unknown>>();
  const mapper = (item: number): unknown => {
    observed.starts.push(item);
    const kind = script.kinds[item]!;
    if (kind === 'value') return item * 10;
    if (kind === 'skip') return skipValue;
    const handle = deferred<unknown>();
    running.set(item, handle);
    observed.peak = Math.max(observed.peak, running.size);
    return handle.promise;
  };
  let isFinished = false;
  consume(mapper, observed.values).then(
    () => {
      isFinished = true;
    },
    (error: Error) => {
      observed.error = error.message;
      isFinished = true;
    },
  );
  for (let step = 0; !isFinished && step < 100; step++) {
    await flush(1);
    if (running.size === 0) continue;
    const ids = [...running.keys()].sort((a, b) => a - b);
    const id = ids[script.picks[step % script.picks.length]! % ids.length]!;
    const handle = running.get(id)!;
    running.delete(id);
    if (script.kinds[id] === 'reject') handle.reject(new Error(`reject ${id}`));
    else handle.resolve(id * 10);
  }
  // Mappers p-map leaves running after a failure: settle them so nothing is left pending.
  for (const handle of running.values()) handle.resolve(undefined);
  await flush(2);
  return observed;
}

const items = (script: Script) => Array.from(script.kinds, (_, index) => index);

/** p-map keeps no window: a finished result never holds back a start, so ours gets `buffer: Infinity`. */
function ours(script: Script, ordered: boolean) {
  return run(script, lacSkip, async (mapper, values) => {
    for await (const value of limitedMap(items(script), script.concurrency, (item) => mapper(item), {
      ordered,
      buffer: Number.POSITIVE_INFINITY,
    })) {
      values.push(value);
    }
  });
}

function theirsIterable(script: Script, preserveOrder: boolean) {
  return run(script, pMapSkip, async (mapper, values) => {
    const options = { concurrency: script.concurrency, backpressure: Number.POSITIVE_INFINITY, preserveOrder };
    for await (const value of pMapIterable(items(script), (item) => mapper(item) as never, options)) values.push(value);
  });
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

/** The starts before the first failure: after it, both stop starting, but p-map's later mappers may already be queued. */
function startsUntilFailure(observed: Observed, script: Script): number[] {
  const failure = observed.starts.findIndex((item) => script.kinds[item] === 'reject');
  return failure === -1 ? observed.starts : observed.starts.slice(0, failure + 1);
}

describe('differential: limitedMap against p-map 7.1', () => {
  it('pMap: same starts, peak concurrency, results (skips dropped) and failure as ordered limitedMap collected', async () => {
    await assertProperty(
      fc.asyncProperty(scriptArb(anyKind), async (script) => {
        const theirs = await run(script, pMapSkip, async (mapper, values) => {
          values.push(
            ...(await pMap(items(script), (item) => mapper(item) as never, { concurrency: script.concurrency })),
          );
        });
        const mine = await ours(script, true);
        expect(mine.error).toBe(theirs.error);
        expect(startsUntilFailure(mine, script)).toEqual(startsUntilFailure(theirs, script));
        expect(mine.peak).toBe(theirs.peak);
        // pMap resolves with everything or rejects with nothing; ours yields what came before the failure.
        if (theirs.error === undefined) expect(mine.values).toEqual(theirs.values);
        return true;
      }),
      150,
    );
  });

  it('pMapIterable (input order): same starts, peak concurrency and results as ordered limitedMap', async () => {
    await assertProperty(
      fc.asyncProperty(scriptArb(noFailure), async (script) => {
        const theirs = await theirsIterable(script, true);
        const mine = await ours(script, true);
        expect(mine.values).toEqual(theirs.values);
        expect(mine.peak).toBe(theirs.peak);
        // pMapIterable reads elements concurrently, so it may call the mapper of item 6 before item 5's.
        expect(sorted(mine.starts)).toEqual(sorted(theirs.starts));
        return true;
      }),
      150,
    );
  });

  it('pMapIterable with preserveOrder: false: same starts, peak concurrency, results in completion order and failure as limitedMap', async () => {
    await assertProperty(
      fc.asyncProperty(scriptArb(anyKind), async (script) => {
        const theirs = await theirsIterable(script, false);
        const mine = await ours(script, false);
        expect(mine.error).toBe(theirs.error);
        expect(sorted(startsUntilFailure(mine, script))).toEqual(sorted(startsUntilFailure(theirs, script)));
        expect(mine.peak).toBe(theirs.peak);
        expect(mine.values).toEqual(theirs.values);
        return true;
      }),
      150,
    );
  });

  it('pMapIterable (input order) with one failure: the same error, after the same results', async () => {
    await assertProperty(
      fc.asyncProperty(scriptArb(noFailure), fc.nat(11), async (base, at) => {
        if (base.kinds.length === 0) return true;
        const kinds = base.kinds.map((kind, index) => (index === at % base.kinds.length ? ('reject' as const) : kind));
        const script = { ...base, kinds };
        const theirs = await theirsIterable(script, true);
        const mine = await ours(script, true);
        expect(mine.error).toBe(theirs.error);
        expect(sorted(startsUntilFailure(mine, script))).toEqual(sorted(startsUntilFailure(theirs, script)));
        expect(mine.peak).toBe(theirs.peak);
        // p-map still waits for the mappers before the failing one and yields their results; we stop at once
        // (their signals abort), yielding only what had finished in order: a prefix of p-map's results.
        expect(theirs.values.slice(0, mine.values.length)).toEqual(mine.values);
        return true;
      }),
      100,
    );
  });

  it('pMapSettled: same starts, peak concurrency and outcomes (skips dropped) as ordered limitedMapSettled collected', async () => {
    const describeOutcome = (outcome: { status: string; value?: unknown; reason?: unknown }) =>
      outcome.status === 'fulfilled'
        ? `fulfilled ${String(outcome.value)}`
        : `rejected ${(outcome.reason as Error).message}`;
    await assertProperty(
      fc.asyncProperty(scriptArb(anyKind), async (script) => {
        const theirs = await run(script, pMapSkip, async (mapper, values) => {
          const outcomes = await pMapSettled(items(script), (item) => mapper(item) as never, {
            concurrency: script.concurrency,
          });
          values.push(...outcomes.map(describeOutcome));
        });
        const mine = await run(script, lacSkip, async (mapper, values) => {
          const options = { ordered: true, buffer: Number.POSITIVE_INFINITY };
          for await (const outcome of limitedMapSettled(
            items(script),
            script.concurrency,
            (item) => mapper(item),
            options,
          ))
            values.push(describeOutcome(outcome));
        });
        expect(mine).toEqual(theirs);
        return true;
      }),
      150,
    );
  });
});
