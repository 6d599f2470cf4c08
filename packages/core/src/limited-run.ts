import { TimeoutError, earlyExitReason, failFastReason } from './errors.js';
import { skip, type LimitedIterator, type LimitedStats, type Mapper, type TaskContext } from './options.js';
import { Queue } from './queue.js';
import { RateGate } from './rate-gate.js';
import { retryDelay, type ResolvedRetry } from './retry-policy.js';
import { KeyGate, type KeyState } from './key-gate.js';
import { HOLE, OrderedDelivery } from './ordered-delivery.js';
import { isThenable } from './is-thenable.js';
import type { AdaptiveLimit } from './adaptive.js';
import { createController, initialLimit, isAdaptive, type LimitController } from './adaptive-limit.js';
import { SlotGate } from './slot-gate.js';
import { describe, validateLimit, type ResolvedOptions } from './validate.js';

const ACTIVE = 0;
/** Stopped by a failure or an abort; the error is delivered once the results before it are consumed. */
const FAILING = 1;
const DONE = 2;

/** The source: can be pulled, a pull is pending, it said it is done, or the run closed it (`return()` was called). */
const IDLE = 0;
const PULLING = 1;
const EXHAUSTED = 2;
const CLOSED = 3;

/**
 * Starts one pump pass may make before it yields to the event loop. Only a pass with more room than
 * this (`limit` or `buffer` in the thousands, or `Infinity`) ever reaches it: otherwise the bound
 * stops the pass first, so bounded runs never pay for the yield.
 */
const STARTS_PER_PASS = 1024;

/** What `#startWaiting` did: started a waiting start, found none (the source may be pulled), or may not start. */
const STARTED = 0;
const PULL = 1;
const BLOCKED = 2;

const kAbort = Symbol('abort');
const kSettle = Symbol('settle');
const kTrack = Symbol('track');

/**
 * What a task receives. Its AbortController is made only when the task reads `signal` (one costs
 * ~4 µs, about 20x a cheap task's whole scheduling cost), so tasks that never cancel pay nothing.
 * Each task gets its own signal rather than one shared per run: listeners that tasks add and never
 * remove then die with the task instead of piling up on a long-lived signal.
 */
class Context implements TaskContext {
  readonly index: number;
  /** The `options.slots` slot this task holds; `declare`d so tasks of runs without `slots` do not carry the field. */
  declare slot: unknown;
  /** Timed out but still running: its outcome is delivered, its slot is held until it settles. `declare`d, as `slot`. */
  declare isTimedOut: boolean | undefined;
  /** `retry`: the item (to call again) and which attempt this is; `declare`d, as `slot`. */
  declare item: unknown;
  declare pendingAttempt: number | undefined;
  /** `key`: the task's key, and its state in the key gate (whose slot it holds). */
  declare key: unknown;
  declare keyState: KeyState<Pending> | undefined;
  /** An adaptive limit: when the task started (its clock). */
  declare startedAt: number | undefined;
  readonly #run: LimitedRun<unknown, unknown>;
  #controller: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #isSettled = false;
  #isAborted = false;
  #abortReason: unknown;

  constructor(index: number, run: LimitedRun<unknown, unknown>) {
    this.index = index;
    this.#run = run;
  }

  get attempt(): number {
    return this.pendingAttempt ?? 1;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#isAborted) controller.abort(this.#abortReason);
      else if (!this.#isSettled) this.#run[kTrack](this);
    }
    return this.#controller.signal;
  }

