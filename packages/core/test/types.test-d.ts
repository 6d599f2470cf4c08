// Type tests for the public generics: checked by `tsc -p tsconfig.test.json` (`pnpm check`), never run.
import { describe, expectTypeOf, it } from 'vitest';
import {
  createLimiter,
  type Limiter,
  type LimitedIterator,
  type LimitedStats,
  limitedAsCompleted,
  limitedAsSettled,
  limitedMap,
  perKey,
  rateLimit,
  retryPolicy,
  createSharedLimit,
  slotsFrom,
  type Settled,
  type TaskContext,
} from '@lac/core';

describe('limitedMap', () => {
  it('infers TInput from the items and TResult from the mapper, unwrapping promises', () => {
    const sizes = limitedMap(['a', 'bb'], 2, async (item, context) => {
      expectTypeOf(item).toEqualTypeOf<string>();
      expectTypeOf(context).toEqualTypeOf<TaskContext>();
      expectTypeOf(context.signal).toEqualTypeOf<AbortSignal>();
      return item.length;
    });
    expectTypeOf(sizes).toEqualTypeOf<LimitedIterator<number>>();
    expectTypeOf(sizes.stats).toEqualTypeOf<LimitedStats>();
  });

  it('accepts async iterables of items', () => {
    async function* ids(): AsyncGenerator<bigint> {
      yield 1n;
    }
    expectTypeOf(limitedMap(ids(), 2, (id) => id.toString())).toEqualTypeOf<LimitedIterator<string>>();
  });

  it('rejects a mapper whose parameter does not match the items', () => {
    // @ts-expect-error: items are strings, the mapper takes numbers
    limitedMap(['a'], 1, (item: number) => item);
  });
});

describe('limitedAsCompleted and limitedAsSettled', () => {
  it('yield what the tasks resolve to', () => {
    const tasks = [async () => 1, () => 2];
    expectTypeOf(limitedAsCompleted(tasks, 2)).toEqualTypeOf<LimitedIterator<number>>();
    expectTypeOf(limitedAsSettled(tasks, 2)).toEqualTypeOf<LimitedIterator<Settled<number>>>();
  });

  it('narrow a settled outcome on its status', () => {
    const outcome = {} as Settled<string>;
    if (outcome.status === 'fulfilled') {
      expectTypeOf(outcome.value).toEqualTypeOf<string>();
    } else {
      expectTypeOf(outcome.reason).toEqualTypeOf<unknown>();
    }
    expectTypeOf(outcome.index).toEqualTypeOf<number>();
  });

  it('reject a source of non-functions', () => {
    // @ts-expect-error: tasks must be functions
    limitedAsCompleted([1, 2], 1);
  });
});

describe('Limiter', () => {
  it('returns a promise of the function result, with its arguments checked', () => {
    const limit = createLimiter(2);
    expectTypeOf(limit).toEqualTypeOf<Limiter>();
    expectTypeOf(limit(async (a: number, b: string) => `${a}${b}`, 1, 'x')).toEqualTypeOf<Promise<string>>();
    expectTypeOf(limit(() => 1)).toEqualTypeOf<Promise<number>>();
    // @ts-expect-error: the second argument must be a string
    limit((a: number, b: string) => a + b, 1, 2);
  });

  it('maps items in input order and exposes its counters', () => {
    const limit = createLimiter({ concurrency: 2, rejectOnClear: true });
    expectTypeOf(limit.map([1, 2], async (item, index) => item + index)).toEqualTypeOf<Promise<number[]>>();
    expectTypeOf(limit.activeCount).toEqualTypeOf<number>();
    expectTypeOf(limit.pendingCount).toEqualTypeOf<number>();
    expectTypeOf(limit.concurrency).toEqualTypeOf<number>();
  });
});

describe('the option values (rateLimit, retryPolicy, perKey, slots)', () => {
  it("types perKey's key function with the item type of the run, from the context", () => {
    limitedMap(['https://a.example/x'], 4, (url) => url.length, {
      perKey: perKey((url) => {
        expectTypeOf(url).toEqualTypeOf<string>();
        return new URL(url).host;
      }, 2),
      rate: rateLimit({ limit: 60, interval: 60_000 }, { limit: 4, interval: 1_000 }),
      retry: retryPolicy({ retries: 3 }),
      slots: createSharedLimit(8),
    });
    limitedAsCompleted([() => 1], 1, { slots: slotsFrom({ acquire: () => 1, release: () => {} }) });
  });

  it('rejects the plain objects of 0.1 at compile time', () => {
    // @ts-expect-error: options.rate takes rateLimit({ limit, interval })
    limitedAsCompleted([() => 1], 1, { rate: { limit: 5, interval: 1000 } });
    // @ts-expect-error: options.retry takes retryPolicy({ retries })
    limitedAsCompleted([() => 1], 1, { retry: { retries: 3 } });
    // @ts-expect-error: options.perKey takes perKey(key, n)
    limitedAsCompleted([() => 1], 1, { perKey: 2 });
    // @ts-expect-error: a SlotSource needs slotsFrom()
    limitedAsCompleted([() => 1], 1, { slots: { acquire: () => 1, release: () => {} } });
  });

  it('rejects a perKey made for another item type', () => {
    const byLength = perKey((item: string) => item.length);
    // @ts-expect-error: the run's items are numbers
    limitedMap([1, 2], 1, (n) => n, { perKey: byLength });
  });
});
