import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { limitedReadable } from '@lac/node-streams';
import type { TaskContext } from '@lac/core';
import { collector, concurrencyProbe, deferred, settle, unhandledRejectionsDuring } from './helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);

describe('limitedReadable', () => {
  it('streams every task result into a pipeline', async () => {
    const sink = collector<number>();
    await pipeline(
      limitedReadable(
        range(100).map((i) => async () => i * 2),
        8,
      ),
      sink,
    );
    expect(sorted(sink.items)).toEqual(range(100).map((i) => i * 2));
  });

  it('can be read with for await, from a lazy async generator of tasks', async () => {
    async function* tasks() {
      for (let i = 0; i < 30; i++) yield async () => i;
    }
    const out: number[] = [];
    for await (const value of limitedReadable(tasks(), 4)) out.push(value as number);
    expect(sorted(out)).toEqual(range(30));
  });

  it('works with .pipe()', async () => {
    const sink = collector<number>();
    const finished = new Promise((resolve) => sink.on('finish', resolve));
    limitedReadable(
      range(10).map((i) => () => i),
      3,
    ).pipe(sink);
    await finished;
    expect(sorted(sink.items)).toEqual(range(10));
  });

  it('yields in completion order by default and source order with ordered: true', async () => {
    for (const ordered of [false, true]) {
      const gates = range(3).map(() => deferred());
      const tasks = range(3).map((i) => async () => {
        await gates[i]!.promise;
        return i;
      });
      const sink = collector<number>();
      const done = pipeline(limitedReadable(tasks, 3, { ordered }), sink);
      await settle();
      for (const i of [2, 0, 1]) {
        gates[i]!.resolve();
        await settle();
      }
      await done;
      expect(sink.items).toEqual(ordered ? [0, 1, 2] : [2, 0, 1]);
    }
  });

  it('never runs more than limit tasks at once', async () => {
    const probe = concurrencyProbe();
    const tasks = range(100).map((i) => async () => {
      probe.enter();
      await settle(1 + (i % 4));
      probe.leave();
      return i;
    });
    const sink = collector<number>();
    await pipeline(limitedReadable(tasks, 5), sink);
    expect(probe.maxRunning).toBe(5);
    expect(sink.items).toHaveLength(100);
  });

  it('starts no more tasks than limit + buffer + highWaterMark while nobody reads, and pulls the source lazily', async () => {
    let pulled = 0;
    function* tasks() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield () => i;
      }
    }
    const readable = limitedReadable(tasks(), 3, { buffer: 2, highWaterMark: 4 });
    readable.pause();
    readable.read(0);
    await settle(20);
    expect(pulled).toBe(3 + 2 + 4);
    expect(readable.readableLength).toBe(4);
    const out: number[] = [];
    for await (const value of readable) out.push(value as number);
    expect(sorted(out)).toEqual(range(1000));
  });

  it('skips null and undefined results', async () => {
    const sink = collector<number>();
    await pipeline(limitedReadable([() => 1, () => null, () => undefined, async () => 4], 2), sink);
    expect(sorted(sink.items)).toEqual([1, 4]);
  });

  it("a task's error destroys the stream with that same error and aborts in-flight tasks", async () => {
    const boom = new Error('boom');
    const signals: AbortSignal[] = [];
    const tasks = range(10).map((i) => async ({ signal }: TaskContext) => {
      signals.push(signal);
      if (i === 1) throw boom;
      return new Promise<number>(() => {});
    });
    let rejection: unknown;
    const unhandled = await unhandledRejectionsDuring(async () => {
      rejection = await pipeline(limitedReadable(tasks, 3), collector()).catch((e: unknown) => e);
    });
    expect(rejection).toBe(boom);
    expect(signals).toHaveLength(3);
    expect(signals[0]!.aborted && signals[2]!.aborted).toBe(true);
    expect(unhandled).toEqual([]);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
  ])('a task rejecting with %s destroys the stream with an Error whose cause is that value', async (_kind, value) => {
    const stream = limitedReadable([() => 1, () => Promise.reject(value)], 1);
    const rejection = await pipeline(stream, collector()).catch((e: unknown) => e);
    expect(rejection).toBeInstanceOf(Error);
    expect((rejection as Error).message).toMatch(/^The task failed with /);
    expect((rejection as Error).cause).toBe(value);
  });

  it('destroy() aborts in-flight tasks and closes the task source', async () => {
    const signals: AbortSignal[] = [];
    let isClosed = false;
    function* tasks() {
      try {
        for (;;) {
          yield ({ signal }: TaskContext) => {
            signals.push(signal);
            return new Promise<number>(() => {});
          };
        }
      } finally {
        isClosed = true;
      }
    }
    const readable = limitedReadable(tasks(), 2);
    readable.resume();
    await settle();
    expect(signals).toHaveLength(2);
    const closed = new Promise((resolve) => readable.on('close', resolve));
    readable.destroy();
    await closed;
    expect(isClosed).toBe(true);
    expect(signals.every((s) => s.aborted)).toBe(true);
    await settle();
    expect(signals).toHaveLength(2);
  });

  it('options.signal destroys the stream with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const readable = limitedReadable([() => new Promise<number>(() => {})], 1, { signal: controller.signal });
    const done = pipeline(readable, collector()).catch((e: unknown) => e);
    await settle();
    controller.abort(reason);
    expect(await done).toBe(reason);
  });

  it('throws a TypeError for bad arguments', () => {
    expect(() => limitedReadable(42 as never, 2)).toThrow(
      new TypeError('Expected `tasks` to be an iterable or async iterable, got `42` (number)'),
    );
    expect(() => limitedReadable([], -1)).toThrow(
      new TypeError('Expected `limit` to be an integer >= 1 or Infinity, got `-1` (number)'),
    );
    expect(() => limitedReadable([], 1, { highWaterMark: 1.5 })).toThrow(
      new TypeError('Expected `options.highWaterMark` to be an integer >= 0, got `1.5` (number)'),
    );
    expect(() => limitedReadable([], 1, 'fast' as never)).toThrow(
      new TypeError('Expected `options` to be an object, got `"fast"` (string)'),
    );
  });

  it('fails with a TypeError when the source yields something that is not a task', async () => {
    const rejection = await pipeline(limitedReadable([() => 1, 'oops' as never], 1), collector()).catch(
      (e: unknown) => e,
    );
    expect(rejection).toBeInstanceOf(TypeError);
    expect((rejection as Error).message).toContain('index 1');
  });

  it('is a Readable', () => {
    expect(limitedReadable([], 1)).toBeInstanceOf(Readable);
  });
});
