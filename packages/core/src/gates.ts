import { observeDropped } from './is-thenable.js';
import type { KeyGate, KeyState } from './key-gate.js';
import { Queue } from './queue.js';
import type { RateGate } from './rate-gate.js';
import type { SlotGate, SlotGateHost } from './slot-gate.js';
import type { SlotFailure } from './slots.js';

/**
 * What an option value made by a factory (`rateLimit()`, `retryPolicy()`, `perKey()`, a slots value)
 * carries under this registered symbol (so the ESM and CommonJS copies agree): it installs its gate
 * into the run's `Gates`, making them on first use. The engine knows only this; the gates' code is
 * bundled only by apps that import a factory.
 */
export const kFeature = Symbol.for('@lac/core.feature');

/** A feature value: installs its gate (and makes the run's `Gates` when it is the first). */
export type Feature = { readonly [kFeature]: (gates: Gates | undefined, host: GateHost) => Gates };

/** What the gates may ask of their run. */
export interface GateHost {
  /** The run is active (not failing, stopped or done). */
  readonly isActive: boolean;
  /** The limit the run was made with (the default look-ahead). */
  readonly limit: number;
  /** How many more tasks the run's own bounds (its current limit, the buffer) would let start now. */
  readonly room: number;
  readonly pump: () => void;
  fail(error: unknown): void;
  checkDone(): void;
  /** Starts `item` as `index` (what it carries is in `Gates`' start fields). */
  start(item: unknown, index: number): void;
  nextIndex(): number;
  /** An index that was given out will never be delivered (ordered mode moves past it). */
  skipIndex(index: number): void;
  /** `limit + buffer` moves by `delta`: an attempt in backoff counts in it. */
  moveWindow(delta: number): void;
}

/** A start that waits: a failed attempt in its backoff or due (`retry`), or an item waiting for its key (`perKey`). */
export interface Pending {
  readonly item: unknown;
  readonly index: number;
  /** The attempt it will be. */
  readonly attempt: number;
  readonly key: unknown;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The fields of a task's context that the gates fill in (see `Context` in limited-run.ts). */
export interface GatedContext {
  readonly index: number;
  readonly attempt: number;
  slot: unknown;
  item: unknown;
  pendingAttempt: number | undefined;
  /** `perKey`: the state of the task's key (its key is `keyState.key`), whose slot it holds. */
  keyState: KeyState<Pending> | undefined;
}

/** What `startWaiting` did: started a waiting start, found none (the source may be pulled), or may not start. */
export const STARTED = 0;
export const PULL = 1;
export const BLOCKED = 2;

function dropPending(pending: Pending): boolean {
  observeDropped(pending.item);
  return false;
}

/**
 * The gates beyond `limit` and the window (`slots`, `rate`, `perKey`, `retry`), for one run: which
 * start goes next, and what a start and a settle take and give back. Each gate is set by its option's
 * value; the run asks only this.
 */
export class Gates implements SlotGateHost {
  readonly host: GateHost;
  rate: RateGate | undefined;
  slots: SlotGate | undefined;
  keys: KeyGate<Pending> | undefined;
  keyOf: ((item: never, index: number) => unknown) | undefined;
  /** `retry`: the backoff for a failed attempt in ms, or undefined for no retry. May throw. */
  retry: ((error: unknown, attempt: number) => number | undefined) | undefined;
  /** `retry`: attempts in backoff, and those whose backoff is over (they start before new items). */
  readonly #backoffs = new Set<Pending>();
  readonly #retriesDue = new Queue<Pending>();
  /** Attempts in backoff or due: they count toward the window, so failures cannot pile up without bound. */
  retrying = 0;
  retries = 0;
  /** `rate`: an item pulled while the window was full, started when it opens. */
  #heldItem: unknown;
  /** With `perKey` or for a retry: what the held item is (its index, key and attempt). */
  #heldPending: Pending | undefined;
  isHolding = false;
  /** What the start being made carries: a waiting start's record, or a keyed item's key state. */
  #startPending: Pending | undefined;
  #startKeyState: KeyState<Pending> | undefined;

