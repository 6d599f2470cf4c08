import * as stream from 'node:stream';
import { Duplex, pipeline as pipelineCallback, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it, vi } from 'vitest';
import { limitedTransform } from '@lac/node-streams';
import type { TaskContext } from '@lac/core';
import {
  collector,
  concurrencyProbe,
  deferred,
  measureHeld,
  settle,
  track,
  unhandledRejectionsDuring,
  type Deferred,
} from './helpers.js';

// `stream.compose` (Node >= 16.9, experimental) is missing from @types/node 20's declarations.
const { compose } = stream as unknown as { compose: (...streams: Duplex[]) => Duplex };

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);

describe('limitedTransform in pipelines', () => {
  it('delivers every result through pipeline() (promise form)', async () => {
    const sink = collector<number>();
    await pipeline(
      Readable.from(range(100)),
      limitedTransform(4, async (x: number) => x * 2),
      sink,
    );
    expect(sorted(sink.items)).toEqual(range(100).map((x) => x * 2));
  });

  it('delivers every result through pipeline() (callback form)', async () => {
    const sink = collector<number>();
    const error = await new Promise<unknown>((resolve) => {
      pipelineCallback(
        Readable.from(range(50)),
        limitedTransform(3, async (x: number) => x + 1),
        sink,
        resolve,
      );
    });
    expect(error).toBeFalsy();
    expect(sorted(sink.items)).toEqual(range(50).map((x) => x + 1));
  });

  it('works inside stream.compose()', async () => {
    const double = new Transform({ objectMode: true, transform: (x: number, _e, cb) => cb(null, x * 10) });
    const composed = compose(
      limitedTransform(2, async (x: number) => x + 1),
      double,
    );
    const sink = collector<number>();
    await pipeline(Readable.from(range(20)), composed, sink);
    expect(sorted(sink.items)).toEqual(range(20).map((x) => (x + 1) * 10));
  });

  it('works as the stage of readable.compose(), and chained compose() calls', async () => {
    const composed = Readable.from(range(20))
      .compose(limitedTransform(2, async (x: number) => ({ x: x + 1 })))
      .compose(limitedTransform(3, async ({ x }: { x: number }) => x * 10));
    expect(sorted(await composed.toArray())).toEqual(range(20).map((x) => (x + 1) * 10));
  });

  it('readable.compose(limitedTransform(...)) fails with the mapper error and aborts the other mappers', async () => {
    const boom = new Error('boom');
    const signals: AbortSignal[] = [];
    const composed = Readable.from(range(10)).compose(
      limitedTransform(3, async (x: number, { signal }) => {
        if (x === 2) throw boom;
        signals.push(signal);
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        return x;
      }),
    );
    await expect(composed.toArray()).rejects.toBe(boom);
    expect(signals).toHaveLength(2);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });

  it('works with .pipe() and emits finish and end', async () => {
    const stage = limitedTransform(3, async (x: number) => x * 3);
    const sink = collector<number>();
    const events: string[] = [];
    stage.on('finish', () => events.push('finish'));
    stage.on('end', () => events.push('end'));
    const finished = new Promise((resolve) => sink.on('finish', resolve));
    Readable.from(range(30)).pipe(stage).pipe(sink);
    await finished;
    expect(sorted(sink.items)).toEqual(range(30).map((x) => x * 3));
    expect(events).toContain('finish');
    expect(events).toContain('end');
  });

  it('can be read with for await', async () => {
    const stage = limitedTransform(5, async (x: number) => x - 1);
    Readable.from(range(40)).pipe(stage);
    const out: number[] = [];
    for await (const value of stage) out.push(value as number);
    expect(sorted(out)).toEqual(range(40).map((x) => x - 1));
  });

  it('handles an empty input: finish and end with no results', async () => {
    let calls = 0;
    const sink = collector<number>();
    await pipeline(
      Readable.from([]),
      limitedTransform(2, () => ++calls),
      sink,
    );
    expect(sink.items).toEqual([]);
    expect(calls).toBe(0);
  });

  it('accepts synchronous mappers', async () => {
    const sink = collector<string>();
    await pipeline(
      Readable.from(['a', 'b', 'c']),
      limitedTransform(2, (s: string) => s.toUpperCase()),
      sink,
    );
    expect(sink.items.sort()).toEqual(['A', 'B', 'C']);
  });

  it('gives each mapper its input index', async () => {
    const sink = collector<[string, number]>();
    await pipeline(
      Readable.from(['a', 'b', 'c', 'd']),
      limitedTransform(2, async (s: string, { index }: TaskContext) => [s, index]),
      sink,
    );
    expect(sink.items.sort()).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
      ['d', 3],
    ]);
  });
});

