/**
 * The `slots` gate with several acquires pending (`maxPendingAcquires`): deferred grants and
 * fc.scheduler(), no wall clock.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { limitedAsCompleted, type SlotSource, slotsFrom, type TaskContext } from '@lac/core';
import { assertProperty } from './helpers.js';

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Call {
  readonly signal: AbortSignal;
  /** `limit - running` of the run when the call was made, and what the gate held or had pending then. */
  readonly outstandingBefore: number;
  /** The run's running tasks at the call (when the test gave `probe`). */
  readonly running: number;
  grant(): void;
  fail(reason: unknown): void;
  isSettled: boolean;
}

/**
 * A slot source whose acquires wait for the test (`grant()`), recording every call, every slot and
 * every release: a slot released twice or never handed out is recorded as an error.
 */
class ManualSlots implements SlotSource<number> {
  readonly maxPendingAcquires: number | undefined;
  readonly calls: Call[] = [];
  /** Handed out and not released. */
  readonly out = new Set<number>();
  readonly errors: string[] = [];
  released = 0;
  /** Reads the run's running count at each call. */
  probe: () => number = () => 0;
  #next = 0;
  /** Handed out to the run and neither taken by a task nor released: what the gate holds. */
  readonly #idle = new Set<number>();
  readonly #ignoresAbort: boolean;

  constructor(maxPendingAcquires: number | undefined, ignoresAbort = false) {
    this.maxPendingAcquires = maxPendingAcquires;
    this.#ignoresAbort = ignoresAbort;
  }

  get pending(): Call[] {
    return this.calls.filter((call) => !call.isSettled);
  }

  /** Live acquires (pending, not aborted) plus slots the gate holds. */
  get outstanding(): number {
    return this.calls.filter((call) => !call.isSettled && !call.signal.aborted).length + this.#idle.size;
  }

  taken(slot: number): void {
    this.#idle.delete(slot);
  }

  acquire(signal: AbortSignal): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const call: Call = {
        signal,
        outstandingBefore: this.outstanding,
        running: this.probe(),
        isSettled: false,
        grant: () => {
          if (call.isSettled) return;
          call.isSettled = true;
          signal.removeEventListener('abort', onAbort);
          const slot = this.#next++;
          this.out.add(slot);
          this.#idle.add(slot);
          resolve(slot);
        },
        fail: (reason) => {
          if (call.isSettled) return;
          call.isSettled = true;
          signal.removeEventListener('abort', onAbort);
          reject(reason);
        },
      };
      const onAbort = () => {
        if (!this.#ignoresAbort) call.fail(signal.reason);
      };
      signal.addEventListener('abort', onAbort);
      this.calls.push(call);
    });
  }

  release(slot: number): void {
    if (!this.out.delete(slot)) this.errors.push(`slot ${slot} released twice or never handed out`);
    this.#idle.delete(slot);
    this.released++;
  }
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

