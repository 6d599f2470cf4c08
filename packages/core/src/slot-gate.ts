import { isThenable } from './is-thenable.js';
import { Queue } from './queue.js';
import type { SlotFailure, SlotSource } from './slots.js';
import { describe } from './validate.js';

/**
 * A slot source's synchronous side door for the gate, under this registered symbol (so the ESM and
 * CommonJS copies agree): a free slot, or undefined when it would have to wait (the gate then calls
 * `acquire(signal)`). `createSharedLimit` has one: the gate then reads no signal, makes no promise
 * and checks no thenable per start. Its slots have a `release(failure?)` that returns nothing.
 */
export const kTryAcquire = Symbol.for('@lac/core.tryAcquire');

/** A slot of a source with `kTryAcquire`. */
interface DirectSlot {
  release(failure?: SlotFailure): void;
}

interface DirectSource {
  [kTryAcquire](): DirectSlot | undefined;
}

/** What the `slots` gate tells its run. */
export interface SlotGateHost {
  readonly isActive: boolean;
  /** How many more tasks the run's own bounds (`limit`, the buffer) would let start now. */
  readonly room: number;
  /** A slot arrived: a start may be possible now. */
  onSlot(): void;
  /** A release's promise settled: the run may be able to end now. */
  onReleased(): void;
  /** `acquire`, `release` or the source's signal failed: fail the run fast. */
  onSlotError(error: unknown): void;
}

/**
 * The `options.slots` gate: asks for slots only when a task could start (up to the source's
 * `maxPendingAcquires` at once, never more than the run could start), holds them for the next
 * starts, and gives back every slot it took exactly once: to the task that used it, or at once when
 * no start will use it.
 *
 * Every acquire belongs to a round: all acquires made since the gate last gave up waiting share one
 * signal. Giving up (a stop, a drain, the source done) aborts that signal and starts a new round, so
 * a slot or a rejection that arrives for an abandoned round is recognised by its signal.
 */
export class SlotGate {
  readonly #slots: SlotSource;
  /** The same source when it has `kTryAcquire`, else undefined. */
  readonly #direct: DirectSource | undefined;
  readonly #host: SlotGateHost;
  /** The most acquires pending at once: the source's `maxPendingAcquires`, 1 by default. */
  readonly #maxPending: number;
  /** Slots acquired for the next starts (at most the room the run had when each arrived). */
  #heldCount = 0;
  /** The first of them (most runs never hold more than one), then the rest. */
  #next: unknown;
  readonly #more = new Queue<unknown>();
  /** Acquires of the current round that have not settled. */
  #pending = 0;
  /** Aborts the current round's acquires when the gate gives up waiting. */
  #controller: AbortController | undefined;
  /** Its signal, read once (a getter each time otherwise). */
  #acquireSignal: AbortSignal | undefined;
  /** `release()` calls whose promise has not settled: the run ends only after they have. */
  releasing = 0;

  constructor(slots: SlotSource, host: SlotGateHost) {
    this.#slots = slots;
    this.#host = host;
    const max = slots.maxPendingAcquires;
    if (max !== undefined && !(Number.isInteger(max) && max >= 1))
      throw new TypeError(`Expected \`options.slots.maxPendingAcquires\` to be an integer >= 1, got ${describe(max)}`);
    this.#maxPending = max ?? 1;
    if (typeof (slots as Partial<DirectSource>)[kTryAcquire] === 'function')
      this.#direct = slots as unknown as DirectSource;
  }

  get signal(): AbortSignal | undefined {
    return this.#slots.signal;
  }

