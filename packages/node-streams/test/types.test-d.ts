import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TaskContext } from '@lac/core';
import { describe, expectTypeOf, it } from 'vitest';
import { limitedReadable, limitedTransform, type LimitedDuplex, type LimitedReadable } from '@lac/node-streams';

describe('public types', () => {
  it('limitedTransform<I, O> returns a Duplex whose readable side yields O', async () => {
    const stage = limitedTransform(4, async (item: number) => `${item}`);
    expectTypeOf(stage).toEqualTypeOf<LimitedDuplex<number, string>>();
    expectTypeOf(stage).toMatchTypeOf<import('node:stream').Duplex>();
    for await (const value of stage) expectTypeOf(value).toEqualTypeOf<string>();
    expectTypeOf(stage.toArray()).resolves.toEqualTypeOf<string[]>();
  });

  it('limitedReadable<T> returns a Readable that yields T', async () => {
    const stream = limitedReadable([async () => 1, () => 2], 2);
    expectTypeOf(stream).toEqualTypeOf<LimitedReadable<number>>();
    expectTypeOf(stream).toMatchTypeOf<Readable>();
    for await (const value of stream) expectTypeOf(value).toEqualTypeOf<number>();
  });

  it('the typed stages still fit every pipeline() overload they fit as plain streams', () => {
    const sink = new Writable({ objectMode: true, write: (_chunk, _encoding, callback) => callback() });
    expectTypeOf(
      pipeline(
        Readable.from([1, 2]),
        limitedTransform(2, async (x: number) => x + 1),
        sink,
      ),
    ).resolves.toBeVoid();
    expectTypeOf(pipeline(limitedReadable([() => 1], 1), sink)).resolves.toBeVoid();
  });

  it('Readable#compose(limitedTransform(...)) type-checks, and returns what @types/node gives for any Duplex', () => {
    const composed = Readable.from([1, 2]).compose(limitedTransform(2, async (x: number) => `${x}`));
    // @types/node's compose() infers its result from the stage's iterator, which Node's Duplex types as `any`.
    expectTypeOf(composed).toEqualTypeOf(Readable.from([1, 2]).compose(new PassThrough({ objectMode: true })));
    // Results that are not strings or Buffers (what NodeJS.ReadableStream's iterator declares), chained.
    Readable.from([1, 2])
      .compose(limitedTransform(2, async (x: number) => ({ x })))
      .compose(limitedTransform(2, async ({ x }: { x: number }) => x));
    // The stage itself keeps its types.
    const stage = limitedTransform(2, async (x: number) => ({ x }));
    expectTypeOf(stage).toEqualTypeOf<LimitedDuplex<number, { x: number }>>();
    expectTypeOf(stage.toArray()).resolves.toEqualTypeOf<Array<{ x: number }>>();
  });

  it('the mapper gets a TaskContext, and limitedReadable refuses items that are not tasks', () => {
    limitedTransform(4, async (item: string, context) => {
      expectTypeOf(context).toEqualTypeOf<TaskContext>();
      return item.length;
    });
    // @ts-expect-error: tasks must be functions
    limitedReadable([1], 2);
  });
});