  constructor(host: GateHost) {
    this.host = host;
  }

  get isActive(): boolean {
    return this.host.isActive;
  }

  get room(): number {
    return this.host.room;
  }

  onSlot(): void {
    this.host.pump();
  }

  onSlotError(error: unknown): void {
    this.host.fail(error);
  }

  onReleased(): void {
    this.host.checkDone();
  }

  /** Items pulled and not started: held for the rate window or waiting for their key. */
  get waiting(): number {
    return (this.isHolding ? 1 : 0) + (this.keys?.waiting ?? 0);
  }

  /** Nothing waits or is being given back: the run may end. */
  get isIdle(): boolean {
    return (
      this.retrying === 0 &&
      !this.isHolding &&
      (this.keys === undefined || this.keys.waiting === 0) &&
      (this.slots === undefined || this.slots.releasing === 0)
    );
  }

  /** The run's first read (or a push run's start): listen to `slots.signal`. */
  begin(): void {
    const signal = this.slots?.signal;
    if (signal === undefined) return;
    if (signal.aborted) this.host.fail(signal.reason);
    else signal.addEventListener('abort', this.#onSlotsAbort);
  }

  /** The slot source can no longer vouch for the slots it handed out: fail fast with its reason. */
  readonly #onSlotsAbort = (): void => {
    this.host.fail(this.slots!.signal!.reason);
  };

  /**
   * With room for a new item (`hasRoom`: the window): the source may be pulled, or a start is waiting.
   * `isSourceIdle`: no pull is pending and the source is neither done nor closed (passed in, not read
   * through the host: a getter there is not inlined, and this runs once per start).
   */
  mayStart(hasRoom: boolean, isSourceIdle: boolean): boolean {
    // Nothing waits (most starts): the rule of a run without gates, and room in the look-ahead. Kept
    // this small so that V8 inlines it into the run's pump (a call here cost 4-7% of a task with `retry` alone).
    if (this.#isQuiet()) return hasRoom && this.#mayPull(isSourceIdle);
    return (hasRoom && (this.#mayPull(isSourceIdle) || this.isHolding)) || this.#hasStartWaiting();
  }

  /** No start is waiting: nothing held for the rate window, no retry due, no key with room and an item waiting. */
  #isQuiet(): boolean {
    return !this.isHolding && this.#retriesDue.size === 0 && (this.keys === undefined || !this.keys.hasReady());
  }

  #mayPull(isSourceIdle: boolean): boolean {
    return isSourceIdle && (this.keys === undefined || this.keys.hasRoom());
  }

  /**
   * A start that was pulled (or failed) already is waiting: a due retry, an item whose key has room
   * again, or one of those held for the rate window. Only `limit` (and the gates) hold it back, not
   * the window: it is counted in memory already (`retrying` in the window, the rest in the
   * look-ahead), and in ordered mode the results filling the window may be waiting for it.
   */
  #hasStartWaiting(): boolean {
    return (
      this.#retriesDue.size > 0 || this.keys?.hasReady() === true || (this.isHolding && this.#heldPending !== undefined)
    );
  }

  /**
   * A start that is waiting already goes first (a held item, a due retry, an item whose key has
   * room), after the slot gate said yes. PULL when none waits and the source may be pulled.
   */
  startWaiting(isSourceIdle: boolean): typeof STARTED | typeof PULL | typeof BLOCKED {
    // The slot comes first: a rate token taken while waiting for it would start the task later than recorded.
    if (this.slots !== undefined && !this.slots.allowStart()) return BLOCKED;
    // Small for the same reason as `mayStart`: the rest is for when a start waits.
    return this.#isQuiet() ? (this.#mayPull(isSourceIdle) ? PULL : BLOCKED) : this.#startWaiting(isSourceIdle);
  }

