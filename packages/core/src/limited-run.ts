import { TimeoutError, earlyExitReason, failFastReason } from './errors.js';
import { skip, type LimitedIterator, type LimitedStats, type Mapper, type TaskContext } from './options.js';
import { Queue } from './queue.js';
import type { KeyState } from './key-gate.js';
import { HOLE, OrderedDelivery } from './ordered-delivery.js';
import { ignore, isThenable, observeDropped } from './is-thenable.js';
import type { AdaptiveLimit } from './adaptive.js';
import { createController, initialLimit, isAdaptive, type LimitController } from './adaptive-limit.js';
import { BLOCKED, kFeature, STARTED, type GateHost, type Gates, type Pending } from './gates.js';
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

const kAbort = Symbol('abort');
const kSettle = Symbol('settle');
const kTrack = Symbol('track');
/** Pushed input's way to wake the run (see `PushInput` in internal.ts). */
export const kPump = Symbol('pump');
/** What pushed input's next() returns while nothing is written and the input has not ended. */
export const WAIT: IteratorResult<never> = { value: undefined as never, done: false };

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
  /** `perKey`: the state of the task's key in the key gate (whose slot it holds; the key is `keyState.key`). */
  declare keyState: KeyState<Pending> | undefined;
  /** An adaptive limit: when the task started (its clock). */
  declare startedAt: number | undefined;
  readonly #run: LimitedRun<unknown, unknown>;
  #controller: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #isSettled = false;
  /** Why the task was aborted, or `kAbort` (never a reason) until it is: one field for the flag and the reason. */
  #abortReason: unknown = kAbort;

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
      if (this.#abortReason !== kAbort) controller.abort(this.#abortReason);
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
    if (this.#abortReason !== kAbort) return;
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

/**
 * Makes a settled-mode outcome record (`attempts`: only with `retry`). Passed in by the settled
 * forms, so a bundle without them leaves it out.
 */
export type ToSettled = (isFulfilled: boolean, value: unknown, index: number, attempts: number | undefined) => unknown;

export interface RunConfig<TItem> {
  /** Where items come from (pushed input: a `PushInput`, which gives `WAIT` while nothing is written). */
  readonly iterator: Iterator<TItem> | AsyncIterator<TItem>;
  readonly isAsync: boolean;
  /** A number, or `adaptive()`: it starts at its `initial` and changes as its controller decides. */
  readonly limit: number | AdaptiveLimit;
  /** Call each item with this mapper; without one, items are tasks and are called themselves. */
  readonly mapper: Mapper<TItem, unknown> | undefined;
  /** Settled mode: deliver every outcome as the record this makes instead of failing fast. */
  readonly settled: ToSettled | undefined;
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
  readonly #iterator: Iterator<TItem> | AsyncIterator<TItem>;
  readonly #isAsync: boolean;
  /** Push mode: where results go. */
  readonly #consumer: RunConsumer<TOut> | undefined;
  /** Push mode: the consumer said it can take no more results for now. */
  #isPaused = true;
  #limit: number;
  /** `limit: adaptive()`: decides the limit from each task's latency and outcome. */
  #adaptive: LimitController | undefined;
  readonly #buffer: number;
  /** `limit + buffer`: no start while running plus finished-but-unconsumed reach it. */
  #window: number;
  readonly #mapper: Mapper<TItem, unknown> | undefined;
  readonly #settled: ToSettled | undefined;
  readonly #isOrdered: boolean;
  readonly #timeout: number | undefined;
  readonly #signal: AbortSignal | undefined;
  /**
   * The gates beyond `limit` and the window (`slots`, `rate`, `perKey`, `retry`), installed by their
   * options' values; undefined when none is set, and the pump's plain path checks only that.
   */
  readonly #gates: Gates | undefined;
  /** The gates decide about each pulled item (`Gates.admitsItems`); otherwise only their start and settle hooks run. */
  readonly #isAdmitting: boolean = false;

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
  /**
   * Pending `next()` calls, oldest first: `#waiting` of them. The oldest is in two fields (a `for await`
   * loop only ever has one pending, so it never touches the queue); the others' resolve and reject
   * functions in a queue, in pairs (no object per call).
   */
  #waiting = 0;
  #resolveFirst: ((result: IteratorResult<TOut>) => void) | undefined;
  #rejectFirst: ((reason: unknown) => void) | undefined;
  readonly #waiters = new Queue<((result: IteratorResult<TOut>) => void) | ((reason: unknown) => void)>();
  /** Ordered mode: holds back results until their turn. */
  readonly #ordered: OrderedDelivery<IteratorResult<TOut>> | undefined;

  /** In-flight tasks that own a signal or a timer: what a stop must abort. */
  readonly #live = new Set<Context>();

  constructor(config: RunConfig<TItem>) {
    const { options } = config;
    this.#iterator = config.iterator;
    this.#isAsync = config.isAsync;
    this.#consumer = config.consumer as RunConsumer<TOut> | undefined;
    if (isAdaptive(config.limit)) {
      this.#adaptive = createController(config.limit, this.#resize);
      this.#limit = config.limit.initial;
    } else {
      this.#limit = config.limit;
    }
    this.#buffer = options.buffer;
    this.#window = options.window;
    this.#mapper = config.mapper;
    this.#settled = config.settled;
    this.#isOrdered = options.ordered;
    this.#timeout = options.timeout;
    this.#signal = options.signal;
    if (this.#isOrdered) this.#ordered = new OrderedDelivery();
    const { features } = options;
    if (features !== undefined) {
      const host = this.#gateHost();
      let gates: Gates | undefined;
      for (const feature of features) gates = feature[kFeature](gates, host);
      this.#gates = gates;
      this.#isAdmitting = gates!.admitsItems;
    }
    if (this.#signal?.aborted === true) this.#abort(this.#signal.reason);
    else {
      const slotsSignal = this.#gates?.slots?.signal;
      if (slotsSignal?.aborted === true) this.#fail(slotsSignal.reason);
      // Push mode has no first next(): a stream stage must hear an abort while nobody reads it.
      else if (this.#consumer !== undefined) this.#begin();
    }
  }

  /** What the gates may ask of this run. */
  #gateHost(): GateHost {
    const run = this as LimitedRun<unknown, unknown>;
    return {
      get isActive(): boolean {
        return run.#state === ACTIVE;
      },
      limit: run.#limit,
      get room(): number {
        return Math.min(run.#limit, run.#window - run.#buffered) - run.#running;
      },
      pump: () => run.#pump(),
      fail: (error) => run.#fail(error),
      checkDone: () => run.#checkDone(),
      start: (item, index) => run.#start(item, index),
      nextIndex: () => run.#nextIndex++,
      skipIndex: (index) => {
        if (run.#ordered !== undefined) run.#placeInOrder(index, HOLE);
      },
      moveWindow: (delta) => {
        run.#window += delta;
      },
    };
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
    this.#gates?.begin();
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
      waiting: this.#gates?.waiting ?? 0,
      retrying: this.#gates?.retrying ?? 0,
      retries: this.#gates?.retries ?? 0,
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
    this.#window = limit + this.#buffer - (this.#gates?.retrying ?? 0);
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
    const keys = this.#gates?.keys;
    if (keys === undefined)
      throw new TypeError(
        'Expected a run made with `options.perKey` to change `perKey`, got a run without `options.perKey`',
      );
    keys.setPerKey(perKey);
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
    this.#gates?.drain();
    void this.#closeSource();
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
    return new Promise<IteratorResult<TOut>>(this.#wait);
  }

  /** A pending `next()`'s executor, made once per run rather than once per call. */
  readonly #wait = (resolve: (result: IteratorResult<TOut>) => void, reject: (reason: unknown) => void): void => {
    if (this.#waiting++ === 0) {
      this.#resolveFirst = resolve;
      this.#rejectFirst = reject;
    } else {
      this.#waiters.push(resolve);
      this.#waiters.push(reject);
    }
    this.#pump();
  };

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
    while (this.#waiting > 0) this.#resolveWaiter({ value: undefined, done: true });
    return closing === undefined ? Promise.resolve(done) : closing.then(() => done);
  }

  /** Pushed input (see `PushInput`): an item was written or the input ended. */
  [kPump](): void {
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
    const gates = this.#gates;
    try {
      while (
        this.#isActive() &&
        this.#hasFreeSlot() &&
        (gates === undefined
          ? this.#hasRoomInWindow() && this.#source === IDLE
          : gates.mayStart(this.#hasRoomInWindow(), this.#source === IDLE))
      ) {
        if (starts === STARTS_PER_PASS) {
          this.#yieldToEventLoop();
          break;
        }
        if (gates !== undefined) {
          const step = gates.startWaiting(this.#source === IDLE);
          if (step === BLOCKED) break;
          if (step === STARTED) {
            starts++;
            continue;
          }
        }
        if (this.#isAsync) {
          this.#pullAsync();
          break;
        }
        // Counted as a pull so that a stop from inside next() (the generator aborts options.signal, say)
        // defers closing the source until next() returns: a running generator cannot be return()ed.
        this.#source = PULLING;
        let step: unknown;
        try {
          step = (this.#iterator as Iterator<TItem>).next();
        } catch (error) {
          this.#onPullFailed(error);
          break;
        }
        if (step === WAIT) {
          // Pushed input with nothing written: the next write() pumps.
          this.#source = IDLE;
          break;
        }
        if (!this.#take(step)) break;
        starts++;
      }
    } finally {
      this.#isPumping = false;
    }
    this.#checkDone();
  }

  // The start rule, one named condition each. Methods, not getters: V8 (Node 20) does not inline
  // private getters, and as getters they cost this loop ~15% at a task's scale.
  #isActive(): boolean {
    return this.#state === ACTIVE && !this.#isYielding;
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
    const hasImmediate = typeof host.setImmediate === 'function';
    const handle = hasImmediate ? host.setImmediate!(resume) : setTimeout(resume, 0);
    this.#cancelYield = () => (hasImmediate ? host.clearImmediate! : clearTimeout)(handle as never);
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

  readonly #onPulled = (step: unknown): void => {
    this.#take(step);
    this.#pump();
  };

  /** The source failed (its next() threw or rejected, or gave no step): it is finished and must not be return()ed. */
  readonly #onPullFailed = (error: unknown): void => {
    this.#source = EXHAUSTED;
    this.#fail(error);
  };

  /**
   * A pull's step (sync or async): starts its item, or hands it to the gates (true when the pump may
   * go on), or the source is done, or the run stopped or drains since the pull began (the item is
   * dropped and the deferred close happens now).
   */
  #take(step: unknown): boolean {
    let isDone: boolean;
    let item: TItem | undefined;
    try {
      if (!isStep(step)) throw notAStep(step);
      // Read here, as for-of does: a `done` or `value` getter that throws is the source failing.
      isDone = Boolean((step as IteratorResult<TItem>).done);
      if (!isDone) item = (step as IteratorYieldResult<TItem>).value;
    } catch (error) {
      this.#onPullFailed(error);
      return false;
    }
    if (isDone) {
      this.#source = EXHAUSTED;
      this.#gates?.sourceDone();
      return false;
    }
    this.#source = IDLE;
    if (this.#state !== ACTIVE || this.#isDraining) {
      observeDropped(item);
      this.#closeSource();
      return false;
    }
    if (this.#isAdmitting) return this.#gates!.admit(item);
    this.#start(item, this.#nextIndex++);
    return true;
  }

  /** Starts `item` as `index` (a waiting start's record, or a keyed item's key, is with the gates). */
  #start(item: unknown, index: number): void {
    const mapper = this.#mapper;
    if (mapper === undefined && typeof item !== 'function') {
      this.#fail(
        new TypeError(`Expected every item of \`tasks\` to be a function, got ${describe(item)} at index ${index}`),
      );
      return;
    }
    const context = new Context(index, this as LimitedRun<unknown, unknown>);
    if (this.#gates !== undefined) this.#gates.onStart(context, item);
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
      else value = mapper(item as TItem, context);
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
    const gates = this.#gates;
    if (gates !== undefined) gates.onSettled(context);
    // The counter first: runs without a timed-out task never look up the (usually absent) field.
    if (this.#timedOutRunning > 0 && context.isTimedOut === true) {
      // Its outcome went out at the deadline; only now is its slot free.
      this.#timedOutRunning--;
      gates?.release(context, { error: new TimeoutError(context.index, this.#timeout!) });
      this.#pump();
      return;
    }
    if (
      !isFulfilled &&
      gates?.retry !== undefined &&
      this.#state === ACTIVE &&
      this.#retryLater(gates, context, value)
    ) {
      // Its slot is free during the backoff.
      gates.release(context, { error: value });
      this.#pump();
      return;
    }
    if (isFulfilled) this.#completed++;
    else this.#failed++;
    if (this.#state !== ACTIVE) {
      // The task was in flight at the stop: record it, so a later first read of its signal sees the abort.
      if (this.#isStopped) context[kAbort](this.#stopReason);
      gates?.release(context);
      // Late results are dropped; their rejections were handled here, so none is unhandled.
      return;
    }
    this.#outcome(context.index, isFulfilled, value, context);
    // After the outcome: a release that throws fails the run, but the result already earned is delivered first.
    gates?.release(context, isFulfilled ? undefined : { error: value });
    this.#pump();
  }

  /** `retry`: the next attempt of a failed one is scheduled (true), or its failure stands (false). */
  #retryLater(gates: Gates, context: Context, error: unknown): boolean {
    try {
      return gates.retryLater(context, error);
    } catch (thrown) {
      // A shouldRetry or retryDelay that throws fails the run with what it threw.
      this.#failed++;
      this.#fail(thrown);
      return true;
    }
  }

  /**
   * Delivers a task's outcome (while the run is active): a result, a `Settled` record, nothing
   * (`skip`), or fail fast. `settled` is the task's context when it settled (not at a timeout): with
   * `retry`, a settled record tells its attempt. Read only then: a plain task's context has no
   * attempt field, and reading a missing field costs a lookup on every settle.
   */
  #outcome(index: number, isFulfilled: boolean, value: unknown, settled?: Context): void {
    let result: IteratorResult<TOut>;
    if (isFulfilled && value === skip) {
      if (this.#ordered !== undefined) this.#placeInOrder(index, HOLE);
      return;
    } else if (this.#settled !== undefined) {
      const attempts = this.#gates?.retry === undefined ? undefined : (settled?.pendingAttempt ?? 1);
      result = { value: this.#settled(isFulfilled, value, index, attempts) as TOut, done: false };
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
    } else if (this.#waiting > 0) {
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
    this.#consumer!.onError(error);
  }

  readonly #onAbort = (): void => {
    this.#abort(this.#signal!.reason);
  };

  /** Hands waiting consumers what is left after a failure: buffered results first, then the error once. */
  #drain(): void {
    while (this.#waiting > 0) {
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
    const resolve = this.#resolveFirst!;
    this.#shiftWaiter();
    resolve(result);
  }

  #rejectWaiter(reason: unknown): void {
    const reject = this.#rejectFirst!;
    this.#shiftWaiter();
    reject(reason);
  }

  /** The oldest pending `next()` is answered: the next oldest moves up. */
  #shiftWaiter(): void {
    if (--this.#waiting === 0) {
      this.#resolveFirst = undefined;
      this.#rejectFirst = undefined;
    } else {
      this.#resolveFirst = this.#waiters.shift() as (result: IteratorResult<TOut>) => void;
      this.#rejectFirst = this.#waiters.shift() as (reason: unknown) => void;
    }
  }

  #checkDone(): void {
    if (
      this.#state !== ACTIVE ||
      this.#source < EXHAUSTED ||
      // Timed-out tasks count: a run is over only when nothing it started still runs.
      this.#running > 0 ||
      this.#results.size > 0 ||
      (this.#gates !== undefined && !this.#gates.isIdle)
    ) {
      return;
    }
    this.#state = DONE;
    this.#release();
    if (this.#consumer !== undefined) this.#consumer.onDone();
    while (this.#waiting > 0) this.#resolveWaiter({ value: undefined, done: true });
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
    this.#gates?.stop(reason);
    this.#release();
    return this.#closeSource();
  }

  /** Drops what the run holds outside itself: its timers and the listeners on `options.signal` and `slots.signal`. */
  #release(): void {
    if (this.#cancelYield !== undefined) {
      this.#cancelYield();
      this.#cancelYield = undefined;
    }
    this.#gates?.end();
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  /** Calls the source's `return()` so it frees its resources (a generator's `finally` runs). */
  #closeSource(): Promise<void> | undefined {
    // A pending pull is not interrupted: #onPulled closes the source once it settles.
    if (this.#source !== IDLE) return undefined;
    this.#source = CLOSED;
    const iterator = this.#iterator;
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
