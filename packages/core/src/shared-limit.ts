import { kTryAcquire } from './slot-gate.js';
import { slotsOf, toSlotSource, type Governor, type SlotSource } from './slots.js';
import type { Slots } from './options.js';
import type { AdaptiveLimit } from './adaptive.js';
import { createController, initialLimit, isAdaptive, type LimitController } from './adaptive-limit.js';
import type { SlotFailure } from './slots.js';
import { describe } from './validate.js';

/**
 * A slot of a shared limit: give it back with `release()`. It also has a `[Symbol.dispose]()` that
 * releases it, for `using` (not in the type, so that projects without the `esnext.disposable` lib
 * still compile). Releasing twice does nothing.
 */
export interface SharedSlot {
  /** Gives the slot back; with an adaptive limit, pass `{ error }` when the work it guarded failed. */
  release(failure?: SlotFailure): void;
}

/**
 * One concurrency limit shared by any number of runs, limiters and plain callers in one process.
 * Pass it as `options.slots` (it is a `SlotSource` too), and its `acquire()` has the shape of the TC39
 * concurrency-control proposal's governor: it resolves to a token with `release()` and
 * `Symbol.dispose`.
 */
export interface SharedLimit extends SlotSource<SharedSlot>, Slots {
  /** At most this many slots are out at once (with `adaptive()`, the limit now). */
  readonly limit: number;
  /** Slots handed out and not released yet. */
  readonly running: number;
  /** `acquire()` calls waiting for a slot. */
  readonly pending: number;
  /**
   * A slot now when one is free (no promise), else a promise for one; callers are served first come,
   * first served. If `signal` aborts first, the promise rejects with `signal.reason` and no slot is
   * kept for the call.
   */
  acquire(signal?: AbortSignal): SharedSlot | Promise<SharedSlot>;
  /** Gives `slot` back (the same as `slot.release(failure)`). */
  release(slot: SharedSlot, failure?: SlotFailure): void;
}

/**
 * An `acquire()` waiting for a slot: a node of the limit's FIFO (a doubly linked list, so an abort
 * takes it out at once in O(1)), and its own abort listener (`handleEvent`: no closure per call).
 */
class Waiter {
  readonly resolve: (slot: SharedSlot) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly #limit: Limit;
  prev: Waiter | undefined;
  next: Waiter | undefined;

  constructor(
    limit: Limit,
    signal: AbortSignal | undefined,
    resolve: (slot: SharedSlot) => void,
    reject: (reason: unknown) => void,
  ) {
    this.#limit = limit;
    this.signal = signal;
    this.resolve = resolve;
    this.reject = reject;
  }

  /** Its signal aborted while it waited: it leaves the queue now and never gets a slot. */
  handleEvent(): void {
    this.#limit.unlink(this);
    this.reject(this.signal!.reason);
  }
}

/**
 * Creates a limit of `limit` slots to share between runs (`options.slots`), `createLimiter`s and any
 * code that calls `acquire()` itself. Each acquire and release is O(1).
 *
 * @param limit - How many slots the limit has: an integer >= 1, or `Infinity`.
 *
 * @returns A `SharedLimit`: pass it as `options.slots`, or call `acquire()` and `release()` yourself.
 *
 * @throws TypeError when `limit` is not an integer >= 1 or `Infinity`, naming the value and its type.
 *
 * @example
 * ```ts
 * const api = createSharedLimit(10); // at most 10 calls to the API at once, across every run
 * const a = limitedMap(users, 8, fetchUser, { slots: api });
 * const b = limitedMap(orders, 8, fetchOrder, { slots: api });
 * ```
 */
export function createSharedLimit(limit: number | AdaptiveLimit): SharedLimit {
  const initial = initialLimit(limit);
  return new Limit(initial, isAdaptive(limit) ? limit : undefined) as unknown as SharedLimit;
}

