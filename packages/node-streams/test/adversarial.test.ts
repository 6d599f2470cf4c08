// Regression tests from attacking the stages as a hostile user and an unlucky scheduler would:
// destroy at every moment, reentrant calls from mappers and listeners, hostile sources.
import { getEventListeners } from 'node:events';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it, vi } from 'vitest';
import { rateLimit, type TaskContext } from '@lac/core';
import { limitedReadable, limitedTransform } from '@lac/node-streams';
import { collector, deferred, settle } from './helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);

/** Records the lifecycle events of a stream, in order. */
function lifecycle(stream: Readable): string[] {
  const log: string[] = [];
  for (const name of ['finish', 'end', 'close', 'error']) stream.on(name, () => log.push(name));
  return log;
}

describe('limitedTransform destroyed at every moment', () => {
  it("destroy() inside a 'data' listener emits no 'end' afterwards, as with a Transform", async () => {
    // Every result is buffered (and the end pushed) before the stream starts flowing, so the
    // listener runs from Node's flow loop; a Transform fed the same way is the reference.
    const reference = new Transform({
      objectMode: true,
      transform: (x: number, _encoding, callback) => void Promise.resolve().then(() => callback(null, x)),
    });
    const stage = limitedTransform(2, async (x: number) => x);
    const logs = [lifecycle(reference), lifecycle(stage)];
    for (const stream of [reference, stage]) {
      stream.on('data', (x: number) => {
        if (x === 3) stream.destroy();
      });
      for (const i of range(10)) stream.write(i);
      stream.end();
    }
    await settle(20);
    for (const log of logs) {
      expect(log).not.toContain('end');
      expect(log.at(-1)).toBe('close');
    }
  });
});

describe('limitedTransform destroyed at other moments', () => {
  it("destroy() before the first write emits only 'close', and a later write fails with ERR_STREAM_DESTROYED", async () => {
    let calls = 0;
    const stage = limitedTransform(2, (x: number) => (calls++, x));
    const log = lifecycle(stage);
    stage.destroy();
    const error = await new Promise((resolve) => stage.write(1, resolve));
    await settle();
    expect((error as NodeJS.ErrnoException).code).toBe('ERR_STREAM_DESTROYED');
    expect(log).toEqual(['close']);
    expect(calls).toBe(0);
  });

  it('destroy(error) from inside a mapper rejects the pipeline with that error, emitted once, and starts nothing more', async () => {
    const inside = new Error('destroyed from a mapper');
    const signals: AbortSignal[] = [];
    const stage = limitedTransform(2, (x: number, { signal }: TaskContext) => {
      signals.push(signal);
      if (x === 1) stage.destroy(inside);
      return new Promise<number>(() => {});
    });
    const errors: unknown[] = [];
    stage.on('error', (error) => errors.push(error));
    await expect(pipeline(Readable.from(range(10)), stage, collector())).rejects.toBe(inside);
    await settle();
    expect(errors).toEqual([inside]);
    expect(signals).toHaveLength(2);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });

  it("destroy() after end() and before 'finish' aborts the running mapper and emits neither 'finish' nor 'end'", async () => {
    const gate = deferred<number>();
    const signals: AbortSignal[] = [];
    const stage = limitedTransform(2, (_x: number, { signal }: TaskContext) => {
      signals.push(signal);
      return gate.promise;
    });
    const log = lifecycle(stage);
    stage.resume();
    stage.write(1);
    stage.end();
    await settle();
    stage.destroy();
    gate.resolve(5);
    await settle();
    expect(log).toEqual(['close']);
    expect(signals.map((signal) => signal.aborted)).toEqual([true]);
  });

  it("emits 'finish', 'end' and 'close' in the same order as a plain Transform in a pipeline", async () => {
    const transform = new Transform({
      objectMode: true,
      transform: (x: number, _encoding, callback) => void setImmediate(() => callback(null, x)),
    });
    const stage = limitedTransform(2, async (x: number) => x);
    const logs = [lifecycle(transform), lifecycle(stage)];
    for (const stream of [transform, stage]) await pipeline(Readable.from(range(3)), stream, collector());
    await settle();
    expect(logs[1]).toEqual(logs[0]);
    expect(logs[1]).toEqual(['end', 'finish', 'close']);
  });

  it('breaking out of for await aborts the in-flight mappers and destroys the source', async () => {
    const signals: AbortSignal[] = [];
    const stage = limitedTransform(2, (x: number, { signal }: TaskContext) => {
      if (x === 0) return x;
      signals.push(signal);
      return new Promise<number>(() => {});
    });
    const source = Readable.from(range(10));
    const piped = pipeline(source, stage).catch((error: unknown) => error);
    for await (const _value of stage) break;
    expect(((await piped) as NodeJS.ErrnoException).code).toBe('ABORT_ERR');
    expect(signals).toHaveLength(2);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    expect(source.destroyed).toBe(true);
  });

  it('a failing upstream rejects the pipeline with its error and aborts the in-flight mappers', async () => {
    const upstream = new Error('upstream failed');
    async function* items(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      await settle();
      throw upstream;
    }
    const signals: AbortSignal[] = [];
    const stage = limitedTransform(2, (_x: number, { signal }: TaskContext) => {
      signals.push(signal);
      return new Promise<number>(() => {});
    });
    await expect(pipeline(Readable.from(items()), stage, collector())).rejects.toBe(upstream);
    expect(signals).toHaveLength(2);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });
});