describe('options.slots with maxPendingAcquires', () => {
  it('rejects a maxPendingAcquires that is not an integer >= 1 with a TypeError naming it', () => {
    for (const bad of [0, 1.5, Number.POSITIVE_INFINITY, '2', null]) {
      const slots = { acquire: () => 0, release: () => {}, maxPendingAcquires: bad };
      expect(() => limitedAsCompleted([], 1, { slots: slotsFrom(slots as never) })).toThrow(TypeError);
      expect(() => limitedAsCompleted([], 1, { slots: slotsFrom(slots as never) })).toThrow(
        /^Expected `options.slots.maxPendingAcquires` to be an integer >= 1, got `.*` \(/,
      );
    }
  });

  it('keeps up to limit - running acquires pending, starts a task per slot as it arrives, and never more than limit', async () => {
    const slots = new ManualSlots(16);
    const gates = Array.from({ length: 6 }, () => deferred());
    let running = 0;
    let maxRunning = 0;
    const tasks = gates.map((gate) => async ({ slot }: TaskContext) => {
      slots.taken(slot as number);
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gate.promise;
      running--;
    });
    const run = limitedAsCompleted(tasks, 4, { slots: slotsFrom(slots) });
    const results = (async () => {
      let count = 0;
      for await (const _ of run) count++;
      return count;
    })();
    await flush();
    // Four could start: four acquires at once, nothing pulled before a slot arrives.
    expect(slots.pending).toHaveLength(4);
    expect(run.stats.started).toBe(0);
    slots.calls[0]!.grant();
    slots.calls[1]!.grant();
    await flush();
    expect(run.stats.running).toBe(2);
    // Two run, two still pending: no new acquire until one is needed.
    expect(slots.pending).toHaveLength(2);
    gates[0]!.resolve();
    await flush();
    // One ended: its slot went back, and one more acquire covers the room it left.
    expect(slots.pending).toHaveLength(3);
    for (const call of slots.pending) call.grant();
    await flush();
    expect(run.stats.running).toBe(4);
    expect(slots.pending).toHaveLength(0);
    for (const gate of gates) gate.resolve();
    while (slots.pending.length > 0 || run.stats.running > 0) {
      for (const call of slots.pending) call.grant();
      await flush();
    }
    expect(await results).toBe(6);
    expect(maxRunning).toBe(4);
    expect(slots.out.size).toBe(0);
    expect(slots.errors).toEqual([]);
    for (const call of slots.calls) expect(call.outstandingBefore).toBeLessThan(4);
  });

  it('when the source is done, aborts the acquires still pending and gives back the slots held', async () => {
    const slots = new ManualSlots(8);
    const run = limitedAsCompleted([() => 1], 8, { slots: slotsFrom(slots) });
    const results = (async () => {
      const out: number[] = [];
      for await (const value of run) out.push(value);
      return out;
    })();
    await flush();
    expect(slots.pending).toHaveLength(8);
    slots.calls[0]!.grant();
    slots.calls[1]!.grant();
    expect(await results).toEqual([1]);
    await flush();
    for (const call of slots.calls.slice(2)) expect(call.signal.aborted).toBe(true);
    expect(slots.pending).toHaveLength(0);
    expect(slots.out.size).toBe(0);
    expect(slots.released).toBe(2);
    expect(slots.errors).toEqual([]);
  });

  it('drain() while an acquire is pending gives back the slot it brings later, once (one acquire at a time too)', async () => {
    for (const maxPending of [undefined, 4]) {
      const slots = new ManualSlots(maxPending, true);
      const gate = deferred();
      const run = limitedAsCompleted<unknown>([() => gate.promise, () => 2, () => 3], 4, { slots: slotsFrom(slots) });
      const first = run.next();
      await flush();
      slots.calls[0]!.grant();
      await flush();
      expect(run.stats.running).toBe(1);
      expect(slots.pending.length).toBeGreaterThan(0);
      run.drain();
      // This source ignores the abort and grants anyway: the slot goes straight back.
      for (const call of slots.pending) call.grant();
      gate.resolve();
      expect(await first).toEqual({ value: undefined, done: false });
      expect(await run.next()).toEqual({ value: undefined, done: true });
      await flush();
      expect(slots.out.size).toBe(0);
      expect(slots.errors).toEqual([]);
    }
  });

  it('property: never more than limit running, at most limit - running acquires outstanding, every slot given back exactly once, every acquire aborted or settled after an early exit', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.scheduler(),
        fc.record({
          limit: fc.integer({ min: 1, max: 6 }),
          maxPending: fc.integer({ min: 1, max: 8 }),
          count: fc.integer({ min: 0, max: 12 }),
          buffer: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
          isAsyncSource: fc.boolean(),
          ignoresAbort: fc.boolean(),
          exit: fc.constantFrom('none', 'return', 'abort', 'drain', 'taskFails', 'acquireFails'),
          exitAfter: fc.integer({ min: 0, max: 6 }),
        }),
        async (s, c) => {
          const slots = new ManualSlots(c.maxPending, c.ignoresAbort);
          const controller = new AbortController();
          let running = 0;
          let maxRunning = 0;
          const slotsInUse = new Set<number>();
          const errors: string[] = [];
          const boom = new Error('boom');
          const task =
            (i: number) =>
            async ({ slot }: TaskContext) => {
              const id = slot as number;
              if (slotsInUse.has(id)) errors.push(`slot ${id} given to two tasks`);
              slotsInUse.add(id);
              slots.taken(id);
              running++;
              maxRunning = Math.max(maxRunning, running);
              try {
                await s.schedule(Promise.resolve(), `task ${i}`);
                if (c.exit === 'taskFails' && i === c.exitAfter) throw boom;
                return i;
              } finally {
                running--;
                slotsInUse.delete(id);
              }
            };
          const items = Array.from({ length: c.count }, (_, i) => task(i));
          const source = c.isAsyncSource
            ? (async function* () {
                for (const item of items) yield await s.schedule(Promise.resolve(item), 'pull');
              })()
            : items;
          const run = limitedAsCompleted(source, c.limit, {
            slots: slotsFrom(slots),
            signal: controller.signal,
            ...(c.buffer === undefined ? {} : { buffer: c.buffer }),
          });
          slots.probe = () => run.stats.running;
          // Grants and acquire failures happen in the scheduler's order, among the tasks and pulls.
          let granted = 0;
          const grantLoop = async (): Promise<void> => {
            while (!isDone) {
              await s.schedule(Promise.resolve(), 'grant');
              const call = slots.pending[0];
              if (call === undefined) continue;
              if (c.exit === 'acquireFails' && granted === c.exitAfter) call.fail(boom);
              else call.grant();
              granted++;
            }
          };
          let isDone = false;
          const consume = (async () => {
            let seen = 0;
            try {
              for await (const _ of run) {
                seen++;
                if (seen === c.exitAfter) {
                  if (c.exit === 'return') break;
                  if (c.exit === 'abort') controller.abort(new Error('stop'));
                  if (c.exit === 'drain') run.drain();
                }
              }
            } catch {
              // A failure or an abort: what the property checks is what is left behind.
            }
          })();
          const granting = grantLoop();
          await s.waitFor(consume);
          isDone = true;
          // A source that ignores the abort grants what was asked for anyway.
          for (const call of slots.pending) call.grant();
          await s.waitAll();
          await granting;
          await flush();
          expect(errors).toEqual([]);
          expect(slots.errors).toEqual([]);
          expect(maxRunning).toBeLessThanOrEqual(c.limit);
          // No acquire beyond limit - running (at least 1: one is made only when a start is possible) or maxPending.
          for (const call of slots.calls) {
            expect(call.outstandingBefore + 1).toBeLessThanOrEqual(Math.max(1, c.limit - call.running));
            expect(call.outstandingBefore + 1).toBeLessThanOrEqual(c.maxPending);
          }
          // Nothing left: every slot handed out was released exactly once, no acquire left waiting un-aborted.
          expect(slots.out.size).toBe(0);
          expect(slots.pending.filter((call) => !call.signal.aborted)).toEqual([]);
        },
      ),
      150,
    );
  });
});
