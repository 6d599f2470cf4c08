import { describe, expect, it } from 'vitest';
import { type Deferred, deferred } from '@lac/test-tools/deferred';
import {
  limitedAsCompleted,
  limitedAsSettled,
  limitedMap,
  slotsFrom,
  type SlotSource,
  type TaskContext,
} from '@lac/core';

/** Lets every queued promise callback run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface PendingAcquire {
  readonly signal: AbortSignal;
  readonly deferred: Deferred<number>;
}

/**
 * An in-memory shared limit. With `isManual`, every acquire waits until the test calls `grant()` or
 * `fail()`; otherwise it is granted as soon as fewer than `limit` slots are held (FIFO).
 */
class MemorySlots implements SlotSource<number> {
  readonly limit: number;
  readonly isManual: boolean;
  readonly held = new Set<number>();
  readonly pending: PendingAcquire[] = [];
  readonly released: number[] = [];
  maxHeld = 0;
  acquires = 0;
  #nextId = 0;

  constructor(limit: number, isManual = false) {
    this.limit = limit;
    this.isManual = isManual;
  }

  acquire(signal: AbortSignal): Promise<number> {
    this.acquires++;
    const handle = deferred<number>();
    const entry = { signal, deferred: handle };
    this.pending.push(entry);
    signal.addEventListener(
      'abort',
      () => {
        const at = this.pending.indexOf(entry);
        if (at >= 0) {
          this.pending.splice(at, 1);
          handle.reject(signal.reason);
        }
      },
      { once: true },
    );
    if (!this.isManual) this.#serve();
    return handle.promise;
  }

  release(slot: number): void {
    if (!this.held.delete(slot)) throw new Error(`slot ${slot} released twice or never acquired`);
    this.released.push(slot);
    if (!this.isManual) this.#serve();
  }

  /** Hands a slot to the oldest pending acquire (ignoring the limit). */
  grant(): number {
    const entry = this.pending.shift();
    if (entry === undefined) throw new Error('no pending acquire');
    const id = this.#take();
    entry.deferred.resolve(id);
    return id;
  }

  fail(reason: unknown): void {
    const entry = this.pending.shift();
    if (entry === undefined) throw new Error('no pending acquire');
    entry.deferred.reject(reason);
  }

  #take(): number {
    const id = this.#nextId++;
    this.held.add(id);
    this.maxHeld = Math.max(this.maxHeld, this.held.size);
    return id;
  }

  #serve(): void {
    while (this.pending.length > 0 && this.held.size < this.limit) {
      this.pending.shift()!.deferred.resolve(this.#take());
    }
  }
}

/** A source that records how many items were pulled. */
function countingSource<T>(items: T[]): { source: Iterable<T>; pulled: () => number; isClosed: () => boolean } {
  let pulled = 0;
  let isClosed = false;
  function* generate() {
    try {
      for (const item of items) {
        pulled++;
        yield item;
      }
    } finally {
      isClosed = true;
    }
  }
  return { source: generate(), pulled: () => pulled, isClosed: () => isClosed };
}

