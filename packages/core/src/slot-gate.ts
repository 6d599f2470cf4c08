import { isThenable } from './is-thenable.js';
import type { SlotFailure, SlotSource } from './slots.js';

/** What the `slots` gate tells its run. */
export interface SlotGateHost {
  readonly isActive: boolean;
  /** A slot arrived: a start may be possible now. */
  onSlot(): void;
  /** A release's promise settled: the run may be able to end now. */
  onReleased(): void;
  /** `acquire`, `release` or the source's signal failed: fail the run fast. */
  onSlotError(error: unknown): void;
}

const NONE = 0;
const ACQUIRING = 1;
const HELD = 2;

/**
 * The `options.slots` gate: holds at most one slot for the next start, asked for only when a task
 * could start, and gives back every slot it took exactly once.
 */
export class SlotGate {
  readonly #slots: SlotSource;
  readonly #host: SlotGateHost;
  /** The slot for the next start: none, being acquired (one request at a time), or held. */
  #state = NONE;
  #slot: unknown;
  /** Aborts a pending `acquire()` when the run stops. */
  #controller: AbortController | undefined;
  /** Its signal, read once (a getter each time otherwise). */
  #acquireSignal: AbortSignal | undefined;
  /** `release()` calls whose promise has not settled: the run ends only after they have. */
  releasing = 0;

  constructor(slots: SlotSource, host: SlotGateHost) {
    this.#slots = slots;
    this.#host = host;
  }

  get signal(): AbortSignal | undefined {
    return this.#slots.signal;
  }

  /** True when a slot is held for the next start; otherwise asks for one (unless a request is pending). */
  allowStart(): boolean {
    if (this.#state === HELD) return true;
    if (this.#state === ACQUIRING) return false;
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      this.#acquireSignal = this.#controller.signal;
    }
    let acquired: unknown;
    try {
      acquired = this.#slots.acquire(this.#acquireSignal!);
    } catch (error) {
      this.#host.onSlotError(error);
      return false;
    }
    if (isThenable(acquired)) {
      this.#state = ACQUIRING;
      Promise.resolve(acquired).then(this.#onSlot, this.#onSlotFailed);
      return false;
    }
    this.#slot = acquired;
    this.#state = HELD;
    return true;
  }

  /** A task starts: it takes the held slot (to give to `release` when it settles). */
  take(): unknown {
    const slot = this.#slot;
    this.#slot = undefined;
    this.#state = NONE;
    return slot;
  }

  /** Gives back the slot held for a start that will not happen. */
  drop(): void {
    if (this.#state === HELD) this.release(this.take());
  }

  /** The run stopped: abort a pending acquire and give back the held slot. */
  stop(reason: unknown): void {
    this.#controller?.abort(reason);
    this.drop();
  }

  /** A release that fails while the run is active fails it; after the run ended there is no one left to tell. */
  release(slot: unknown, failure?: SlotFailure): void {
    try {
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

  readonly #onSlot = (slot: unknown): void => {
    this.#state = NONE;
    if (!this.#host.isActive) {
      // The run stopped while waiting: nothing will start, so the slot goes straight back.
      this.release(slot);
      return;
    }
    this.#slot = slot;
    this.#state = HELD;
    this.#host.onSlot();
  };

  readonly #onSlotFailed = (error: unknown): void => {
    this.#state = NONE;
    // After a stop (the acquire was aborted) this is a no-op: the run already has its outcome.
    this.#host.onSlotError(error);
  };

  readonly #onReleased = (): void => {
    this.releasing--;
    this.#host.onReleased();
  };

  readonly #onReleaseFailed = (error: unknown): void => {
    this.releasing--;
    this.#host.onSlotError(error);
  };
}
