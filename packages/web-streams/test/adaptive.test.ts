import { describe, expect, it } from 'vitest';
import { adaptive } from '@lac/core';
import { LimitedTransformStream, limitedReadableStream } from '@lac/web-streams';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

async function collect<T>(readable: ReadableStream<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of readable as unknown as AsyncIterable<T>) items.push(item);
  return items;
}

describe('the stages take limit: adaptive(...)', () => {
  it('LimitedTransformStream runs at most the adaptive limit at once and delivers every chunk', async () => {
    let running = 0;
    let peak = 0;
    const stage = new LimitedTransformStream(adaptive({ initial: 3, max: 3 }), async (x: number) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 0));
      running--;
      return x * 2;
    });
    const source = new ReadableStream<number>({
      start(controller) {
        for (const x of range(30)) controller.enqueue(x);
        controller.close();
      },
    });
    const out = await collect(source.pipeThrough(stage));
    expect(out.sort((a, b) => a - b)).toEqual(range(30).map((x) => x * 2));
    expect(peak).toBe(3);
  });

  it('limitedReadableStream takes it too', async () => {
    const out = await collect(
      limitedReadableStream(
        range(10).map((x) => () => x),
        adaptive({ initial: 2 }),
      ),
    );
    expect(out).toHaveLength(10);
    expect(() => limitedReadableStream([], adaptive({ initial: 2 }))).not.toThrow();
  });
});