describe('limitedTransform with a consumer that never reads', () => {
  it.each([
    { limit: 3, buffer: 2, highWaterMark: 0, ordered: false },
    { limit: 3, buffer: 2, highWaterMark: 0, ordered: true },
    { limit: 1, buffer: 0, highWaterMark: 0, ordered: false },
    { limit: 4, buffer: 4, highWaterMark: 1, ordered: true },
  ])(
    'starts at most limit + buffer + max(highWaterMark, 1) mappers (%o)',
    async ({ limit, buffer, highWaterMark, ordered }) => {
      let starts = 0;
      const stage = limitedTransform(
        limit,
        async (x: number) => {
          starts++;
          return x;
        },
        { buffer, highWaterMark, ordered },
      );
      const source = Readable.from(range(1000));
      source.pipe(stage);
      await settle(50);
      expect(starts).toBe(limit + buffer + Math.max(highWaterMark, 1));
      stage.destroy();
      source.destroy();
    },
  );
});

describe('limitedTransform reentered', () => {
  it('a mapper that writes more items into its own stage (a crawler) gets every one of them through', async () => {
    const seen: number[] = [];
    const stage = limitedTransform(2, async (x: number) => {
      seen.push(x);
      if (x < 20) stage.write(x + 1);
      return x;
    });
    const out: number[] = [];
    stage.on('data', (x: number) => out.push(x));
    stage.write(0);
    await settle(40);
    stage.end();
    await new Promise((resolve) => stage.on('end', resolve));
    expect(sorted(seen)).toEqual(range(21));
    expect(sorted(out)).toEqual(range(21));
  });

  it("a 'data' listener that writes back into the stage keeps input order with ordered: true", async () => {
    const stage = limitedTransform(2, (x: number) => x, { ordered: true });
    const out: number[] = [];
    stage.on('data', (x: number) => {
      out.push(x);
      if (x < 50 && x % 2 === 0) stage.write(x + 100);
    });
    for (const i of range(50)) stage.write(i);
    await settle(20);
    stage.end();
    await new Promise((resolve) => stage.on('end', resolve));
    expect(out.filter((x) => x < 100)).toEqual(range(50));
    expect(sorted(out.filter((x) => x >= 100))).toEqual(range(25).map((i) => 100 + 2 * i));
  });
});

