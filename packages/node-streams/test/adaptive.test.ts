import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { adaptive } from '@lac/core';
import { limitedReadable, limitedTransform } from '@lac/node-streams';
import { collector } from './helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('the stages take limit: adaptive(...)', () => {
  it('limitedTransform runs at most the adaptive limit at once and delivers every result', async () => {
    let running = 0;
    let peak = 0;
    const sink = collector<number>();
    const stage = limitedTransform(adaptive({ initial: 3, max: 3 }), async (x: number) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return x * 2;
    });
    await pipeline(Readable.from(range(50)), stage, sink);
    expect([...sink.items].sort((a, b) => a - b)).toEqual(range(50).map((x) => x * 2));
    expect(peak).toBe(3);
  });

  it('limitedReadable takes it too, and bad adaptive options are a RangeError naming the option', async () => {
    const sink = collector<number>();
    await pipeline(
      limitedReadable(
        range(10).map((x) => () => x),
        adaptive({ initial: 2 }),
      ),
      sink,
    );
    expect(sink.items).toHaveLength(10);
    expect(() => limitedTransform(adaptive({ min: 0 }), (x: number) => x)).toThrow(RangeError);
    expect(() => adaptive({ min: 0 })).toThrow('Expected `options.min` to be an integer from 1 to');
  });
});
