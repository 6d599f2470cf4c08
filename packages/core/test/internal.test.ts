// The push-style entry the stream adapters use: same engine, results and failures to callbacks.
import { describe, expect, it, vi } from 'vitest';
import { limitedAsCompletedPush, limitedMapPush, type RunConsumer } from '../src/internal.js';
import { perKey, type TaskContext } from '../src/index.js';
import { deferred, type Deferred } from './helpers.js';

const flush = async (turns = 5): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
};

/** A consumer that records everything; `accept` decides what onResult returns. */
function recorder<T>(accept: (count: number) => boolean = () => true) {
  const events: string[] = [];
  const results: T[] = [];
  const errors: unknown[] = [];
  let ready = 0;
  const consumer: RunConsumer<T> = {
    onResult(value) {
      results.push(value);
      return accept(results.length);
    },
    onError(error) {
      errors.push(error);
      events.push('error');
    },
    onDone() {
      events.push('done');
    },
    onReady() {
      ready++;
    },
  };
  return {
    consumer,
    events,
    results,
    errors,
    get ready() {
      return ready;
    },
  };
}

/** A mapper whose calls the test settles by hand: `calls` records each item, `gates[i]` settles the i-th call. */
function heldMapper() {
  const gates: Deferred<number>[] = [];
  const calls: number[] = [];
  const mapper = (x: number): Promise<number> => {
    calls.push(x);
    const gate = deferred<number>();
    gates.push(gate);
    return gate.promise;
  };
  return { mapper, gates, calls };
}