describe('limitedTransform order and concurrency', () => {
  it('yields in completion order by default', async () => {
    const gates = range(3).map(() => deferred());
    const stage = limitedTransform(3, async (x: number) => {
      await gates[x]!.promise;
      return x;
    });
    const sink = collector<number>();
    const done = pipeline(Readable.from(range(3)), stage, sink);
    await settle();
    gates[2]!.resolve();
    await settle();
    gates[0]!.resolve();
    await settle();
    gates[1]!.resolve();
    await done;
    expect(sink.items).toEqual([2, 0, 1]);
  });

  it('yields in input order with ordered: true, even when later items finish first', async () => {
    const gates = range(4).map(() => deferred());
    const stage = limitedTransform(
      4,
      async (x: number) => {
        await gates[x]!.promise;
        return x;
      },
      { ordered: true },
    );
    const sink = collector<number>();
    const done = pipeline(Readable.from(range(4)), stage, sink);
    await settle();
    for (const i of [3, 1, 2]) gates[i]!.resolve();
    await settle();
    expect(sink.items).toEqual([]);
    gates[0]!.resolve();
    await done;
    expect(sink.items).toEqual([0, 1, 2, 3]);
  });

  it('never runs more than limit mappers at once, and does reach the limit', async () => {
    const probe = concurrencyProbe();
    const stage = limitedTransform(4, async (x: number) => {
      probe.enter();
      await settle(1 + (x % 3));
      probe.leave();
      return x;
    });
    const sink = collector<number>();
    await pipeline(Readable.from(range(200)), stage, sink);
    expect(probe.maxRunning).toBe(4);
    expect(sink.items).toHaveLength(200);
  });
});

describe('limitedTransform backpressure', () => {
  it('starts no mapper and takes no input once the readable side and the limit + buffer window are full', async () => {
    let calls = 0;
    const limit = 2;
    const highWaterMark = 3;
    const buffer = 1;
    const stage = limitedTransform(
      limit,
      async (x: number) => {
        calls++;
        return x;
      },
      { highWaterMark, buffer },
    );
    // Nobody reads, and the writer ignores write()'s false: the Writable buffers the excess.
    let firstFalse = -1;
    for (let i = 0; i < 200; i++) if (!stage.write(i) && firstFalse < 0) firstFalse = i;
    await settle(20);
    // Results fill the readable buffer, then core's window of limit + buffer unconsumed results.
    expect(stage.readableLength).toBe(highWaterMark);
    expect(calls).toBe(highWaterMark + limit + buffer);
    // Everything else stays in the writable side: the stage took only what it mapped.
    expect(stage.writableLength).toBeGreaterThanOrEqual(200 - calls);
    expect(firstFalse).toBeGreaterThanOrEqual(0);
    expect(firstFalse).toBeLessThanOrEqual(highWaterMark + limit + buffer + highWaterMark);
    const callsWhenFull = calls;
    for (let i = 0; i < 50; i++) stage.write(200 + i);
    await settle(20);
    expect(calls).toBe(callsWhenFull);
    // Reading resumes the flow, and every item comes out exactly once.
    stage.end();
    const out: number[] = [];
    for await (const value of stage) out.push(value as number);
    expect(sorted(out)).toEqual(range(250));
  });

  it('holds at most limit + buffer + both highWaterMarks with a fast source and a slow sink', async () => {
    const limit = 4;
    const highWaterMark = 2;
    const stage = limitedTransform(limit, async (x: number) => x, { highWaterMark });
    const sink = collector<number>(() => 3, 1);
    const held = measureHeld(stage, sink);
    await pipeline(Readable.from(range(2000)), stage, sink);
    expect(sink.items).toHaveLength(2000);
    expect(held.maxHeld).toBeGreaterThan(0);
    expect(held.maxHeld).toBeLessThanOrEqual(limit + limit + 2 * highWaterMark);
  });
});

