/**
 * @lac/core/internal: the push-style way in and out of the scheduler, for the stream adapters
 * (`@lac/node-streams`, `@lac/web-streams`). **Internal**: not covered by semver, may change in any
 * release; applications should use `@lac/core`.
 *
 * It is the same engine as `limitedMap` and `limitedAsCompleted` (the same rules, options and
 * tests), without the async-iterator protocol on either side: items are handed over by a call
 * (`write()`, no promise per item when a slot is free), and results, the failure and the end go to
 * a {@link RunConsumer}'s callbacks the moment they exist. Backpressure: `write()` returns false
 * while the run cannot take more (`onReady()` follows), and `onResult()` returns false while the
 * consumer cannot (`resume()` when it can). Stop early with `return()`.
 *
 * @example
 * ```ts
 * const run = limitedMapPush(4, mapper, { onResult: (v) => push(v), onError, onDone, onReady }, options);
 * if (!run.write(item)) waitForReady();
 * run.end();
 * ```
 *
 * @packageDocumentation
 */
import { kPump, LimitedRun, WAIT, type RunConfig, type RunConsumer } from './limited-run.js';
import { observeDropped } from './is-thenable.js';
import { Queue } from './queue.js';
import type { LimitedStats, LimitOptions, Mapper, Task, TaskSource } from './options.js';
import type { AdaptiveLimit } from './adaptive.js';
import { initialLimit } from './adaptive-limit.js';
import { getIterator, resolveOptions, validateFunction } from './validate.js';

export type { RunConsumer } from './limited-run.js';

/** A run whose results go to a consumer. */
export interface ConsumedRun {
  readonly stats: LimitedStats;
  /** The consumer can take results again (after `onResult()` returned false, and to start: a run begins paused). */
  resume(): void;
  /**
   * Stops taking new work but finishes what runs: the source is closed (pushed input: items written
   * and not started are dropped, later writes too, and a blocked writer gets `onReady()`), running
   * tasks finish and their results go to `onResult()`, then `onDone()`. Nothing aborts.
   */
  drain(): void;
  /** Changes `limit` from now on, as `LimitedIterator.setLimit` does. */
  setLimit(limit: number): void;
  /** Changes `perKey` from now on, as `LimitedIterator.setPerKey` does (a run made with `options.perKey` only). */
  setPerKey(perKey: number): void;
  /** Stops early: nothing new starts, in-flight tasks' signals abort, the source (if any) is closed. No callback follows. */
  return(): Promise<unknown>;
}

/** A run fed by `write()` calls. */
export interface PushedRun<TInput> extends ConsumedRun {
  /** Hands over the next item; false when it must wait for a free slot (the consumer's `onReady()` follows once it is taken). */
  write(item: TInput): boolean;
  /** No more items: `onDone()` follows once those written have settled and were delivered. */
  end(): void;
}

/**
 * `limitedMap` with pushed input and pushed output: `mapper(item, context)` for each written item,
 * at most `limit` at once. Throws the same TypeErrors as `limitedMap` for bad arguments.
 */
export function limitedMapPush<TInput, TResult>(
  limit: number | AdaptiveLimit,
  mapper: Mapper<TInput, TResult>,
  consumer: RunConsumer<TResult>,
  options?: LimitOptions<TInput>,
): PushedRun<TInput> {
  const initial = initialLimit(limit);
  validateFunction(mapper, 'mapper');
  const resolved = resolveOptions(initial, options);
  return new PushedLimitedRun<TInput, TResult>({
    iterator: new PushInput<TInput>(consumer),
    isAsync: false,
    limit,
    mapper,
    settled: undefined,
    options: resolved,
    consumer: consumer as RunConsumer<unknown>,
  });
}

/**
 * Pushed input as the sync source the run pulls: written items in order, `WAIT` while none is
 * written and the input has not ended (the run pulls again at the next `write()`). Closing it (a
 * drain or a stop) drops the items not started, and later writes; a blocked writer hears it is free.
 */
class PushInput<TItem> implements Iterator<TItem> {
  readonly #queue = new Queue<TItem>();
  readonly #consumer: RunConsumer<unknown>;
  /** One step object for every item: the run reads it at once and keeps nothing of it (no object per item). */
  readonly #step: { value: TItem; done: false } = { value: undefined as TItem, done: false };
  #isEnded = false;
  /** A `write()` returned false: `onReady()` is owed once the run takes what was written. */
  #isBlocked = false;
  run: { [kPump](): void } | undefined;
  isDraining = false;

  constructor(consumer: RunConsumer<unknown>) {
    this.#consumer = consumer;
  }

  next(): IteratorResult<TItem> {
    const queue = this.#queue;
    const step = this.#step;
    if (queue.size === 0) {
      // Nothing written: the step lets go of the last item, so an idle stage does not keep it alive.
      step.value = undefined as TItem;
      return this.#isEnded ? { value: undefined, done: true } : WAIT;
    }
    step.value = queue.shift();
    if (queue.size === 0) this.#ready();
    return step;
  }

  /** The run closes its source: it drains (`isDraining`, a blocked writer hears it is free) or it stopped. */
  return(): IteratorResult<TItem> {
    this.#isEnded = true;
    this.#step.value = undefined as TItem;
    // Items that will never start may be rejected promises (limitedMap awaits promise items): observed, not unhandled.
    const queue = this.#queue;
    while (queue.size > 0) observeDropped(queue.shift());
    if (this.isDraining) this.#ready();
    return { value: undefined, done: true };
  }

  write(item: TItem): boolean {
    const queue = this.#queue;
    if (this.#isEnded) {
      observeDropped(item);
      return true;
    }
    queue.push(item);
    this.run![kPump]();
    if (queue.size === 0) return true;
    this.#isBlocked = true;
    return false;
  }

  end(): void {
    this.#isEnded = true;
    this.run![kPump]();
  }

  #ready(): void {
    if (!this.#isBlocked) return;
    this.#isBlocked = false;
    this.#consumer.onReady();
  }
}

class PushedLimitedRun<TInput, TResult> extends LimitedRun<TInput, TResult> implements PushedRun<TInput> {
  readonly #input: PushInput<TInput>;

  constructor(config: RunConfig<TInput> & { readonly iterator: PushInput<TInput> }) {
    super(config);
    this.#input = config.iterator;
    config.iterator.run = this;
  }

  write(item: TInput): boolean {
    return this.#input.write(item);
  }

  end(): void {
    this.#input.end();
  }

  override drain(): void {
    this.#input.isDraining = true;
    super.drain();
  }
}

/**
 * `limitedAsCompleted` with pushed output: the tasks of `tasks` are pulled as slots free up (from
 * the first `resume()` on) and their results go to `consumer`.
 */
export function limitedAsCompletedPush<TResult>(
  tasks: TaskSource<TResult>,
  limit: number | AdaptiveLimit,
  consumer: RunConsumer<TResult>,
  options?: LimitOptions<Task<TResult>>,
): ConsumedRun {
  const resolved = resolveOptions(initialLimit(limit), options);
  const { iterator, isAsync } = getIterator<unknown>(tasks, 'tasks');
  return new LimitedRun<unknown, TResult>({
    iterator,
    isAsync,
    limit,
    mapper: undefined,
    settled: undefined,
    options: resolved,
    consumer: consumer as RunConsumer<unknown>,
  });
}