  /**
   * True when a slot is held for the next start. Otherwise asks for slots: one at a time while the
   * source hands them out at once, and up to `min(room, maxPendingAcquires)` pending.
   */
  allowStart(): boolean {
    if (this.#heldCount > 0) return true;
    // Nothing of ours pending, so nothing of ours queued ahead: take a free slot without an acquire.
    if (this.#direct !== undefined && this.#pending === 0) {
      const slot = this.#direct[kTryAcquire]();
      if (slot !== undefined) {
        this.#hold(slot);
        return true;
      }
    }
    // Called only when a start is possible: at least one is wanted whatever the room says (read only
    // when it can matter: it is a getter of the run's).
    const max = this.#maxPending;
    const wanted = max === 1 ? 1 : Math.min(max, Math.max(1, this.#host.room));
    while (this.#pending < wanted) {
      if (this.#controller === undefined) {
        this.#controller = new AbortController();
        this.#acquireSignal = this.#controller.signal;
      }
      const signal = this.#acquireSignal!;
      let acquired: unknown;
      try {
        acquired = this.#slots.acquire(signal);
      } catch (error) {
        this.#host.onSlotError(error);
        return false;
      }
      if (!isThenable(acquired)) {
        this.#hold(acquired);
        return true;
      }
      this.#pending++;
      Promise.resolve(acquired).then(
        (slot) => this.#onSlot(slot, signal),
        (error: unknown) => this.#onSlotFailed(error, signal),
      );
    }
    return false;
  }

  /** A task starts: it takes the oldest held slot (to give to `release` when it settles). */
  take(): unknown {
    const slot = this.#next;
    this.#heldCount--;
    this.#next = this.#more.size > 0 ? this.#more.shift() : undefined;
    return slot;
  }

  #hold(slot: unknown): void {
    if (this.#heldCount++ === 0) this.#next = slot;
    else this.#more.push(slot);
  }

  /** No start will use what is held or pending now (the source is done, or the run drains): give it back. */
  drop(): void {
    // No reason of ours: the default one is an AbortError, which is what the acquires should reject with.
    if (this.#pending > 0) this.#giveUpWaiting(undefined);
    while (this.#heldCount > 0) this.release(this.take());
  }

  /** The run stopped: abort the pending acquires and give back the held slots. */
  stop(reason: unknown): void {
    if (this.#controller !== undefined) this.#giveUpWaiting(reason);
    this.drop();
  }

  /** A release that fails while the run is active fails it; after the run ended there is no one left to tell. */
  release(slot: unknown, failure?: SlotFailure): void {
    try {
      if (this.#direct !== undefined) {
        // A slot of a source with `kTryAcquire` releases itself, synchronously.
        (slot as DirectSlot).release(failure);
        return;
      }
      const released = failure === undefined ? this.#slots.release(slot) : this.#slots.release(slot, failure);
      if (isThenable(released)) {
        // The run does not end before its releases settle: a rejection is the run's failure, not lost.
        this.releasing++;
        Promise.resolve(released).then(this.#onReleased, this.#onReleaseFailed);
      }
    } catch (error) {
      this.#host.onSlotError(error);
    }
  }

  /** Aborts the current round; what its acquires still hand out goes straight back (see #onSlot). */
  #giveUpWaiting(reason: unknown): void {
    const controller = this.#controller!;
    this.#controller = undefined;
    this.#acquireSignal = undefined;
    this.#pending = 0;
    controller.abort(reason);
  }

  #onSlot(slot: unknown, signal: AbortSignal): void {
    // An abandoned round's slot, or the run stopped while waiting: nothing will start on it.
    if (signal.aborted) {
      this.release(slot);
      return;
    }
    this.#pending--;
    if (!this.#host.isActive) {
      this.release(slot);
      return;
    }
    // The room shrank while waiting (a lower limit, results piling up): hold no more than could start.
    if (this.#heldCount >= Math.max(1, this.#host.room)) {
      this.release(slot);
      return;
    }
    this.#hold(slot);
    this.#host.onSlot();
  }

  #onSlotFailed(error: unknown, signal: AbortSignal): void {
    // An abandoned round's acquire: whatever it rejects with, the run no longer waits for it.
    if (signal.aborted) return;
    this.#pending--;
    this.#host.onSlotError(error);
  }

  readonly #onReleased = (): void => {
    this.releasing--;
    this.#host.onReleased();
  };

  readonly #onReleaseFailed = (error: unknown): void => {
    this.releasing--;
    this.#host.onSlotError(error);
  };
}