/**
 * One slot; a class, so a slot costs one small object and no closures. Made in a pure call: a class
 * with a computed method key (`[Symbol.dispose]`) is otherwise kept by bundlers even when unused.
 */
const Slot = /* @__PURE__ */ (() => {
  /** `Symbol.dispose` where the runtime has it (Node 20 does), else the well-known name TypeScript's polyfill uses. */
  const disposeSymbol: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('Symbol.dispose');
  class Slot implements SharedSlot {
    readonly #limit: Limit;
    /** With an adaptive limit: when the slot was handed out. */
    readonly #startedAt: number | undefined;
    #isReleased = false;

    constructor(limit: Limit, startedAt: number | undefined) {
      this.#limit = limit;
      this.#startedAt = startedAt;
    }

    release(failure?: SlotFailure): void {
      if (this.#isReleased) return;
      this.#isReleased = true;
      this.#limit.onRelease(this.#startedAt, failure);
    }

    [disposeSymbol](): void {
      this.release();
    }
  }
  return Slot;
})();
type Slot = InstanceType<typeof Slot>;

/** A `SharedLimit` (its `Slots` brand is type-only: what it carries is the gate `slotsOf` adds). */
class Limit implements Omit<SharedLimit, keyof Slots> {
  limit: number;
  readonly #adaptive: LimitController | undefined;
  /** The oldest and newest waiting `acquire()`: served from the head, appended at the tail. */
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  #running = 0;
  #pending = 0;

  constructor(limit: number, spec: AdaptiveLimit | undefined) {
    this.limit = limit;
    if (spec !== undefined) this.#adaptive = createController(spec, this.#resize);
    // It carries its own gate: `options.slots: limit` needs no wrapping. The side door is set here, not
    // declared as a method: bundlers keep a class with a computed method key even when nothing uses it.
    Object.assign(this, slotsOf(this), { [kTryAcquire]: this.#tryAcquire });
  }

  /** An adaptive limit changed: a raise serves waiters at once (a release does otherwise). */
  readonly #resize = (limit: number): void => {
    this.limit = limit;
  };

  #newSlot(): Slot {
    this.#running++;
    return new Slot(this, this.#adaptive?.now());
  }

  get running(): number {
    return this.#running;
  }

  get pending(): number {
    return this.#pending;
  }

  acquire(signal?: AbortSignal): SharedSlot | Promise<SharedSlot> {
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    // Free and nobody queued ahead: a slot now, with no promise and no listener.
    if (this.#running < this.limit && this.#pending === 0) return this.#newSlot();
    return new Promise<SharedSlot>((resolve, reject) => {
      const waiter = new Waiter(this, signal, resolve, reject);
      signal?.addEventListener('abort', waiter, { once: true });
      this.#pending++;
      const tail = this.#tail;
      waiter.prev = tail;
      if (tail === undefined) this.#head = waiter;
      else tail.next = waiter;
      this.#tail = waiter;
    });
  }

  /**
   * What the run's slot gate calls first: a free slot when nobody waits (FIFO: a waiter is served
   * before any newcomer), else undefined and the gate calls `acquire(signal)`. No signal to read:
   * the gate asks only while its round's signal is live.
   */
  readonly #tryAcquire = (): SharedSlot | undefined => {
    if (this.#running >= this.limit || this.#pending > 0) return undefined;
    if (this.#adaptive !== undefined) return this.#newSlot();
    this.#running++;
    return this.#gateSlot;
  };

  /**
   * What `kTryAcquire` hands out without an adaptive limit: one object for every such slot, as the
   * gate releases each slot it took exactly once (and has no use for a slot's identity).
   */
  readonly #gateSlot: SharedSlot = { release: (failure) => this.onRelease(undefined, failure) };

  release(slot: SharedSlot, failure?: SlotFailure): void {
    if (slot === null || typeof slot !== 'object' || typeof slot.release !== 'function') {
      throw new TypeError(`Expected \`slot\` to be a slot this limit handed out, got ${describe(slot)}`);
    }
    slot.release(failure);
  }

  /** Takes `waiter` out of the queue (it aborted, or its turn came). O(1). */
  unlink(waiter: Waiter): void {
    const { prev, next } = waiter;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    waiter.prev = undefined;
    waiter.next = undefined;
    this.#pending--;
  }

  /** A slot came back: tell an adaptive limit how it went, then give one to the oldest waiter, if any. */
  onRelease(startedAt: number | undefined, failure: SlotFailure | undefined): void {
    if (startedAt !== undefined) {
      try {
        this.#adaptive!.sample(startedAt, this.#running, failure !== undefined, failure?.error);
      } catch {
        // A throwing isOverload or onLimitChange has no caller to tell here: the slot is given back regardless.
      }
    }
    this.#running--;
    let waiter = this.#head;
    // The slot goes straight to the head waiter: nobody can take it in between (its promise resolves later).
    while (waiter !== undefined && this.#running < this.limit) {
      this.unlink(waiter);
      waiter.signal?.removeEventListener('abort', waiter);
      waiter.resolve(this.#newSlot());
      waiter = this.#head;
    }
  }
}

/**
 * Combines several slot sources (or governors) into one: a slot is a slot from each, acquired in the
 * order given (the same order everywhere, so two runs cannot each hold half and wait for the other)
 * and released in reverse. Its `signal` aborts when any source's does.
 *
 * @param limits - Slot sources (`createSharedLimit`, `redisSlots`, your own) or TC39 governors, acquired in this order.
 *
 * @returns A slot source, and a value for `options.slots` (no `slotsFrom()` needed), whose slot holds one slot of each.
 *
 * @throws TypeError when an argument is neither a slot source nor a governor, naming its position (`limits[i]`).
 *
 * @example
 * ```ts
 * const slots = allOf(createSharedLimit(4), redisSlots); // at most 4 here and the cluster's cap in all
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: sources of any lease type combine; each gets its own lease back.
export function allOf(...limits: readonly (SlotSource<any> | Governor)[]): SlotSource<unknown[]> & Slots {
  const sources = limits.map((limit, i) => toSlotSource(limit, `limits[${i}]`));
  const signals = sources
    .map((source) => source.signal)
    .filter((signal): signal is AbortSignal => signal !== undefined);
  const releaseAll = (held: unknown[], failure?: SlotFailure): void | Promise<void> => {
    let firstError: unknown;
    let isFailed = false;
    const pendingReleases: PromiseLike<void>[] = [];
    for (let i = held.length - 1; i >= 0; i--) {
      try {
        const released = failure === undefined ? sources[i]!.release(held[i]) : sources[i]!.release(held[i], failure);
        if (released !== undefined && typeof (released as PromiseLike<void>).then === 'function')
          pendingReleases.push(released as PromiseLike<void>);
      } catch (error) {
        if (!isFailed) firstError = error;
        isFailed = true;
      }
    }
    if (isFailed) throw firstError;
    if (pendingReleases.length > 0) return Promise.all(pendingReleases).then(() => undefined);
  };
  const source: SlotSource<unknown[]> = {
    acquire(signal: AbortSignal): Promise<unknown[]> {
      const held: unknown[] = [];
      const next = async (): Promise<unknown[]> => {
        try {
          for (const each of sources) {
            if (signal?.aborted === true) throw signal.reason;
            held.push(await each.acquire(signal));
          }
        } catch (error) {
          // Give back what this call holds so far: it will not get the rest.
          await releaseAll(held);
          throw error;
        }
        return held;
      };
      return next();
    },
    release: (held, failure) => releaseAll(held, failure),
  };
  const combined =
    signals.length === 0 ? source : { ...source, signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) };
  return Object.assign(combined, slotsOf(combined)) as unknown as SlotSource<unknown[]> & Slots;
}
