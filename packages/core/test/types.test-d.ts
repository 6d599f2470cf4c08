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