describe('limitedMapPush', () => {
  it('delivers every written item once, runs at most limit at once, and ends with onDone after end()', async () => {
    const rec = recorder<number>();
    let running = 0;
    let peak = 0;
    const run = limitedMapPush(
      3,
      async (x: number) => {
        running++;
        peak = Math.max(peak, running);
        await flush(1);
        running--;
        return x * 2;
      },
      rec.consumer,
    );
    run.resume();
    const held: number[] = [];
    for (let i = 0; i < 20; i++) {
      if (!run.write(i)) {
        held.push(i);
        await vi.waitFor(() => expect(rec.ready).toBe(held.length));
      }
    }
    run.end();
    await vi.waitFor(() => expect(rec.events).toEqual(['done']));
    expect([...rec.results].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(peak).toBe(3);
    expect(held.length).toBeGreaterThan(0);
  });

  it('takes an item at once (write() returns true, no promise) while a slot is free', () => {
    const rec = recorder<number>();
    const calls: number[] = [];
    const run = limitedMapPush(
      2,
      (x: number) => {
        calls.push(x);
        return new Promise<number>(() => {});
      },
      rec.consumer,
    );
    expect(run.write(0)).toBe(true);
    expect(run.write(1)).toBe(true);
    expect(calls).toEqual([0, 1]);
    expect(run.write(2)).toBe(false);
    expect(calls).toEqual([0, 1]);
    void run.return();
  });

  it('a paused consumer holds results in the run, which stops starting at limit + buffer; resume() delivers them', async () => {
    const rec = recorder<number>(() => false);
    let calls = 0;
    const run = limitedMapPush(2, (x: number) => (calls++, x), rec.consumer, { buffer: 1 });
    run.resume();
    for (let i = 0; i < 10; i++) run.write(i);
    // The first result is delivered and pauses the consumer; then limit + buffer results wait.
    expect(rec.results).toEqual([0]);
    expect(calls).toBe(1 + 3);
    expect(run.stats.buffered).toBe(3);
    run.end();
    await flush();
    expect(rec.events).toEqual([]);
    let taken = 0;
    while (rec.events.length === 0 && taken++ < 20) run.resume();
    expect(rec.results).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(rec.events).toEqual(['done']);
  });

  it('reports a failure at once even while paused: results not delivered are dropped, in-flight signals abort, nothing new starts', async () => {
    const rec = recorder<number>(() => false);
    const boom = new Error('boom');
    const gates: Deferred<number>[] = [];
    const signals: AbortSignal[] = [];
    let calls = 0;
    const run = limitedMapPush(
      3,
      (_x: number, { signal }: TaskContext) => {
        calls++;
        signals.push(signal);
        const gate = deferred<number>();
        gates.push(gate);
        return gate.promise;
      },
      rec.consumer,
    );
    for (let i = 0; i < 10; i++) run.write(i);
    gates[0]!.resolve(0);
    await flush(1);
    expect(run.stats.buffered).toBe(1);
    gates[1]!.reject(boom);
    await flush(1);
    expect(rec.errors).toEqual([boom]);
    expect(rec.results).toEqual([]);
    expect(signals[2]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
    const callsAtFailure = calls;
    run.resume();
    gates[2]!.resolve(2);
    expect(run.write(99)).toBe(true);
    await flush();
    expect(calls).toBe(callsAtFailure);
    expect(rec.results).toEqual([]);
    expect(rec.events).toEqual(['error']);
  });

  it('reports a timeout at once, even while paused', async () => {
    vi.useFakeTimers();
    try {
      const rec = recorder<number>();
      const run = limitedMapPush(1, () => new Promise<number>(() => {}), rec.consumer, { timeout: 50 });
      run.write(1);
      await vi.advanceTimersByTimeAsync(60);
      expect(rec.errors).toHaveLength(1);
      expect((rec.errors[0] as Error).name).toBe('TimeoutError');
    } finally {
      vi.useRealTimers();
    }
  });

  it('options.signal reports its reason through onError at once and aborts in-flight mappers with it', () => {
    const rec = recorder<number>();
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const run = limitedMapPush(
      2,
      (_x: number, { signal }: TaskContext) => {
        signals.push(signal);
        return new Promise<number>(() => {});
      },
      rec.consumer,
      { signal: controller.signal },
    );
    run.write(1);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(rec.errors).toEqual([reason]);
    expect(signals[0]!.reason).toBe(reason);
  });

  it('return() stops it: in-flight signals abort, nothing new starts, and no callback follows', async () => {
    const rec = recorder<number>();
    const signals: AbortSignal[] = [];
    const gates: Deferred<number>[] = [];
    const run = limitedMapPush(
      2,
      (_x: number, { signal }: TaskContext) => {
        signals.push(signal);
        const gate = deferred<number>();
        gates.push(gate);
        return gate.promise;
      },
      rec.consumer,
    );
    run.resume();
    for (let i = 0; i < 5; i++) run.write(i);
    await run.return();
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    for (const gate of gates) gate.reject(new Error('late'));
    await flush();
    expect(signals).toHaveLength(2);
    expect(rec.events).toEqual([]);
    expect(rec.results).toEqual([]);
  });

  it('calls a mapper result then() once', async () => {
    const rec = recorder<string>();
    let thenCalls = 0;
    const run = limitedMapPush(
      1,
      (x: string): PromiseLike<string> => ({
        then(onFulfilled, onRejected) {
          thenCalls++;
          return Promise.resolve(`${x}#${thenCalls}`).then(onFulfilled, onRejected);
        },
      }),
      rec.consumer,
    );
    run.resume();
    run.write('a');
    run.end();
    await flush();
    expect(thenCalls).toBe(1);
    expect(rec.results).toEqual(['a#1']);
  });

  it('throws the same TypeErrors as limitedMap', () => {
    const rec = recorder();
    expect(() => limitedMapPush(0, (x) => x, rec.consumer)).toThrow(
      'Expected `limit` to be an integer >= 1 or Infinity, got `0` (number)',
    );
    expect(() => limitedMapPush(1, 'x' as never, rec.consumer)).toThrow(
      'Expected `mapper` to be a function, got `"x"` (string)',
    );
  });
});

describe('limitedAsCompletedPush', () => {
  it('pulls nothing before resume(), then runs the tasks and closes a source it stops early', async () => {
    const rec = recorder<number>((count) => count < 3);
    let pulled = 0;
    let isClosed = false;
    function* tasks(): Generator<() => number> {
      try {
        for (let i = 0; ; i++) {
          pulled++;
          yield () => i;
        }
      } finally {
        isClosed = true;
      }
    }
    const run = limitedAsCompletedPush(tasks(), 2, rec.consumer, { buffer: 2 });
    await flush();
    expect(pulled).toBe(0);
    run.resume();
    expect(rec.results).toEqual([0, 1, 2]);
    expect(pulled).toBeLessThanOrEqual(3 + 2 + 2);
    await run.return();
    expect(isClosed).toBe(true);
  });
});

describe('drain(), setLimit() and setPerKey() on the push interface', () => {
  it('drain(): in-flight results go to onResult, then onDone; written items not started are dropped, a blocked writer gets onReady, nothing new starts', async () => {
    const rec = recorder<number>();
    const { mapper, gates, calls } = heldMapper();
    const run = limitedMapPush(2, mapper, rec.consumer);
    run.resume();
    expect(run.write(0)).toBe(true);
    expect(run.write(1)).toBe(true);
    expect(run.write(2)).toBe(false);
    run.drain();
    expect(rec.ready).toBe(1);
    // Written after drain(): dropped, never started.
    expect(run.write(3)).toBe(true);
    gates[1]!.resolve(10);
    gates[0]!.resolve(20);
    await vi.waitFor(() => expect(rec.events).toEqual(['done']));
    expect(rec.results).toEqual([10, 20]);
    expect(calls).toEqual([0, 1]);
    expect(rec.errors).toEqual([]);
  });

  it('a stop (return(), a failure, options.signal) does not tell a blocked writer it is free: no onReady after it, later writes are dropped', async () => {
    type Stop = (
      run: ReturnType<typeof limitedMapPush>,
      controller: AbortController,
      first: Deferred<number>,
    ) => unknown;
    const stops: Array<[string, Stop]> = [
      ['return()', (run) => run.return()],
      ['a failure', (_run, _controller, first) => first.reject(new Error('boom'))],
      ['options.signal', (_run, controller) => controller.abort(new Error('stop'))],
    ];
    for (const [name, stop] of stops) {
      const rec = recorder<number>();
      const { mapper, gates, calls } = heldMapper();
      const controller = new AbortController();
      const run = limitedMapPush(1, mapper, rec.consumer, { signal: controller.signal });
      run.resume();
      expect(run.write(0)).toBe(true);
      expect(run.write(1)).toBe(false);
      await stop(run, controller, gates[0]!);
      await flush();
      expect({ name, ready: rec.ready }).toEqual({ name, ready: 0 });
      expect(run.write(2)).toBe(true);
      await flush();
      expect({ name, calls }).toEqual({ name, calls: [0] });
      expect({ name, errors: rec.errors.length }).toEqual({ name, errors: name === 'return()' ? 0 : 1 });
    }
  });

  it('written items that are rejected promises and never start (dropped by drain(), return() or a failure) are observed: no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const stop of ['drain', 'return', 'failure'] as const) {
        const rec = recorder<number>();
        const first = deferred<number>();
        const run = limitedMapPush(1, (x: number) => (x === 0 ? first.promise : x), rec.consumer);
        run.resume();
        expect(run.write(0)).toBe(true);
        // A rejected promise as an item: limitedMap awaits items that are promises before the mapper.
        expect(run.write(Promise.reject(new Error(`dropped by ${stop}`)) as never)).toBe(false);
        if (stop === 'drain') run.drain();
        else if (stop === 'return') await run.return();
        else first.reject(new Error('boom'));
        first.resolve(0);
        await flush();
        // Written after the drain or the stop: dropped too, and observed.
        expect(run.write(Promise.reject(new Error(`written after ${stop}`)) as never)).toBe(true);
        await flush();
      }
      await flush();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a writer that writes again from inside onReady: the item is taken, nothing is lost or started twice', async () => {
    const { mapper, gates, calls } = heldMapper();
    const results: number[] = [];
    let next = 2;
    let isDone = false;
    const run = limitedMapPush(1, mapper, {
      onResult: (value) => {
        results.push(value);
        return true;
      },
      onError: (error) => {
        throw error;
      },
      onDone: () => {
        isDone = true;
      },
      onReady: () => {
        // Keep one item written ahead, as a stream's write callback does.
        if (next < 6 && !run.write(next++)) return;
        if (next === 6) run.end();
      },
    });
    run.resume();
    expect(run.write(0)).toBe(true);
    expect(run.write(1)).toBe(false);
    for (let i = 0; i < 6; i++) {
      await vi.waitFor(() => expect(gates).toHaveLength(i + 1));
      gates[i]!.resolve(i * 10);
    }
    await vi.waitFor(() => expect(isDone).toBe(true));
    expect(calls).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it('drain() with a pulled source: the source is closed, the running tasks deliver, onDone follows', async () => {
    const rec = recorder<number>();
    const gates: Deferred<number>[] = [];
    let isClosed = false;
    function* tasks() {
      try {
        for (;;) {
          yield () => {
            const gate = deferred<number>();
            gates.push(gate);
            return gate.promise;
          };
        }
      } finally {
        isClosed = true;
      }
    }
    const run = limitedAsCompletedPush(tasks(), 3, rec.consumer);
    run.resume();
    expect(gates).toHaveLength(3);
    run.drain();
    expect(isClosed).toBe(true);
    for (const [i, gate] of gates.entries()) gate.resolve(i);
    await vi.waitFor(() => expect(rec.events).toEqual(['done']));
    expect(rec.results).toEqual([0, 1, 2]);
    expect(gates).toHaveLength(3);
  });

  it('setLimit() raises and lowers the bound of a pushed run', async () => {
    const rec = recorder<number>();
    const gates: Deferred<number>[] = [];
    const run = limitedMapPush(
      1,
      () => {
        const gate = deferred<number>();
        gates.push(gate);
        return gate.promise;
      },
      rec.consumer,
    );
    run.resume();
    for (let i = 0; i < 6; i++) run.write(i);
    expect(gates).toHaveLength(1);
    run.setLimit(3);
    expect(gates).toHaveLength(3);
    expect(run.stats.limit).toBe(3);
    run.setLimit(1);
    gates[0]!.resolve(0);
    gates[1]!.resolve(1);
    await flush();
    expect(gates).toHaveLength(3);
    gates[2]!.resolve(2);
    await flush();
    expect(gates).toHaveLength(4);
    await run.return();
  });

  it('setPerKey() on a pushed run with options.perKey', () => {
    const rec = recorder<string>();
    const started: string[] = [];
    const run = limitedMapPush(
      4,
      (x: string) => {
        started.push(x);
        return new Promise<string>(() => {});
      },
      rec.consumer,
      { perKey: perKey((x: string) => x[0]!, 1) },
    );
    run.resume();
    for (const item of ['a1', 'a2', 'a3', 'b1']) run.write(item);
    expect(started).toEqual(['a1', 'b1']);
    run.setPerKey(2);
    expect(started).toEqual(['a1', 'b1', 'a2']);
    void run.return();
  });
});