describe('limitedTransform completion', () => {
  it('emits finish only after every mapper has settled and its result was pushed', async () => {
    const gates = range(3).map(() => deferred());
    const events: string[] = [];
    const stage = limitedTransform(3, async (x: number) => {
      await gates[x]!.promise;
      events.push(`settled ${x}`);
      return x;
    });
    stage.on('data', (x) => events.push(`data ${x}`));
    stage.on('finish', () => events.push('finish'));
    const ended = new Promise((resolve) => stage.on('end', resolve));
    for (const i of range(3)) stage.write(i);
    stage.end();
    await settle();
    gates[0]!.resolve();
    gates[1]!.resolve();
    await settle();
    expect(events).not.toContain('finish');
    gates[2]!.resolve();
    await ended;
    await settle();
    expect(events.indexOf('finish')).toBeGreaterThan(events.indexOf('data 2'));
    expect(events.filter((e) => e.startsWith('data'))).toHaveLength(3);
  });

  it('skips null and undefined results (a mapper can filter)', async () => {
    const sink = collector<number>();
    await pipeline(
      Readable.from(range(10)),
      limitedTransform(3, async (x: number) => (x % 3 === 0 ? null : x % 3 === 1 ? undefined : x)),
      sink,
    );
    expect(sorted(sink.items)).toEqual([2, 5, 8]);
  });
});

