import { Readable } from 'node:stream';
import { describe, expectTypeOf, it } from 'vitest';
import { limitedReadable, limitedTransform, type LimitedDuplex, type LimitedReadable } from '@lac/node-streams';

describe('public types', () => {
  it('limitedTransform<I, O> returns a Duplex whose readable side yields O', async () => {
    const stage = limitedTransform(4, async (item: number) => `${item}`);
    expectTypeOf(stage).toEqualTypeOf<LimitedDuplex<number, string>>();
    expectTypeOf(stage).toMatchTypeOf<import('node:stream').Duplex>();
    for await (const value of stage) expectTypeOf(value).toEqualTypeOf<string>();
    expectTypeOf(stage.read()).toEqualTypeOf<string | null>();
    expectTypeOf(stage.toArray()).resolves.toEqualTypeOf<string[]>();
    expectTypeOf(stage.write).parameter(0).toEqualTypeOf<number>();
  });

  it('limitedReadable<T> returns a Readable that yields T', async () => {
    const stream = limitedReadable([async () => 1, () => 2], 2);
    expectTypeOf(stream).toEqualTypeOf<LimitedReadable<number>>();
    expectTypeOf(stream).toMatchTypeOf<Readable>();
    for await (const value of stream) expectTypeOf(value).toEqualTypeOf<number>();
    expectTypeOf(stream.read()).toEqualTypeOf<number | null>();
  });
});
