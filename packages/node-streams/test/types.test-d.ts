// Type tests for the public generics: checked by `tsc -p tsconfig.test.json` (`pnpm check`), never run.
import type { Duplex, Readable } from 'node:stream';
import type { TaskContext } from '@lac/core';
import { describe, expectTypeOf, it } from 'vitest';
import { limitedReadable, limitedTransform } from '@lac/node-streams';

describe('the stream stages', () => {
  it('limitedTransform types the mapper from its annotation and returns a Duplex', () => {
    const stage = limitedTransform(4, async (item: string, context) => {
      expectTypeOf(context).toEqualTypeOf<TaskContext>();
      return item.length;
    });
    expectTypeOf(stage).toEqualTypeOf<Duplex>();
  });

  it('limitedReadable takes tasks and returns a Readable', () => {
    expectTypeOf(limitedReadable([async () => 1], 2, { highWaterMark: 4 })).toEqualTypeOf<Readable>();
    // @ts-expect-error: tasks must be functions
    limitedReadable([1], 2);
  });
});