describe('limitedTransform errors and aborts', () => {
  it('a mapper error rejects the pipeline with that same error and aborts in-flight mappers', async () => {
    const boom = new Error('boom');
    const signals: AbortSignal[] = [];
    let calls = 0;
    const gate = deferred();
    const stage = limitedTransform(3, async (x: number, { signal }: TaskContext) => {
      calls++;
      signals.push(signal);
      if (x === 2) {
        await settle(2);
        throw boom;
      }
      await gate.promise;
      return x;
    });
    let rejection: unknown;
    const unhandled = await unhandledRejectionsDuring(async () => {
      rejection = await pipeline(Readable.from(range(100)), stage, collector()).catch((error: unknown) => error);
    });
    expect(rejection).toBe(boom);
    expect(stage.destroyed).toBe(true);
    expect(calls).toBe(3);
    expect(signals.filter((s) => s.aborted)).toHaveLength(2);
    gate.resolve();
    await settle();
    expect(calls).toBe(3);
    expect(unhandled).toEqual([]);
  });

  it("with a full readable buffer and nobody reading, a mapper's failure destroys the stage at once: signals abort, nothing new starts, upstream is released", async () => {
    const boom = new Error('late boom');
    const failGate = deferred();
    const signals: AbortSignal[] = [];
    let calls = 0;
    let isSourceClosed = false;
    function* items(): Generator<number> {
      try {
        for (let i = 0; i < 1000; i++) yield i;
      } finally {
        isSourceClosed = true;
      }
    }
    const stage = limitedTransform(
      3,
      (x: number, { signal }: TaskContext) => {
        calls++;
        if (x === 0) return failGate.promise.then(() => Promise.reject(boom));
        if (x === 1) {
          signals.push(signal);
          return new Promise<number>(() => {});
        }
        return x;
      },
      { highWaterMark: 1 },
    );
    // A sink that takes one item and never calls back: the readable buffer and core's window fill up.
    const sink = new Writable({ objectMode: true, highWaterMark: 1, write: () => {} });
    const done = track(pipeline(Readable.from(items()), stage, sink));
    await settle(10);
    expect(stage.readableLength).toBe(1);
    const callsWhenFull = calls;
    failGate.resolve();
    await settle(5);
    expect(done.isSettled).toBe(true);
    expect(await done.promise.catch((e: unknown) => e)).toBe(boom);
    expect(stage.destroyed).toBe(true);
    expect(stage.errored).toBe(boom);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
    expect(isSourceClosed).toBe(true);
    await settle();
    expect(calls).toBe(callsWhenFull);
  });

  it('with a full readable buffer and nobody reading, a timeout destroys the stage at once with a TimeoutError and releases upstream', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const signals: AbortSignal[] = [];
      let isSourceClosed = false;
      function* items(): Generator<number> {
        try {
          for (let i = 0; i < 1000; i++) yield i;
        } finally {
          isSourceClosed = true;
        }
      }
      const stage = limitedTransform(
        2,
        (x: number, { signal }: TaskContext) => {
          if (x !== 0) return x;
          signals.push(signal);
          return new Promise<number>(() => {});
        },
        { highWaterMark: 1, timeout: 1000 },
      );
      const sink = new Writable({ objectMode: true, highWaterMark: 1, write: () => {} });
      const done = track(pipeline(Readable.from(items()), stage, sink));
      await settle(10);
      expect(stage.readableLength).toBe(1);
      await vi.advanceTimersByTimeAsync(1000);
      await settle(5);
      expect(done.isSettled).toBe(true);
      const rejection = await done.promise.catch((e: unknown) => e);
      expect((rejection as Error).name).toBe('TimeoutError');
      expect(stage.errored).toBe(rejection);
      expect(signals[0]!.reason).toBe(rejection);
      expect(isSourceClosed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a synchronous throw destroys the stage with that error', async () => {
    const boom = new TypeError('sync boom');
    const stage = limitedTransform(2, (x: number) => {
      if (x === 5) throw boom;
      return x;
    });
    const errors: unknown[] = [];
    stage.on('error', (error) => errors.push(error));
    await expect(pipeline(Readable.from(range(20)), stage, collector())).rejects.toBe(boom);
    expect(errors).toEqual([boom]);
  });

  it.each([
    ['a string', 'plain string'],
    ['an object', { code: 42 }],
    ['a number', 7],
  ])('a non-Error rejection (%s) reaches pipeline() as that same value', async (_kind, value) => {
    const stage = limitedTransform(2, async (x: number) => {
      if (x === 1) throw value;
      return x;
    });
    await expect(pipeline(Readable.from(range(5)), stage, collector())).rejects.toBe(value);
    expect(stage.errored).toBe(value);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['0', 0],
    ['an empty string', ''],
    ['false', false],
  ])(
    'a rejection with %s, which Node streams cannot carry, reaches pipeline() as an Error whose cause is that value',
    async (_kind, value) => {
      const stage = limitedTransform(2, async (x: number) => {
        if (x === 1) throw value;
        return x;
      });
      const rejection = await pipeline(Readable.from(range(5)), stage, collector()).catch((e: unknown) => e);
      expect(rejection).toBeInstanceOf(Error);
      expect((rejection as Error).name).toBe('Error');
      expect((rejection as Error).message).toMatch(/^The mapper failed with /);
      expect((rejection as Error).cause).toBe(value);
      expect('cause' in (rejection as Error)).toBe(true);
      expect(stage.errored).toBe(rejection);
    },
  );

  it("a mapper's result is awaited once (a lazy thenable runs once, and its value is the one delivered)", async () => {
    let thenCalls = 0;
    const lazy = (x: string): PromiseLike<string> => ({
      then(onFulfilled, onRejected) {
        thenCalls++;
        return Promise.resolve(`${x}#${thenCalls}`).then(onFulfilled, onRejected);
      },
    });
    const sink = collector<string>();
    await pipeline(Readable.from(['a']), limitedTransform(2, lazy), sink);
    expect(thenCalls).toBe(1);
    expect(sink.items).toEqual(['a#1']);
  });

  it('an item that is a promise (or thenable) is awaited before the mapper is called, which gets its value', async () => {
    const item = deferred<number>();
    const seen: number[] = [];
    const stage = limitedTransform(2, (x: number) => {
      seen.push(x);
      return x * 10;
    });
    const out = stage.toArray();
    // write() is typed for items; a promise of one is what this pins.
    stage.write(item.promise as unknown as number);
    stage.write({ then: (resolve: (value: number) => void) => resolve(2) } as unknown as number);
    await settle();
    expect(seen).toEqual([2]);
    item.resolve(1);
    stage.end();
    expect(await out).toEqual([20, 10]);
    expect(seen).toEqual([2, 1]);
  });

  it('an item that is a rejected promise fails the stage with its reason, and the mapper is never called for it', async () => {
    const item = deferred<number>();
    const mapper = vi.fn((x: number) => x);
    const stage = limitedTransform(2, mapper);
    const failed = new Promise((resolve) => stage.once('error', resolve));
    stage.write(item.promise as unknown as number);
    const boom = new Error('boom');
    item.reject(boom);
    expect(await failed).toBe(boom);
    expect(stage.destroyed).toBe(true);
    expect(mapper).not.toHaveBeenCalled();
  });

  it('destroy() aborts in-flight mappers and starts nothing new', async () => {
    const signals: AbortSignal[] = [];
    let calls = 0;
    const stage = limitedTransform(2, (_x: number, { signal }: TaskContext) => {
      calls++;
      signals.push(signal);
      return new Promise<number>(() => {});
    });
    for (const i of range(10)) stage.write(i);
    await settle();
    expect(calls).toBe(2);
    const closed = new Promise((resolve) => stage.on('close', resolve));
    stage.destroy();
    await closed;
    await settle();
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect((signals[0]!.reason as Error).name).toBe('AbortError');
    expect(calls).toBe(2);
  });

  it('mappers that reject after destroy() leave no unhandled rejection', async () => {
    const signals: AbortSignal[] = [];
    const unhandled = await unhandledRejectionsDuring(async () => {
      const stage = limitedTransform(3, (_x: number, { signal }: TaskContext) => {
        signals.push(signal);
        return new Promise<number>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        });
      });
      for (const i of range(10)) stage.write(i);
      await settle();
      const errors: unknown[] = [];
      stage.on('error', (error) => errors.push(error));
      const closed = new Promise((resolve) => stage.on('close', resolve));
      stage.destroy(new Error('stop'));
      await closed;
      expect(errors).toHaveLength(1);
    });
    expect(signals).toHaveLength(3);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(unhandled).toEqual([]);
  });

  it("a pipeline's signal aborts in-flight mappers and rejects with an AbortError", async () => {
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    let calls = 0;
    const stage = limitedTransform(3, (_x: number, { signal }: TaskContext) => {
      calls++;
      signals.push(signal);
      if (calls === 3) controller.abort();
      return new Promise<number>(() => {});
    });
    const rejection = await pipeline(Readable.from(range(100)), stage, collector(), {
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect((rejection as Error).name).toBe('AbortError');
    await settle();
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(calls).toBe(3);
  });

  it('options.signal destroys the stage with its reason and aborts in-flight mappers with it', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    const signals: AbortSignal[] = [];
    const stage = limitedTransform(
      2,
      (_x: number, { signal }: TaskContext) => {
        signals.push(signal);
        return new Promise<number>(() => {});
      },
      { signal: controller.signal },
    );
    const done = pipeline(Readable.from(range(10)), stage, collector()).catch((e: unknown) => e);
    await settle();
    controller.abort(reason);
    expect(await done).toBe(reason);
    expect(signals).toHaveLength(2);
    expect(signals.map((s) => s.reason)).toEqual([reason, reason]);
  });

  it('an already-aborted options.signal destroys the stage before any mapper runs', async () => {
    const reason = new Error('too late');
    let calls = 0;
    const stage = limitedTransform(2, () => ++calls, { signal: AbortSignal.abort(reason) });
    await expect(pipeline(Readable.from(range(5)), stage, collector())).rejects.toBe(reason);
    expect(calls).toBe(0);
  });

  it('a downstream error aborts in-flight mappers and starts nothing new', async () => {
    const sinkError = new Error('disk full');
    const gates: Deferred<void>[] = [];
    const signals: AbortSignal[] = [];
    const stage = limitedTransform(3, async (x: number, { signal }: TaskContext) => {
      signals.push(signal);
      if (x === 0) return x;
      const gate = deferred<void>();
      gates.push(gate);
      await gate.promise;
      return x;
    });
    const sink = new Writable({ objectMode: true, write: (_x, _e, cb) => cb(sinkError) });
    await expect(pipeline(Readable.from(range(100)), stage, sink)).rejects.toBe(sinkError);
    await settle();
    const started = signals.length;
    expect(signals.slice(1).every((s) => s.aborted)).toBe(true);
    for (const gate of gates) gate.resolve();
    await settle();
    expect(signals).toHaveLength(started);
  });

  it('a mapper timeout destroys the stage with a TimeoutError', async () => {
    const stage = limitedTransform(
      2,
      (_x: number, { signal }: TaskContext) =>
        new Promise<number>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { timeout: 5 },
    );
    const rejection = await pipeline(Readable.from(range(3)), stage, collector()).catch((e: unknown) => e);
    expect((rejection as Error).name).toBe('TimeoutError');
  });
});

