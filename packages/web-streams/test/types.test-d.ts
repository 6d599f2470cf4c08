// Type tests for the public generics: checked by `tsc -p tsconfig.test.json` (`pnpm check`), never run.
import type { TaskContext } from '@lac/core';
import { describe, expectTypeOf, it } from 'vitest';
import { LimitedTransformStream, limitedReadableStream } from '@lac/web-streams';

describe('the stream stages', () => {
  it('LimitedTransformStream infers its input and output from the mapper', () => {
    const stage = new LimitedTransformStream(4, async (item: string, context) => {
      expectTypeOf(context).toEqualTypeOf<TaskContext>();
      return item.length;
    });
    expectTypeOf(stage).toEqualTypeOf<LimitedTransformStream<string, number>>();
    expectTypeOf(stage.writable).toEqualTypeOf<WritableStream<string>>();
    expectTypeOf(stage.readable).toEqualTypeOf<ReadableStream<number>>();
  });

  it('pipeThrough keeps the result type', () => {
    const source = new ReadableStream<string>();
    const piped = source.pipeThrough(new LimitedTransformStream(2, (item: string) => Promise.resolve(item.length > 1)));
    expectTypeOf(piped).toEqualTypeOf<ReadableStream<boolean>>();
    // @ts-expect-error: the stage takes numbers, the source gives strings
    source.pipeThrough(new LimitedTransformStream(2, (item: number) => item));
  });

  it('limitedReadableStream yields what the tasks resolve to', () => {
    expectTypeOf(limitedReadableStream([async () => 'a'], 2)).toEqualTypeOf<ReadableStream<string>>();
  });
});