describe('limitedTransform and limitedReadable leave nothing behind', () => {
  it('no timer and no options.signal listener is left after destroy(), a failure or the end (rate and timeout)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const controller = new AbortController();
    const listeners = (): number => getEventListeners(controller.signal, 'abort').length;
    const rate = rateLimit({ limit: 1, interval: 10_000 });
    const destroyed = limitedTransform(2, (x: number) => x, { rate, timeout: 50_000, signal: controller.signal });
    destroyed.resume();
    for (const i of range(5)) destroyed.write(i);
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    destroyed.destroy();
    await vi.advanceTimersByTimeAsync(0);
    expect([vi.getTimerCount(), listeners()]).toEqual([0, 0]);

    const failed = limitedTransform(
      2,
      (x: number) => {
        if (x === 1) throw new Error('failed');
        return new Promise<number>(() => {});
      },
      { rate: rateLimit({ limit: 1, interval: 10_000 }), timeout: 50_000, signal: controller.signal },
    );
    failed.on('error', () => {});
    for (const i of range(5)) failed.write(i);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(failed.destroyed).toBe(true);
    expect([vi.getTimerCount(), listeners()]).toEqual([0, 0]);

    const readable = limitedReadable([() => 1, () => 2], 2, { timeout: 50_000, signal: controller.signal });
    expect(await readable.toArray()).toHaveLength(2);
    expect([vi.getTimerCount(), listeners()]).toEqual([0, 0]);
  });
});

describe('limitedReadable with hostile sources', () => {
  it('a source whose return() throws or rejects still closes on destroy(), with nothing unhandled', async () => {
    for (const close of [
      () => {
        throw new Error('return() threw');
      },
      () => Promise.reject(new Error('return() rejected')),
    ]) {
      const source = {
        [Symbol.asyncIterator]() {
          return this;
        },
        next: async () => ({ value: () => new Promise(() => {}), done: false }),
        return: close,
      };
      const stream = limitedReadable(source, 2);
      const log = lifecycle(stream);
      stream.resume();
      await settle();
      stream.destroy();
      await settle();
      expect(log).toEqual(['close']);
    }
  });

  it("destroy() while a pull is pending closes the stream at once, and the generator's finally runs once the pull settles", async () => {
    const pull = deferred<void>();
    let isFinallyRun = false;
    async function* tasks(): AsyncGenerator<() => number> {
      try {
        await pull.promise;
        yield () => 1;
      } finally {
        isFinallyRun = true;
      }
    }
    const stream = limitedReadable(tasks(), 2);
    const log = lifecycle(stream);
    stream.resume();
    await settle();
    stream.destroy();
    await settle();
    expect(log).toEqual(['close']);
    expect(isFinallyRun).toBe(false);
    pull.resolve();
    await settle();
    expect(isFinallyRun).toBe(true);
  });

  it('a sync generator that throws midway destroys the stream with its error and aborts the tasks in flight', async () => {
    const thrown = new Error('the generator threw');
    const signals: AbortSignal[] = [];
    const hang = ({ signal }: TaskContext): Promise<number> => {
      signals.push(signal);
      return new Promise<number>(() => {});
    };
    function* tasks(): Generator<(context: TaskContext) => Promise<number>> {
      yield hang;
      yield hang;
      throw thrown;
    }
    await expect(pipeline(limitedReadable(tasks(), 4), collector())).rejects.toBe(thrown);
    expect(signals).toHaveLength(2);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });
});

describe('options.signal aborted with a falsy reason', () => {
  const hang = (): Promise<number> => new Promise<number>(() => {});
  it.each([
    ['0', 0],
    ['null', null],
    ['an empty string', ''],
    ['false', false],
  ])(
    'with %s, both stages are destroyed with an Error that names options.signal (not the mapper) and whose cause is that reason',
    async (_kind, reason) => {
      const run = (signal: AbortSignal): Promise<void>[] => [
        pipeline(Readable.from(range(3)), limitedTransform(2, hang, { signal }), collector()),
        pipeline(limitedReadable([hang], 2, { signal }), collector()),
      ];
      const controller = new AbortController();
      const rejections = run(controller.signal).map((done) => done.catch((error: unknown) => error as Error));
      await settle();
      controller.abort(reason);
      for (const rejection of await Promise.all(rejections)) {
        expect(rejection).toBeInstanceOf(Error);
        expect(rejection!.message).toBe(`\`options.signal\` aborted with ${describeValue(reason)}`);
        expect(rejection!.cause).toBe(reason);
      }
    },
  );
});

function describeValue(value: unknown): string {
  return `\`${JSON.stringify(value)}\` (${value === null ? 'null' : typeof value})`;
}