describe('limitedTransform arguments', () => {
  const mapper = (x: unknown) => x;
  it.each([
    [0, 'Expected `limit` to be an integer >= 1 or Infinity, got `0` (number)'],
    [1.5, 'Expected `limit` to be an integer >= 1 or Infinity, got `1.5` (number)'],
    ['4', 'Expected `limit` to be an integer >= 1 or Infinity, got `"4"` (string)'],
    [Number.NaN, 'Expected `limit` to be an integer >= 1 or Infinity, got `NaN` (number)'],
  ])('throws a TypeError for limit %s', (limit, message) => {
    expect(() => limitedTransform(limit as number, mapper)).toThrow(new TypeError(message));
  });

  it('throws a TypeError for a mapper that is not a function', () => {
    expect(() => limitedTransform(2, 'nope' as never)).toThrow(
      new TypeError('Expected `mapper` to be a function, got `"nope"` (string)'),
    );
  });

  it.each([
    [null, 'Expected `options` to be an object, got `null` (null)'],
    [5, 'Expected `options` to be an object, got `5` (number)'],
    [{ highWaterMark: -1 }, 'Expected `options.highWaterMark` to be an integer >= 0, got `-1` (number)'],
    [{ highWaterMark: '8' }, 'Expected `options.highWaterMark` to be an integer >= 0, got `"8"` (string)'],
    [{ buffer: -1 }, 'Expected `options.buffer` to be an integer >= 0 or Infinity, got `-1` (number)'],
    [{ ordered: 'yes' }, 'Expected `options.ordered` to be a boolean, got `"yes"` (string)'],
    [{ timeout: 0 }, 'Expected `options.timeout` to be a number of milliseconds > 0, got `0` (number)'],
    [{ signal: {} }, 'Expected `options.signal` to be an AbortSignal, got `[object Object]` (object)'],
  ])('throws a TypeError for options %o', (options, message) => {
    expect(() => limitedTransform(2, mapper, options as never)).toThrow(new TypeError(message));
  });

  it('returns an object-mode Duplex', () => {
    const stage = limitedTransform(1, mapper);
    expect(stage).toBeInstanceOf(Duplex);
    expect(stage.readableObjectMode && stage.writableObjectMode).toBe(true);
  });

  it('accepts limit Infinity and highWaterMark 0', async () => {
    const sink = collector<number>();
    await pipeline(
      Readable.from(range(20)),
      limitedTransform(Number.POSITIVE_INFINITY, async (x: number) => x, { highWaterMark: 0 }),
      sink,
    );
    expect(sorted(sink.items)).toEqual(range(20));
  });
});