  #startWaiting(isSourceIdle: boolean): typeof STARTED | typeof PULL | typeof BLOCKED {
    // A held item first: it already has its place (and its key's slot).
    if (this.isHolding) {
      if (!this.rate!.tryTake()) return BLOCKED;
      const item = this.#heldItem;
      const pending = this.#heldPending;
      this.isHolding = false;
      this.#heldItem = undefined;
      this.#heldPending = undefined;
      if (pending === undefined) this.host.start(item, this.host.nextIndex());
      else this.#startPendingNow(item, pending);
      return STARTED;
    }
    if (this.#retriesDue.size > 0) {
      const retry = this.#retriesDue.shift();
      this.retrying--;
      this.host.moveWindow(1);
      this.retries++;
      // Its key is full again: it waits for it like a pulled item (counted as a start of this pass all the same).
      if (this.keys === undefined || this.keys.admit(retry.key, retry)) this.#startOrHold(retry.item, retry);
      return STARTED;
    }
    if (this.keys?.hasReady() === true) {
      const pending = this.keys.takeReady();
      this.#startOrHold(pending.item, pending);
      return STARTED;
    }
    return this.#mayPull(isSourceIdle) ? PULL : BLOCKED;
  }

  /** A pulled item takes its key's slot (or waits for it), or is held for the rate window (false). */
  /**
   * Whether pulled items must go through `admit` (`perKey` or `rate` is set: an item may wait for its
   * key or the window). Otherwise the run starts each pulled item itself, as a run without gates does.
   * Read once, when the run is made: the gates are all installed by then.
   */
  get admitsItems(): boolean {
    return this.keys !== undefined || this.rate !== undefined;
  }

  admit(item: unknown): boolean {
    if (this.keys !== undefined) {
      this.#admitKeyed(item);
      return true;
    }
    if (this.rate !== undefined && !this.rate.tryTake()) {
      this.#hold(item, undefined);
      return false;
    }
    this.host.start(item, this.host.nextIndex());
    return true;
  }