  /**
   * Also called for a task that settles after the run stopped (it was in flight at the stop), so it
   * sees the abort even when it reads `signal` for the first time later: the stop is recorded, no
   * controller is made for it.
   */
  [kAbort](reason: unknown): void {
    if (this.#isAborted) return;
    this.#isAborted = true;
    this.#abortReason = reason;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#controller?.abort(reason);
  }

  /** Marks the task settled; false when it already was (a timeout settles it before the task does). */
  [kSettle](): boolean {
    if (this.#isSettled) return false;
    this.#isSettled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    return true;
  }

  startTimer(timeout: number, onTimeout: (context: Context) => void): void {
    this.#timer = setTimeout(onTimeout, timeout, this);
  }
}

function ignore(): void {}

/** An item that will never start may be a rejected promise: observe it, so it is not an unhandled rejection. */
function observeDropped(item: unknown): void {
  try {
    if (isThenable(item)) Promise.resolve(item).then(undefined, ignore);
  } catch {
    // A `then` getter that throws: nothing was started and nothing can be observed.
  }
}

/** A start that waits: a failed attempt in its backoff or due (`retry`), or an item waiting for its key (`key`). */
interface Pending {
  readonly item: unknown;
  readonly index: number;
  /** The attempt it will be. */
  readonly attempt: number;
  readonly key: unknown;
  timer: ReturnType<typeof setTimeout> | undefined;
}

function dropPending(pending: Pending): boolean {
  observeDropped(pending.item);
  return false;
}

/** for-of throws a TypeError when an iterator's next() gives a non-object; a run fails with one instead. */
function isStep(step: unknown): boolean {
  return step !== null && (typeof step === 'object' || typeof step === 'function');
}

function notAStep(step: unknown): TypeError {
  return new TypeError(`Expected the source's next() to return an object { value, done }, got ${describe(step)}`);
}

/**
 * Push mode's consumer (see `@lac/core/internal`): results, the failure and the end are handed to
 * these callbacks the moment they exist, instead of to `next()`.
 */
export interface RunConsumer<TOut> {
  /** A result. Return false when no more can be taken for now: results then wait in the run (they count toward `limit + buffer`) until `resume()`. */
  onResult(value: TOut): boolean;
  /** The run failed (a task, a timeout, the source) or `options.signal` aborted: called once, at once; results not yet delivered are dropped. */
  onError(error: unknown): void;
  /** The source is done and every result was delivered. */
  onDone(): void;
  /** Pushed input only: the run takes items again after `write()` returned false. */
  onReady(): void;
}

export interface RunConfig<TItem> {
  /** Where items come from; undefined when they are pushed with `write()`. */
  readonly iterator: Iterator<TItem> | AsyncIterator<TItem> | undefined;
  readonly isAsync: boolean;
  /** A number, or `adaptive()`: it starts at its `initial` and changes as its controller decides. */
  readonly limit: number | AdaptiveLimit;
  /** Call each item with this mapper; without one, items are tasks and are called themselves. */
  readonly mapper: Mapper<TItem, unknown> | undefined;
  /** Deliver failures as `Settled` records instead of failing fast. */
  readonly isSettledMode: boolean;
  readonly options: ResolvedOptions;
  /** Push mode: deliver to these callbacks instead of to `next()`. */
  readonly consumer?: RunConsumer<unknown> | undefined;
}

/**
 * The scheduler behind every `limited*` function: pulls the source only when a task may start,
 * keeps at most `limit` tasks running and at most `limit + buffer` started-but-unconsumed, and hands
 * results to the consumer in completion (or source) order. It is its own async iterator.
 */
export class LimitedRun<TItem, TOut> implements LimitedIterator<TOut> {
  readonly #iterator: Iterator<TItem> | AsyncIterator<TItem> | undefined;
  readonly #isAsync: boolean;
  /** Push mode: where results go. */
  readonly #consumer: RunConsumer<TOut> | undefined;
  /** Pushed input: items written and not started yet; `#isInputBlocked` when a `write()` returned false. */
  readonly #input: Queue<TItem> | undefined;
  #isInputEnded = false;
  #isInputBlocked = false;
  /** Push mode: the consumer said it can take no more results for now. */
  #isPaused = true;
  #limit: number;
  /** `limit: adaptive()`: decides the limit from each task's latency and outcome. */
  #adaptive: LimitController | undefined;
  readonly #buffer: number;
  /** `limit + buffer`: no start while running plus finished-but-unconsumed reach it. */
  #window: number;
  readonly #mapper: Mapper<TItem, unknown> | undefined;
  readonly #isSettledMode: boolean;
  readonly #isOrdered: boolean;
  readonly #timeout: number | undefined;
  readonly #signal: AbortSignal | undefined;
  /** The gates beyond `limit` and the window; undefined when their option is not set. */
  readonly #rateGate: RateGate | undefined;
  readonly #slotGate: SlotGate | undefined;
  readonly #retry: ResolvedRetry | undefined;
  readonly #keyOf: ((item: TItem, index: number) => unknown) | undefined;
  readonly #keyGate: KeyGate<Pending> | undefined;
  /** Any of the gates above (or `retry`) is set: the pump's plain path checks this one flag instead of each. */
  readonly #isGated: boolean;
  /** `retry`: attempts in backoff, and those whose backoff is over (they start before new items). */
  #backoffs: Set<Pending> | undefined;
  #retriesDue: Queue<Pending> | undefined;
  /** Attempts in backoff or due: they count toward the window, so failures cannot pile up without bound. */
  #retrying = 0;
  #retries = 0;

  #state = ACTIVE;
  #error: unknown;
  #isPumping = false;
  #source = IDLE;
  /** `drain()` was called: nothing new starts, the run ends once what runs has been delivered. */
  #isDraining = false;
  #isStopped = false;
  #stopReason: unknown;
  /** The listeners on `options.signal` and `slots.signal` are added on the first `next()`, so a run never iterated holds none. */
  #isStarted = false;
  /** A pump pass reached `STARTS_PER_PASS`: no start until the event loop has had a turn. */
  #isYielding = false;
  #cancelYield: (() => void) | undefined;

  #nextIndex = 0;
  #started = 0;
  #running = 0;
  /** Of `#running`: tasks that timed out and have not settled yet. */
  #timedOutRunning = 0;
  #completed = 0;
  #failed = 0;
  /** Finished results not yet handed to the consumer (in `#results`, or held back by ordering). */
  #buffered = 0;

  readonly #results = new Queue<IteratorResult<TOut>>();
  /** Pending `next()` calls: their resolve functions, and their reject functions in the same order (two queues, no object per call). */
  readonly #waiters = new Queue<(result: IteratorResult<TOut>) => void>();
  readonly #rejecters = new Queue<(reason: unknown) => void>();
  /** Ordered mode: holds back results until their turn. */
  readonly #ordered: OrderedDelivery<IteratorResult<TOut>> | undefined;

  /** In-flight tasks that own a signal or a timer: what a stop must abort. */
  readonly #live = new Set<Context>();
  /** `rate`: an item pulled while the window was full, started when it opens. */
  #heldItem: TItem | undefined;
  /** With `key` or for a retry: what the held item is (its index, key and attempt). */
  #heldPending: Pending | undefined;
  #isHolding = false;

  constructor(config: RunConfig<TItem>) {
    const { options } = config;
    this.#iterator = config.iterator;
    this.#isAsync = config.isAsync;
    this.#consumer = config.consumer as RunConsumer<TOut> | undefined;
    if (config.iterator === undefined) this.#input = new Queue<TItem>();
    if (isAdaptive(config.limit)) {
      this.#adaptive = createController(config.limit, this.#resize);
      this.#limit = config.limit.initial;
    } else {
      this.#limit = config.limit;
    }
    this.#buffer = options.buffer;
    this.#window = options.window;
    this.#mapper = config.mapper;
    this.#isSettledMode = config.isSettledMode;
    this.#isOrdered = options.ordered;
    this.#timeout = options.timeout;
    this.#signal = options.signal;
    if (this.#isOrdered) this.#ordered = new OrderedDelivery();
    if (options.rate !== undefined) this.#rateGate = new RateGate(options.rate, () => this.#pump());
    if (options.slots !== undefined) this.#slotGate = new SlotGate(options.slots, this.#slotHost);
    this.#retry = options.retry;
    if (options.key !== undefined) {
      this.#keyOf = options.key as (item: TItem, index: number) => unknown;
      this.#keyGate = new KeyGate(options.perKey, options.lookahead ?? this.#limit);
    }
    if (this.#retry !== undefined) {
      this.#backoffs = new Set();
      this.#retriesDue = new Queue();
    }
    this.#isGated =
      this.#rateGate !== undefined ||
      this.#slotGate !== undefined ||
      this.#keyGate !== undefined ||
      this.#retry !== undefined;
    if (this.#signal?.aborted === true) this.#abort(this.#signal.reason);
    else if (this.#slotGate?.signal?.aborted === true) this.#fail(this.#slotGate.signal.reason);
    // Push mode has no first next(): a stream stage must hear an abort while nobody reads it.
    else if (this.#consumer !== undefined) this.#begin();
  }

  /** The first `next()`: listen to the signals now (they may have aborted since the run was made). */
  #begin(): void {
    this.#isStarted = true;
    const signal = this.#signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#abort(signal.reason);
        return;
      }
      signal.addEventListener('abort', this.#onAbort);
    }
    const slotsSignal = this.#slotGate?.signal;
    if (slotsSignal !== undefined) {
      if (slotsSignal.aborted) this.#fail(slotsSignal.reason);
      else slotsSignal.addEventListener('abort', this.#onSlotsAbort);
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  get stats(): LimitedStats {
    return {
      limit: this.#limit,
      started: this.#started,
      running: this.#running,
      timedOutRunning: this.#timedOutRunning,
      completed: this.#completed,
      failed: this.#failed,
      buffered: this.#buffered,
      waiting: (this.#isHolding ? 1 : 0) + (this.#keyGate?.waiting ?? 0),
      retrying: this.#retrying,
      retries: this.#retries,
    };
  }

  /**
   * Changes `limit` from now on. Raising it starts tasks at once (as far as the other bounds allow);
   * lowering it starts nothing new until fewer than the new limit run (running tasks are not
   * stopped). The window moves with it: `limit + buffer`, `buffer` keeping the value it had.
   */
  setLimit(limit: number | AdaptiveLimit): void {
    const initial = initialLimit(limit);
    // A number fixes the limit from now on; `adaptive()` starts a new controller at its `initial`.
    this.#adaptive = isAdaptive(limit) ? createController(limit, this.#resize) : undefined;
    this.#resize(initial);
    // Before the first next() nothing starts: the run stays lazy until it is read.
    if (this.#state === ACTIVE && this.#isStarted) this.#pump();
  }

  /** The one path that changes the limit (`setLimit` and an adaptive controller); the caller pumps. */
  readonly #resize = (limit: number): void => {
    this.#limit = limit;
    this.#window = limit + this.#buffer - this.#retrying;
  };

  /** An adaptive limit hears how a task went; a throwing `isOverload` or `onLimitChange` fails the run. */
  #sample(context: Context, isFailed: boolean, value: unknown): void {
    if (this.#state !== ACTIVE || context.startedAt === undefined) return;
    try {
      this.#adaptive!.sample(context.startedAt, this.#running, isFailed, value);
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Changes `perKey` from now on, for every key (a number: a `perKey` function is replaced). Raising
   * it starts waiting items of the keys that have room at once; lowering it starts nothing new of a
   * key until fewer than the new value of it run. A TypeError for a run without `key`.
   */
  setPerKey(perKey: number): void {
    validateLimit(perKey, 'perKey');
    if (this.#keyGate === undefined)
      throw new TypeError('Expected a run made with `options.key` to change `perKey`, got a run without `options.key`');
    this.#keyGate.setPerKey(perKey);
    if (this.#state === ACTIVE && this.#isStarted) this.#pump();
  }

  /**
   * Ends the run gracefully: nothing new is pulled or started (the source's `return()` is called at
   * once, or as soon as a pending pull settles), the tasks running finish and their results are
   * delivered, then the run ends normally. Unlike `return()`, no signal aborts.
   */
  drain(): void {
    if (this.#state !== ACTIVE || this.#isDraining) return;
    this.#isDraining = true;
    // A retry held for the rate window is work in flight: it stays. A new item held there is dropped.
    if (this.#isHolding && !(this.#heldPending !== undefined && this.#heldPending.attempt > 1)) {
      if (this.#heldPending === undefined) observeDropped(this.#heldItem);
      else this.#dropOnDrain(this.#heldPending);
      if (this.#keyGate !== undefined) this.#keyGate.release(this.#keyGate.heldState(this.#heldPending!.key));
      this.#isHolding = false;
      this.#heldItem = undefined;
      this.#heldPending = undefined;
    }
    // Items waiting for their key have not started: they are dropped. Retries waiting for it are work in flight: kept.
    this.#keyGate?.clearWaiting(this.#keepRetries);
    this.#slotGate?.drop();
    this.#isInputEnded = true;
    void this.#closeSource();
    if (this.#isInputBlocked) {
      // Pushed input: the items written and not started were dropped; a writer waiting for room hears it is free (what it writes now is dropped too).
      this.#isInputBlocked = false;
      this.#consumer!.onReady();
    }
    this.#pump();
  }

  next(): Promise<IteratorResult<TOut>> {
    if (this.#results.size > 0) {
      const result = this.#results.shift();
      this.#buffered--;
      if (this.#state === ACTIVE) this.#pump();
      return Promise.resolve(result);
    }
    // No result can be waiting before the first next(), so this is always reached by it.
    if (!this.#isStarted && this.#state === ACTIVE) this.#begin();
    if (this.#state === FAILING) {
      this.#state = DONE;
      return Promise.reject(this.#error);
    }
    if (this.#state === DONE) return Promise.resolve({ value: undefined, done: true });
    return new Promise<IteratorResult<TOut>>((resolve, reject) => {
      this.#waiters.push(resolve);
      this.#rejecters.push(reject);
      this.#pump();
    });
  }

  /**
   * Stops early: nothing new starts, in-flight tasks' signals abort, and the source's `return()` is
   * called (awaited, so a generator's `finally` has run, unless a pull from it is still pending).
   * In-flight tasks are not awaited.
   */
  return(value?: unknown): Promise<IteratorResult<TOut>> {
    const done = { value, done: true } as IteratorResult<TOut>;
    if (this.#state === DONE) return Promise.resolve(done);
    this.#state = DONE;
    this.#discardResults();
    // options.signal may have aborted before the run heard of it (another listener on it stopped the
    // consumer first): its reason is then the reason the tasks see, whichever listener ran first.
    const signal = this.#signal;
    const closing = this.#stop(signal?.aborted === true ? signal.reason : earlyExitReason());
    while (this.#waiters.size > 0) this.#resolveWaiter({ value: undefined, done: true });
    return closing === undefined ? Promise.resolve(done) : closing.then(() => done);
  }

  /** Pushed input: takes `item`; false when it waits for a free slot (`onReady()` follows once it is taken). */
  write(item: TItem): boolean {
    const input = this.#input!;
    if (this.#state !== ACTIVE || this.#isInputEnded) return true;
    input.push(item);
    this.#pump();
    if (input.size === 0) return true;
    this.#isInputBlocked = true;
    return false;
  }

  /** Pushed input: no more items; the run ends once those written have settled and were delivered. */
  end(): void {
    this.#isInputEnded = true;
    this.#pump();
  }

  /** Push mode: the consumer can take results again. */
  resume(): void {
    // Called on every read of a stream that is flowing anyway: nothing to do unless paused.
    if (!this.#isPaused) return;
    this.#isPaused = false;
    const consumer = this.#consumer!;
    while (this.#results.size > 0 && this.#state === ACTIVE) {
      this.#buffered--;
      if (!consumer.onResult(this.#results.shift().value as TOut)) {
        this.#isPaused = true;
        break;
      }
    }
    if (this.#state === ACTIVE) this.#pump();
  }

  /**
   * Stops early as `return()` does, then rejects with `error`: what `yield*` delegation calls when
   * the outer generator is thrown into.
   */
  throw(error?: unknown): Promise<IteratorResult<TOut>> {
    return this.return().then(() => Promise.reject(error));
  }

  #pump(): void {
    if (this.#isPumping) return;
    this.#isPumping = true;
    let starts = 0;
    try {
      while (
        this.#isActive() &&
        this.#hasFreeSlot() &&
        (this.#isGated ? this.#gatesMayStart() : this.#hasRoomInWindow() && this.#source === IDLE)
      ) {
        if (starts === STARTS_PER_PASS) {
          this.#yieldToEventLoop();
          break;
        }
        if (this.#isGated) {
          const step = this.#startWaiting();
          if (step === BLOCKED) break;
          if (step === STARTED) {
            starts++;
            continue;
          }
        }
        if (this.#input !== undefined) {
          if (!this.#takeInput(this.#input)) break;
          starts++;
          continue;
        }
        if (this.#isAsync) {
          this.#pullAsync();
          break;
        }
        let isDone: boolean;
        let item: TItem | undefined;
        // Counted as a pull so that a stop from inside next() (the generator aborts options.signal, say)
        // defers closing the source until next() returns: a running generator cannot be return()ed.
        this.#source = PULLING;
        try {
          const step = (this.#iterator as Iterator<TItem>).next();
          if (!isStep(step)) throw notAStep(step);
          // Read here, as for-of does: a `done` or `value` getter that throws is the source failing.
          isDone = Boolean(step.done);
          if (!isDone) item = step.value;
        } catch (error) {
          // An iterator whose next() threw is finished: it must not be return()ed.
          this.#source = EXHAUSTED;
          this.#fail(error);
          break;
        }
        if (isDone) {
          this.#source = EXHAUSTED;
          this.#slotGate?.drop();
          break;
        }
        this.#source = IDLE;
        if (this.#state !== ACTIVE || this.#isDraining) {
          // The run stopped or drains since next() began: the item is dropped, and the deferred close happens now.
          observeDropped(item);
          this.#closeSource();
          break;
        }
        if (this.#isGated) {
          if (!this.#admit(item as TItem)) break;
        } else {
          this.#start(item as TItem);
        }
        starts++;
      }
    } finally {
      this.#isPumping = false;
    }
    this.#checkDone();
  }

  /**
   * With any of `slots`, `rate`, `key` or `retry`: a start that is waiting already goes first (a
   * held item, a due retry, an item whose key has room), after the slot gate said yes. PULL when
   * none waits and the source may be pulled.
   */
  #startWaiting(): typeof STARTED | typeof PULL | typeof BLOCKED {
    // The slot comes first: a rate token taken while waiting for it would start the task later than recorded.
    if (this.#slotGate !== undefined && !this.#slotGate.allowStart()) return BLOCKED;
    // A held item first: it already has its place (and its key's slot).
    if (this.#isHolding) {
      if (!this.#rateGate!.tryTake()) return BLOCKED;
      const item = this.#heldItem as TItem;
      const pending = this.#heldPending;
      this.#isHolding = false;
      this.#heldItem = undefined;
      this.#heldPending = undefined;
      this.#start(item, pending);
      return STARTED;
    }
    if (this.#hasPendingDue()) {
      const retry = this.#retriesDue!.shift();
      this.#retrying--;
      this.#window++;
      this.#retries++;
      // Its key is full again: it waits for it like a pulled item (counted as a start of this pass all the same).
      if (this.#keyGate === undefined || this.#keyGate.admit(retry.key, retry))
        this.#startOrHold(retry.item as TItem, retry);
      return STARTED;
    }
    if (this.#hasReadyKey()) {
      const pending = this.#keyGate!.takeReady();
      this.#startOrHold(pending.item as TItem, pending);
      return STARTED;
    }
    return this.#mayPull() ? PULL : BLOCKED;
  }

  /** With gates: a pulled item takes its key's slot (or waits for it), or is held for the rate window (false). */
  #admit(item: TItem): boolean {
    if (this.#keyGate !== undefined) {
      this.#admitKeyed(item);
      return true;
    }
    if (this.#rateGate !== undefined && !this.#rateGate.tryTake()) {
      this.#hold(item);
      return false;
    }
    this.#start(item);
    return true;
  }

  // The start rule, one named condition each. Methods, not getters: V8 (Node 20) does not inline
  // private getters, and as getters they cost this loop ~15% at a task's scale.
  #isActive(): boolean {
    return this.#state === ACTIVE && !this.#isYielding;
  }

  /** With gates: room for a new item (window, source, look-ahead, a held one) or a start waiting already. */
  #gatesMayStart(): boolean {
    return (this.#hasRoomInWindow() && (this.#mayPull() || this.#isHolding)) || this.#hasStartWaiting();
  }

  /** `retry`: an attempt's backoff is over; it starts before new items. */
  #hasPendingDue(): boolean {
    return this.#retriesDue !== undefined && this.#retriesDue.size > 0;
  }

  /** No pull is pending and the source is neither done nor closed. */
  #mayPull(): boolean {
    return this.#source === IDLE && (this.#keyGate === undefined || this.#keyGate.hasRoom());
  }

  /** Fewer than `limit` tasks run. */
  #hasFreeSlot(): boolean {
    return this.#running < this.#limit;
  }

  /**
   * Running, retrying and finished-but-unconsumed are fewer than `limit + buffer`: a slow consumer
   * holds back the work. (`#window` is lowered by one per attempt in backoff.)
   */
  #hasRoomInWindow(): boolean {
    return this.#running + this.#buffered < this.#window;
  }

  /** Pushed input's pull: starts (or, for `rate`, holds) the next written item; false when there is none. */
  #takeInput(input: Queue<TItem>): boolean {
    if (input.size === 0) {
      if (this.#isInputEnded) {
        this.#source = EXHAUSTED;
        this.#slotGate?.drop();
      }
      return false;
    }
    const item = input.shift();
    if (this.#isGated) this.#admit(item);
    else this.#start(item);
    if (input.size === 0 && this.#isInputBlocked) {
      this.#isInputBlocked = false;
      this.#consumer!.onReady();
    }
    return !this.#isHolding;
  }

  /**
   * An endless sync source with room for every item (`limit: Infinity`, say) would otherwise be
   * pulled and started in one synchronous pass forever. A macrotask, so that I/O and timers run too.
   */
  #yieldToEventLoop(): void {
    this.#isYielding = true;
    const resume = (): void => {
      this.#cancelYield = undefined;
      this.#isYielding = false;
      this.#pump();
    };
    // setImmediate where there is one (Node, Bun, Deno): setTimeout(0) waits at least 1 ms in Node.
    const host = globalThis as {
      setImmediate?: (callback: () => void) => unknown;
      clearImmediate?: (handle: unknown) => void;
    };
    if (typeof host.setImmediate === 'function' && typeof host.clearImmediate === 'function') {
      const { clearImmediate } = host;
      const handle = host.setImmediate(resume);
      this.#cancelYield = () => clearImmediate(handle);
    } else {
      const handle = setTimeout(resume, 0);
      this.#cancelYield = () => clearTimeout(handle);
    }
  }

  #pullAsync(): void {
    this.#source = PULLING;
    let pulled: Promise<IteratorResult<TItem>>;
    try {
      pulled = (this.#iterator as AsyncIterator<TItem>).next();
    } catch (error) {
      this.#source = EXHAUSTED;
      this.#fail(error);
      return;
    }
    Promise.resolve(pulled).then(this.#onPulled, this.#onPullFailed);
  }

  readonly #onPulled = (step: IteratorResult<TItem>): void => {
    let isDone: boolean;
    let item: TItem | undefined;
    try {
      if (!isStep(step)) throw notAStep(step);
      isDone = Boolean(step.done);
      if (!isDone) item = step.value;
    } catch (error) {
      this.#onPullFailed(error);
      return;
    }
    if (isDone) {
      this.#source = EXHAUSTED;
      this.#slotGate?.drop();
    } else {
      this.#source = IDLE;
    }
    if (this.#state !== ACTIVE || this.#isDraining) {
      // The run stopped or drains since this pull began: the item is dropped, and the deferred close happens now.
      if (!isDone) observeDropped(item);
      this.#closeSource();
      this.#checkDone();
      return;
    }
    if (!isDone) {
      if (this.#isGated) this.#admit(item as TItem);
      else this.#start(item as TItem);
    }
    this.#pump();
  };

  /**
   * With `rate`, an item is pulled as soon as a slot is free and waits here for the window (at most
   * one at a time): taking the token before pulling would keep a finished source from ending the run
   * until the next window opened.
   */
  #hold(item: TItem, pending?: Pending): void {
    this.#heldItem = item;
    this.#heldPending = pending;
    this.#isHolding = true;
  }

  /** Starts `item` now, or holds it for the rate window. */
  #startOrHold(item: TItem, pending: Pending): void {
    if (this.#rateGate !== undefined && !this.#rateGate.tryTake()) this.#hold(item, pending);
    else this.#start(item, pending);
  }

  readonly #keepRetries = (pending: Pending): boolean => pending.attempt > 1 || this.#dropOnDrain(pending);

  /** drain(): an item that had its index (it waited for its key) never starts; ordered delivery moves past it. */
  #dropOnDrain(pending: Pending): boolean {
    observeDropped(pending.item);
    if (this.#ordered !== undefined) this.#placeInOrder(pending.index, HOLE);
    return false;
  }

  /** `key`: a pulled item takes a slot of its key and starts (or holds for `rate`), or waits in the look-ahead for its key. */
  #admitKeyed(item: TItem): void {
    const index = this.#nextIndex++;
    let key: unknown;
    let keyState: KeyState<Pending> | undefined;
    try {
      key = this.#keyOf!(item, index);
      keyState = this.#keyGate!.tryTake(key);
      if (keyState === undefined) {
        // Only an item that waits is given a record: most start at once.
        this.#keyGate!.wait(key, { item, index, attempt: 1, key, timer: undefined });
        return;
      }
    } catch (error) {
      // A key function (or perKey function) that throws fails the run, as the source throwing would.
      this.#fail(error);
      return;
    }
    if (this.#rateGate !== undefined && !this.#rateGate.tryTake())
      this.#hold(item, { item, index, attempt: 1, key, timer: undefined });
    else this.#start(item, undefined, index, key, keyState);
  }

  /**
   * A start that was pulled (or failed) already is waiting: a due retry, an item whose key has room
   * again, or one of those held for the rate window. Only `limit` (and the gates) hold it back, not
   * the window: it is counted in memory already (`retrying` in the window, the rest in the
   * look-ahead), and in ordered mode the results filling the window may be waiting for it.
   */
  #hasStartWaiting(): boolean {
    return this.#hasPendingDue() || this.#hasReadyKey() || (this.#isHolding && this.#heldPending !== undefined);
  }

  /** `key`: an item whose key now has room is waiting. */
  #hasReadyKey(): boolean {
    return this.#keyGate?.hasReady() === true;
  }

  readonly #onPullFailed = (error: unknown): void => {
    this.#source = EXHAUSTED;
    this.#fail(error);
  };

  /** Starts `item`: a new one, a `retry` (or any waiting start) with its record, or a keyed one that had its index and key already. */
  #start(item: TItem, retry?: Pending, keyedIndex?: number, key?: unknown, keyState?: KeyState<Pending>): void {
    const index = retry !== undefined ? retry.index : keyedIndex !== undefined ? keyedIndex : this.#nextIndex++;
    const mapper = this.#mapper;
    if (mapper === undefined && typeof item !== 'function') {
      this.#fail(
        new TypeError(`Expected every item of \`tasks\` to be a function, got ${describe(item)} at index ${index}`),
      );
      return;
    }
    const context = new Context(index, this as LimitedRun<unknown, unknown>);
    if (this.#slotGate !== undefined) context.slot = this.#slotGate.take();
    if (retry !== undefined) {
      context.pendingAttempt = retry.attempt;
      context.key = retry.key;
      if (this.#keyGate !== undefined) context.keyState = this.#keyGate.heldState(retry.key);
    } else if (keyedIndex !== undefined) {
      context.key = key;
      context.keyState = keyState;
    }
    if (this.#retry !== undefined) context.item = item;
    if (this.#timeout !== undefined) {
      context.startTimer(this.#timeout, this.#onTimeout);
      this.#live.add(context);
    }
    this.#started++;
    this.#running++;
    if (this.#adaptive !== undefined) context.startedAt = this.#adaptive.now();
    let value: unknown;
    // Everything that runs user code is inside the try: a thenable whose `then` throws (a getter, an
    // override) fails its task as `await` would, instead of leaving it running forever.
    try {
      if (mapper === undefined) value = (item as (context: TaskContext) => unknown)(context);
      else if (isThenable(item)) value = this.#mapWhenResolved(item, mapper, context);
      else value = mapper(item, context);
      if (isThenable(value)) {
        const onFulfilled = (result: unknown) => this.#settle(context, true, result);
        const onRejected = (error: unknown) => this.#settle(context, false, error);
        // A foreign thenable may call back synchronously or twice; Promise.resolve() tames it.
        if (value instanceof Promise) value.then(onFulfilled, onRejected);
        else Promise.resolve(value).then(onFulfilled, onRejected);
        return;
      }
    } catch (error) {
      this.#settle(context, false, error);
      return;
    }
    this.#settle(context, true, value);
  }

  /** An item that is a promise is awaited before the mapper, as p-map does; its rejection is the item's failure. */
  #mapWhenResolved(item: PromiseLike<unknown>, mapper: Mapper<TItem, unknown>, context: Context): Promise<unknown> {
    return Promise.resolve(item).then((resolved) =>
      // Stopped or timed out meanwhile: the outcome is dropped either way, so the mapper is not called.
      this.#isStopped || context.isTimedOut ? undefined : mapper(resolved as TItem, context),
    );
  }

  #settle(context: Context, isFulfilled: boolean, value: unknown): void {
    // False when it already settled: a hostile thenable called back twice.
    if (!context[kSettle]()) return;
    if (this.#live.size > 0) this.#live.delete(context);
    // A timed-out task was sampled at its deadline.
    if (this.#adaptive !== undefined && context.isTimedOut !== true) this.#sample(context, !isFulfilled, value);
    this.#running--;
    if (this.#keyGate !== undefined) this.#keyGate.release(context.keyState!);
    // The counter first: runs without a timed-out task never look up the (usually absent) field.
    if (this.#timedOutRunning > 0 && context.isTimedOut === true) {
      // Its outcome went out at the deadline; only now is its slot free.
      this.#timedOutRunning--;
      this.#slotGate?.release(context.slot, { error: new TimeoutError(context.index, this.#timeout!) });
      this.#pump();
      return;
    }
    if (!isFulfilled && this.#retry !== undefined && this.#state === ACTIVE && this.#retryLater(context, value)) {
      // Its slot is free during the backoff.
      this.#slotGate?.release(context.slot, { error: value });
      this.#pump();
      return;
    }
    if (isFulfilled) this.#completed++;
    else this.#failed++;
    if (this.#state !== ACTIVE) {
      // The task was in flight at the stop: record it, so a later first read of its signal sees the abort.
      if (this.#isStopped) context[kAbort](this.#stopReason);
      this.#slotGate?.release(context.slot);
      // Late results are dropped; their rejections were handled here, so none is unhandled.
      return;
    }
    this.#outcome(context.index, isFulfilled, value, context.pendingAttempt);
    // After the outcome: a release that throws fails the run, but the result already earned is delivered first.
    this.#slotGate?.release(context.slot, isFulfilled ? undefined : { error: value });
    this.#pump();
  }

  /** `retry`: schedules the next attempt of a failed one; false when it is not retried (its failure stands). */
  #retryLater(context: Context, error: unknown): boolean {
    const attempt = context.attempt;
    let delay: number | undefined;
    try {
      delay = retryDelay(this.#retry!, error, attempt);
    } catch (thrown) {
      // A shouldPending or retryDelay that throws fails the run with what it threw.
      this.#failed++;
      this.#fail(thrown);
      return true;
    }
    if (delay === undefined) return false;
    const retry: Pending = {
      item: context.item,
      index: context.index,
      attempt: attempt + 1,
      key: context.key,
      timer: undefined,
    };
    this.#retrying++;
    // Counted in the window while it waits (the window shrinks rather than the hot check growing a term).
    this.#window--;
    this.#backoffs!.add(retry);
    retry.timer = setTimeout(this.#onBackoffOver, delay, retry);
    return true;
  }

  readonly #onBackoffOver = (retry: Pending): void => {
    this.#backoffs!.delete(retry);
    this.#retriesDue!.push(retry);
    this.#pump();
  };

  /** Delivers a task's outcome (while the run is active): a result, a `Settled` record, nothing (`skip`), or fail fast. */
  #outcome(index: number, isFulfilled: boolean, value: unknown, attempt?: number): void {
    let result: IteratorResult<TOut>;
    if (isFulfilled && value === skip) {
      if (this.#ordered !== undefined) this.#placeInOrder(index, HOLE);
      return;
    } else if (this.#isSettledMode) {
      const settled = isFulfilled
        ? { status: 'fulfilled' as const, value, index }
        : this.#retry === undefined
          ? { status: 'rejected' as const, reason: value, index }
          : { status: 'rejected' as const, reason: value, index, attempts: attempt ?? 1 };
      result = { value: settled as TOut, done: false };
    } else if (isFulfilled) {
      result = { value: value as TOut, done: false };
    } else {
      this.#fail(value);
      return;
    }
    if (this.#ordered === undefined) this.#deliver(result);
    else this.#placeInOrder(index, result);
  }

  /** Ordered mode: delivers `result` and the held-back ones after it if it is next, else holds it back. */
  #placeInOrder(index: number, result: IteratorResult<TOut> | typeof HOLE): void {
    const ordered = this.#ordered!;
    // Held-back results count as buffered: they are finished and not consumed.
    const heldBefore = ordered.size;
    ordered.place(index, result, this.#deliverInOrder);
    this.#buffered += ordered.size - heldBefore;
  }

  readonly #deliverInOrder = (result: IteratorResult<TOut>): void => {
    this.#deliver(result);
  };

  #deliver(result: IteratorResult<TOut>): void {
    if (this.#consumer !== undefined) {
      if (this.#isPaused) {
        this.#results.push(result);
        this.#buffered++;
      } else if (!this.#consumer.onResult(result.value as TOut)) {
        this.#isPaused = true;
      }
    } else if (this.#waiters.size > 0) {
      this.#resolveWaiter(result);
    } else {
      this.#results.push(result);
      this.#buffered++;
    }
  }

  /** Fail fast: a task failed, the source threw, or it yielded a non-function. */
  #fail(error: unknown): void {
    if (this.#state !== ACTIVE) return;
    this.#state = FAILING;
    this.#error = error;
    // Results that finished before the failure are still delivered; in ordered mode only those
    // before the first gap can be, so the ones held back behind it are dropped.
    if (this.#ordered !== undefined) {
      this.#buffered -= this.#ordered.size;
      this.#ordered.clear();
    }
    void this.#stop(failFastReason(error));
    if (this.#consumer !== undefined) this.#report(error);
    else this.#drain();
  }

  /** `options.signal` aborted: the pending or next `next()` rejects with its reason, results not yet consumed are dropped. */
  #abort(reason: unknown): void {
    if (this.#state !== ACTIVE) return;
    this.#state = FAILING;
    this.#error = reason;
    this.#discardResults();
    void this.#stop(reason);
    if (this.#consumer !== undefined) this.#report(reason);
    else this.#drain();
  }

  /** Push mode: a failure is delivered at once, and what was not delivered yet is dropped. */
  #report(error: unknown): void {
    this.#state = DONE;
    this.#discardResults();
    this.#input?.clear();
    this.#consumer!.onError(error);
  }

  readonly #onAbort = (): void => {
    this.#abort(this.#signal!.reason);
  };

  /** Hands waiting consumers what is left after a failure: buffered results first, then the error once. */
  #drain(): void {
    while (this.#waiters.size > 0) {
      if (this.#results.size > 0) {
        this.#buffered--;
        this.#resolveWaiter(this.#results.shift());
      } else if (this.#state === FAILING) {
        this.#state = DONE;
        this.#rejectWaiter(this.#error);
      } else {
        this.#resolveWaiter({ value: undefined, done: true });
      }
    }
  }

  #resolveWaiter(result: IteratorResult<TOut>): void {
    this.#rejecters.shift();
    this.#waiters.shift()(result);
  }

  #rejectWaiter(reason: unknown): void {
    this.#waiters.shift();
    this.#rejecters.shift()(reason);
  }

  #checkDone(): void {
    if (
      this.#state !== ACTIVE ||
      this.#source < EXHAUSTED ||
      // Timed-out tasks count: a run is over only when nothing it started still runs.
      this.#running > 0 ||
      this.#retrying > 0 ||
      this.#isHolding ||
      (this.#keyGate !== undefined && this.#keyGate.waiting > 0) ||
      this.#results.size > 0 ||
      (this.#slotGate !== undefined && this.#slotGate.releasing > 0)
    ) {
      return;
    }
    this.#state = DONE;
    this.#release();
    if (this.#consumer !== undefined) this.#consumer.onDone();
    while (this.#waiters.size > 0) this.#resolveWaiter({ value: undefined, done: true });
  }

  #discardResults(): void {
    this.#results.clear();
    this.#ordered?.clear();
    this.#buffered = 0;
  }

  /** Stops all work: abort in-flight tasks, close the source, drop timers and listeners. */
  #stop(reason: unknown): Promise<void> | undefined {
    if (this.#isStopped) return undefined;
    this.#isStopped = true;
    this.#stopReason = reason;
    for (const context of this.#live) context[kAbort](reason);
    this.#live.clear();
    if (this.#isHolding) {
      // The item waiting for a rate window will never start.
      observeDropped(this.#heldItem);
      this.#isHolding = false;
      this.#heldItem = undefined;
      this.#heldPending = undefined;
    }
    // Items waiting for their key will never start either.
    this.#keyGate?.clearWaiting(dropPending);
    this.#slotGate?.stop(reason);
    this.#release();
    return this.#closeSource();
  }

  /** Drops what the run holds outside itself: its timers and the listeners on `options.signal` and `slots.signal`. */
  #release(): void {
    if (this.#cancelYield !== undefined) {
      this.#cancelYield();
      this.#cancelYield = undefined;
    }
    this.#rateGate?.stop();
    if (this.#backoffs !== undefined) {
      for (const retry of this.#backoffs) clearTimeout(retry.timer);
      this.#backoffs.clear();
      this.#retriesDue!.clear();
      this.#retrying = 0;
    }
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#slotGate?.signal?.removeEventListener('abort', this.#onSlotsAbort);
  }

  /** Calls the source's `return()` so it frees its resources (a generator's `finally` runs). */
  #closeSource(): Promise<void> | undefined {
    // A pending pull is not interrupted: #onPulled closes the source once it settles.
    if (this.#source !== IDLE) return undefined;
    this.#source = CLOSED;
    const iterator = this.#iterator;
    this.#input?.clear();
    if (iterator === undefined) return undefined;
    // Errors while closing have nowhere useful to go: the run already has its outcome. Whatever
    // return() does (a throwing getter, a throw, a rejected promise even from a sync source) is
    // swallowed here, so nothing surfaces as unhandled.
    try {
      const close: unknown = iterator.return;
      if (typeof close !== 'function') return undefined;
      const closed: unknown = (close as (this: unknown) => unknown).call(iterator);
      if (this.#isAsync) return Promise.resolve(closed).then(ignore, ignore);
      if (isThenable(closed)) Promise.resolve(closed).then(ignore, ignore);
    } catch {
      // As above.
    }
    return undefined;
  }

  readonly #slotHost = {
    run: this as LimitedRun<TItem, TOut>,
    get isActive(): boolean {
      return this.run.#state === ACTIVE;
    },
    get room(): number {
      const run = this.run;
      return Math.min(run.#limit, run.#window - run.#buffered) - run.#running;
    },
    onSlot(): void {
      this.run.#pump();
    },
    onSlotError(error: unknown): void {
      this.run.#fail(error);
    },
    onReleased(): void {
      this.run.#checkDone();
    },
  };

  /** The slot source can no longer vouch for the slots it handed out: fail fast with its reason. */
  readonly #onSlotsAbort = (): void => {
    this.#fail(this.#slotGate!.signal!.reason);
  };

  /** A task read its signal: abort it with the others on a stop (at once if the run already stopped). */
  [kTrack](context: Context): void {
    if (this.#isStopped) context[kAbort](this.#stopReason);
    else this.#live.add(context);
  }

  /**
   * The outcome is a `TimeoutError` now and the task's signal aborts, but the task keeps its slot
   * (and its `slots` slot) until its promise settles: a task that ignores its signal still runs, and
   * the bound counts what runs.
   */
  readonly #onTimeout = (context: Context): void => {
    const error = new TimeoutError(context.index, this.#timeout!);
    context.isTimedOut = true;
    context[kAbort](error);
    this.#live.delete(context);
    this.#timedOutRunning++;
    this.#failed++;
    this.#outcome(context.index, false, error);
    if (this.#adaptive !== undefined) this.#sample(context, true, error);
    this.#pump();
  };
}