describe('options.slots', () => {
  it('slotsFrom() rejects a slot source without acquire and release functions with a TypeError naming it', () => {
    const bad: unknown[] = [null, 5, 'slots', {}, { release: () => {} }, { acquire: 1, release: () => {} }];
    for (const source of bad) {
      expect(() => slotsFrom(source as never)).toThrow(TypeError);
      expect(() => slotsFrom(source as never)).toThrow(
        /Expected `source` to be an object with `acquire` and `release` methods \(a SlotSource\), or a governor .*, got `.*` \(/,
      );
    }
    expect(() => slotsFrom(null as never)).toThrow('got `null` (null)');
  });

  it('a SlotSource passed as options.slots without slotsFrom() is a TypeError that names the fix', () => {
    const source = new MemorySlots(1);
    expect(() => limitedAsCompleted([], 1, { slots: source } as never)).toThrow(
      /^Expected `options.slots` to be createSharedLimit\(n\), allOf\(\.\.\.\) or slotsFrom\(source\), got `\[object Object\]` \(object\)$/,
    );
  });

  it('never runs more than the shared limit when it is tighter than the local one, and runs every task once', async () => {
    const slots = new MemorySlots(3);
    let running = 0;
    let maxRunning = 0;
    const seen: number[] = [];
    const tasks = Array.from({ length: 40 }, (_, i) => async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      for (let k = 0; k < (i % 4) + 1; k++) await new Promise<void>((resolve) => setImmediate(resolve));
      running--;
      return i;
    });
    for await (const value of limitedAsCompleted(tasks, 8, { slots: slotsFrom(slots) })) seen.push(value);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(maxRunning).toBe(3);
    expect(slots.maxHeld).toBe(3);
    expect(slots.held.size).toBe(0);
    // One more slot than tasks: the last one found the source done and went straight back.
    expect(slots.released).toHaveLength(41);
  });

  it('never runs more than the local limit, holding at most one slot beyond the running tasks', async () => {
    const slots = new MemorySlots(100);
    let running = 0;
    let maxRunning = 0;
    let maxExcess = 0;
    const tasks = Array.from({ length: 30 }, () => async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      maxExcess = Math.max(maxExcess, slots.held.size - running);
      await new Promise<void>((resolve) => setImmediate(resolve));
      maxExcess = Math.max(maxExcess, slots.held.size - running);
      running--;
    });
    let count = 0;
    for await (const _ of limitedAsCompleted(tasks, 4, { slots: slotsFrom(slots) })) count++;
    expect(count).toBe(30);
    expect(maxRunning).toBe(4);
    expect(maxExcess).toBeLessThanOrEqual(1);
    expect(slots.held.size).toBe(0);
  });

  it('asks for a slot before pulling the next item, one acquire at a time', async () => {
    const slots = new MemorySlots(Infinity, true);
    const gates = [deferred<number>(), deferred<number>(), deferred<number>()];
    const { source, pulled } = countingSource(gates.map((gate) => () => gate.promise));
    const iterator = limitedAsCompleted(source, 3, { slots: slotsFrom(slots) });
    const first = iterator.next();
    await flush();
    expect(slots.acquires).toBe(1);
    expect(pulled()).toBe(0);
    slots.grant();
    await flush();
    expect(pulled()).toBe(1);
    expect(iterator.stats.running).toBe(1);
    expect(slots.acquires).toBe(2);
    expect(slots.pending).toHaveLength(1);
    gates[0]!.resolve(10);
    expect(await first).toEqual({ value: 10, done: false });
    expect(slots.released).toEqual([0]);
    expect(pulled()).toBe(1);
    slots.grant();
    await flush();
    expect(pulled()).toBe(2);
    slots.grant();
    await flush();
    expect(pulled()).toBe(3);
    // The fourth slot is asked for before the source can tell it is done; it goes straight back.
    expect(slots.pending).toHaveLength(1);
    slots.grant();
    await flush();
    expect(slots.held.size).toBe(2);
    gates[1]!.resolve(11);
    gates[2]!.resolve(12);
    const rest: number[] = [];
    for await (const value of iterator) rest.push(value);
    expect(rest.sort()).toEqual([11, 12]);
    expect(slots.held.size).toBe(0);
  });

  it('releases at once a slot acquired when the source turns out to be done (sync and async sources)', async () => {
    for (const isAsync of [false, true]) {
      const slots = new MemorySlots(2);
      const tasks = [() => 1, () => 2];
      const source = isAsync
        ? (async function* () {
            yield* tasks;
          })()
        : tasks;
      const out: number[] = [];
      for await (const value of limitedAsCompleted(source, 2, { slots: slotsFrom(slots) })) out.push(value);
      expect(out.sort()).toEqual([1, 2]);
      expect(slots.acquires).toBe(3);
      expect(slots.released).toHaveLength(3);
      expect(slots.held.size).toBe(0);
    }
  });

  it('gives each task the slot it holds as context.slot, and releases that same slot when the task settles', async () => {
    let next = 0;
    const released: { id: number }[] = [];
    const slots: SlotSource<{ id: number }> = {
      acquire: () => ({ id: next++ }),
      release: (slot) => {
        released.push(slot);
      },
    };
    const seen: unknown[] = [];
    const tasks = [0, 1, 2].map(() => async ({ slot }: TaskContext) => {
      seen.push(slot);
      return slot;
    });
    const results: unknown[] = [];
    for await (const slot of limitedAsCompleted(tasks, 2, { slots: slotsFrom(slots) })) results.push(slot);
    expect(seen.map((slot) => (slot as { id: number }).id).sort()).toEqual([0, 1, 2]);
    for (const slot of seen) expect(released).toContain(slot);
    const withoutSlots: unknown[] = [];
    for await (const slot of limitedAsCompleted([({ slot }: TaskContext) => slot], 1)) withoutSlots.push(slot);
    expect(withoutSlots).toEqual([undefined]);
  });

  it('accepts a slot source whose acquire and release return plain values', async () => {
    let held = 0;
    let maxHeld = 0;
    let releases = 0;
    const slots: SlotSource<string> = {
      acquire: () => {
        held++;
        maxHeld = Math.max(maxHeld, held);
        return 'slot';
      },
      release: (slot) => {
        expect(slot).toBe('slot');
        held--;
        releases++;
      },
    };
    const out: number[] = [];
    for await (const value of limitedMap([1, 2, 3, 4, 5], 2, async (n) => n * 2, { slots: slotsFrom(slots) }))
      out.push(value);
    expect(out.sort((a, b) => a - b)).toEqual([2, 4, 6, 8, 10]);
    expect(held).toBe(0);
    expect(releases).toBe(6);
    expect(maxHeld).toBeLessThanOrEqual(3);
  });

  it('a task that times out keeps its slot until it settles, then releases it once', async () => {
    const slots = new MemorySlots(1);
    const late = deferred();
    const iterator = limitedAsSettled<unknown>([() => late.promise, () => 'second'], 2, {
      slots: slotsFrom(slots),
      timeout: 5,
    });
    const first = await iterator.next();
    expect(first.value).toMatchObject({ status: 'rejected', reason: { name: 'TimeoutError' } });
    // The shared slot is still held by the timed-out task, which still runs: nothing else started.
    expect(slots.held.size).toBe(1);
    expect(slots.released).toEqual([]);
    expect(iterator.stats).toMatchObject({ running: 1, timedOutRunning: 1 });
    late.resolve();
    expect((await iterator.next()).value).toEqual({ status: 'fulfilled', value: 'second', index: 1 });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    await flush();
    expect(slots.released).toEqual([0, 1, 2]);
    expect(slots.held.size).toBe(0);
    expect(slots.maxHeld).toBe(1);
  });

  it('on fail fast, releases each in-flight slot when its task settles and leaks none', async () => {
    const slots = new MemorySlots(4);
    const boom = new Error('boom');
    const failing = deferred();
    const tasks = [
      ({ signal }: TaskContext) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => setImmediate(reject, signal.reason))),
      () => failing.promise,
      ({ signal }: TaskContext) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => setImmediate(reject, signal.reason))),
    ];
    const iterator = limitedAsCompleted(tasks, 4, { slots: slotsFrom(slots) });
    const next = iterator.next();
    await flush();
    // Three running tasks, plus the fourth slot went back when the source turned out to be done.
    expect(slots.held.size).toBe(3);
    failing.reject(boom);
    await expect(next).rejects.toBe(boom);
    await flush();
    expect(slots.held.size).toBe(0);
    expect(slots.released).toHaveLength(4);
  });

  it('on early exit, aborts the pending acquire and releases a slot granted after the stop', async () => {
    // A source that ignores the abort signal and grants later anyway.
    const grants: Deferred<string>[] = [];
    const signals: AbortSignal[] = [];
    const released: string[] = [];
    const slots: SlotSource<string> = {
      acquire(signal) {
        signals.push(signal);
        const grant = deferred<string>();
        grants.push(grant);
        return grant.promise;
      },
      release(slot) {
        released.push(slot);
      },
    };
    const { source, pulled, isClosed } = countingSource([() => new Promise(() => {}), () => 2]);
    const iterator = limitedAsCompleted(source, 2, { slots: slotsFrom(slots) });
    void iterator.next();
    await flush();
    grants[0]!.resolve('a');
    await flush();
    expect(pulled()).toBe(1);
    expect(grants).toHaveLength(2);
    await iterator.return();
    expect(signals[1]!.aborted).toBe(true);
    expect(isClosed()).toBe(true);
    grants[1]!.resolve('b');
    await flush();
    expect(released).toEqual(['b']);
    expect(pulled()).toBe(1);
  });

  it('ignores an acquire that rejects after the run stopped, and leaks no slot after options.signal aborts', async () => {
    const slots = new MemorySlots(Infinity, true);
    const controller = new AbortController();
    const task = deferred();
    const iterator = limitedAsCompleted<unknown>([() => task.promise, () => 2], 2, {
      slots: slotsFrom(slots),
      signal: controller.signal,
    });
    const next = iterator.next();
    await flush();
    slots.grant();
    await flush();
    expect(slots.held.size).toBe(1);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(next).rejects.toBe(reason);
    // The in-memory source rejected the aborted acquire with the reason: no unhandled rejection, no slot taken.
    expect(slots.pending).toHaveLength(0);
    expect(slots.held.size).toBe(1);
    task.resolve();
    await flush();
    expect(slots.held.size).toBe(0);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('fails fast with the error of an acquire that rejects while the run is active, after the results before it', async () => {
    const slots = new MemorySlots(Infinity, true);
    const { source, isClosed } = countingSource([() => 1, () => 2, () => 3]);
    const iterator = limitedAsCompleted(source, 1, { slots: slotsFrom(slots), buffer: 5 });
    const first = iterator.next();
    await flush();
    slots.grant();
    expect(await first).toEqual({ value: 1, done: false });
    await flush();
    const lost = new Error('connection lost');
    slots.fail(lost);
    await expect(iterator.next()).rejects.toBe(lost);
    expect(isClosed()).toBe(true);
    expect(slots.held.size).toBe(0);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('fails fast with an error that acquire throws synchronously', async () => {
    const broken = new Error('no slots here');
    const slots: SlotSource = {
      acquire: () => {
        throw broken;
      },
      release: () => {},
    };
    await expect(limitedAsCompleted([() => 1], 1, { slots: slotsFrom(slots) }).next()).rejects.toBe(broken);
  });

  it('fails the run when release rejects while it is active or at its end, and ignores a release failure after return()', async () => {
    const refused = new Error('release refused');
    let acquired = 0;
    const failing: SlotSource<number> = {
      acquire: () => acquired++,
      release: (slot) => (slot === 0 ? Promise.reject(refused) : undefined),
    };
    const iterator = limitedAsCompleted([() => 1, () => new Promise(() => {})], 1, { slots: slotsFrom(failing) });
    const results: unknown[] = [];
    await expect(
      (async () => {
        for await (const value of iterator) results.push(value);
      })(),
    ).rejects.toBe(refused);
    expect(results).toEqual([1]);

    // At the end: the run waits for its releases, so the last one's rejection is its failure, after the result.
    const lateFailure = new Error('late');
    const late: SlotSource<number> = { acquire: () => 0, release: () => Promise.reject(lateFailure) };
    const out: number[] = [];
    await expect(
      (async () => {
        for await (const value of limitedAsCompleted([() => 1], 1, { slots: slotsFrom(late) })) out.push(value);
      })(),
    ).rejects.toBe(lateFailure);
    expect(out).toEqual([1]);

    // After return(): no one is left to tell, and nothing surfaces unhandled (the file's watch checks).
    const gate = deferred<number>();
    const afterReturn: SlotSource<number> = {
      acquire: () => 0,
      release: () => Promise.reject(new Error('after return')),
    };
    const stopped = limitedAsCompleted([() => gate.promise], 1, { slots: slotsFrom(afterReturn) });
    const pending = stopped.next();
    await stopped.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    gate.resolve(1);
    await flush();
  });
  it('fails fast with the reason of the slot source signal, aborting in-flight tasks', async () => {
    const controller = new AbortController();
    let held = 0;
    const slots: SlotSource = {
      acquire: () => ++held,
      release: () => {
        held--;
      },
      signal: controller.signal,
    };
    const aborted: unknown[] = [];
    const tasks = [1, 2].map(
      () =>
        ({ signal }: TaskContext) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => {
              aborted.push(signal.reason);
              reject(signal.reason);
            }),
          ),
    );
    const iterator = limitedAsCompleted(tasks, 4, { slots: slotsFrom(slots) });
    const next = iterator.next();
    await flush();
    expect(held).toBe(2);
    const lost = new Error('lease lost');
    controller.abort(lost);
    await expect(next).rejects.toBe(lost);
    expect(aborted).toHaveLength(2);
    await flush();
    expect(held).toBe(0);
    await expect(limitedAsCompleted(tasks, 1, { slots: slotsFrom(slots) }).next()).rejects.toBe(lost);
    expect(() => slotsFrom({ ...slots, signal: 'no' } as never)).toThrow(
      'Expected `source.signal` to be an AbortSignal, got `"no"` (string)',
    );
  });
});