  /** `perKey`: a pulled item takes a slot of its key and starts (or holds for `rate`), or waits in the look-ahead for its key. */
  #admitKeyed(item: unknown): void {
    const index = this.host.nextIndex();
    let key: unknown;
    let keyState: KeyState<Pending> | undefined;
    try {
      key = this.keyOf!(item as never, index);
      keyState = this.keys!.tryTake(key);
      if (keyState === undefined) {
        // Only an item that waits is given a record: most start at once.
        this.keys!.wait(key, { item, index, attempt: 1, key, timer: undefined });
        return;
      }
    } catch (error) {
      // A key function (or perKey function) that throws fails the run, as the source throwing would.
      this.host.fail(error);
      return;
    }
    if (this.rate !== undefined && !this.rate.tryTake()) {
      this.#hold(item, { item, index, attempt: 1, key, timer: undefined });
    } else {
      this.#startKeyState = keyState;
      this.host.start(item, index);
    }
  }

  /**
   * With `rate`, an item is pulled as soon as a slot is free and waits here for the window (at most
   * one at a time): taking the token before pulling would keep a finished source from ending the run
   * until the next window opened.
   */
  #hold(item: unknown, pending: Pending | undefined): void {
    this.#heldItem = item;
    this.#heldPending = pending;
    this.isHolding = true;
  }

  /** Starts a waiting start now, or holds it for the rate window. */
  #startOrHold(item: unknown, pending: Pending): void {
    if (this.rate !== undefined && !this.rate.tryTake()) this.#hold(item, pending);
    else this.#startPendingNow(item, pending);
  }

  #startPendingNow(item: unknown, pending: Pending): void {
    this.#startPending = pending;
    this.host.start(item, pending.index);
  }

  /** A task starts: it takes the held slot, and what its start carries (its attempt, its key's slot). */
  onStart(context: GatedContext, item: unknown): void {
    if (this.slots !== undefined) context.slot = this.slots.take();
    const pending = this.#startPending;
    if (pending !== undefined) {
      this.#startPending = undefined;
      context.pendingAttempt = pending.attempt;
      if (this.keys !== undefined) context.keyState = this.keys.heldState(pending.key);
    } else if (this.#startKeyState !== undefined) {
      // The key is the state's (`keyState.key`): one field less on every keyed task.
      context.keyState = this.#startKeyState;
      this.#startKeyState = undefined;
    }
    if (this.retry !== undefined) context.item = item;
  }

  /** A task settled (or timed out and then settled): its key's slot is free. */
  onSettled(context: GatedContext): void {
    if (this.keys !== undefined) this.keys.release(context.keyState!);
  }

  /** Gives back the task's `slots` slot. */
  release(context: GatedContext, failure?: SlotFailure): void {
    this.slots?.release(context.slot, failure);
  }

  /**
   * `retry`: schedules the next attempt of a failed one; false when it is not retried (its failure
   * stands). A `shouldRetry` or `retryDelay` that throws throws here.
   */
  retryLater(context: GatedContext, error: unknown): boolean {
    const attempt = context.attempt;
    const delay = this.retry!(error, attempt);
    if (delay === undefined) return false;
    const retry: Pending = {
      item: context.item,
      index: context.index,
      attempt: attempt + 1,
      key: context.keyState?.key,
      timer: undefined,
    };
    this.retrying++;
    // Counted in the window while it waits (the window shrinks rather than the hot check growing a term).
    this.host.moveWindow(-1);
    this.#backoffs.add(retry);
    retry.timer = setTimeout(this.#onBackoffOver, delay, retry);
    return true;
  }

  readonly #onBackoffOver = (retry: Pending): void => {
    this.#backoffs.delete(retry);
    this.#retriesDue.push(retry);
    this.host.pump();
  };

  /** The source is done: the slot held for a next start is given back. */
  sourceDone(): void {
    this.slots?.drop();
  }

  /** `drain()`: new items that wait are dropped; retries (work in flight) are kept. */
  drain(): void {
    // A retry held for the rate window is work in flight: it stays. A new item held there is dropped.
    if (this.isHolding && !(this.#heldPending !== undefined && this.#heldPending.attempt > 1)) {
      if (this.#heldPending === undefined) observeDropped(this.#heldItem);
      else this.#dropOnDrain(this.#heldPending);
      if (this.keys !== undefined) this.keys.release(this.keys.heldState(this.#heldPending!.key));
      this.isHolding = false;
      this.#heldItem = undefined;
      this.#heldPending = undefined;
    }
    // Items waiting for their key have not started: they are dropped. Retries waiting for it are work in flight: kept.
    this.keys?.clearWaiting(this.#keepRetries);
    this.slots?.drop();
  }

  readonly #keepRetries = (pending: Pending): boolean => pending.attempt > 1 || this.#dropOnDrain(pending);

  /** drain(): an item that had its index (it waited for its key) never starts; ordered delivery moves past it. */
  #dropOnDrain(pending: Pending): boolean {
    observeDropped(pending.item);
    this.host.skipIndex(pending.index);
    return false;
  }

  /** The run stopped: what waits never starts; a pending acquire is aborted. */
  stop(reason: unknown): void {
    if (this.isHolding) {
      // The item waiting for a rate window will never start.
      observeDropped(this.#heldItem);
      this.isHolding = false;
      this.#heldItem = undefined;
      this.#heldPending = undefined;
    }
    // Items waiting for their key will never start either.
    this.keys?.clearWaiting(dropPending);
    this.slots?.stop(reason);
  }

  /** The run ended: drop the timers and the listener on `slots.signal`. */
  end(): void {
    this.rate?.stop();
    for (const retry of this.#backoffs) clearTimeout(retry.timer);
    this.#backoffs.clear();
    this.#retriesDue.clear();
    this.retrying = 0;
    this.slots?.signal?.removeEventListener('abort', this.#onSlotsAbort);
  }
}
