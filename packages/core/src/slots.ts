import { isAbortSignal } from '@lac/shared';
import { Gates, kFeature, type Feature } from './gates.js';
import { ignore, isThenable } from './is-thenable.js';
import type { Slots } from './options.js';
import { SlotGate } from './slot-gate.js';
import { describe, expected } from './validate.js';

/**
 * Hands out and takes back slots of a limit that lives outside the run: a limit shared with other
 * runs, processes or machines (`@lac/redis` keeps one in Redis). Pass it as `options.slots: slotsFrom(source)`; a task
 * then starts only when the run's own `limit` allows it and the source handed out a slot.
 *
 * The run asks for slots only when it could start a task, and before it pulls the next item (so a
 * lazy source stays lazy): one at a time, or, when the source sets `maxPendingAcquires`, up to that
 * many at once while that many tasks could start. Each task holds its slot until it settles or times
 * out; a slot the run cannot use (it stopped, drains, or the source turned out to be done) is
 * released at once, exactly once.
 */
export interface SlotSource<TSlot = unknown> {
  /**
   * Resolves with a slot once one is free. `signal` aborts when the run gives up waiting (it stops,
   * drains, or its source is done): the source should then stop waiting and must not keep a slot for
   * this call (a slot it still hands out is released at once, and a rejection after the abort is
   * ignored). A rejection while the run is active fails the run with that error. The run passes one
   * signal to all the calls it makes until it gives up waiting (a new one after that), so remove any
   * listener you add to it once the call settles.
   */
  acquire(signal: AbortSignal): TSlot | PromiseLike<TSlot>;
  /**
   * Takes back a slot that `acquire` handed out; called once per slot. `failure` is there when the
   * task failed (or timed out): with its error, so that an adaptive limit can tell overload. A throw
   * or rejection while the run is active fails the run with that error; after the run stopped it is
   * ignored.
   */
  release(slot: TSlot, failure?: SlotFailure): void | PromiseLike<void>;
  /**
   * Aborts when the source can no longer vouch for the slots it handed out (for example its
   * connection to the shared store is lost, so running tasks may no longer hold their slots): every
   * run using it then fails fast with `signal.reason`, aborting its in-flight tasks.
   * @default undefined
   */
  readonly signal?: AbortSignal;
  /**
   * How many `acquire` calls a run may have pending at once. With more than 1, a run that could
   * start n more tasks (n = its `limit` minus its running tasks, within its buffer) keeps up to
   * `min(n, maxPendingAcquires)` acquires pending, so a source that answers over the network can
   * grant them together (`@lac/redis` grants them in one round trip). The run still starts at most
   * `limit` tasks, holds no more slots than it could start, and gives back each slot it does not use.
   * An integer >= 1 (finite: a run with `limit: Infinity` would otherwise ask without end). Read by
   * the runs of `limitedAsCompleted` and its siblings; `createLimiter` asks one at a time.
   * @default 1
   */
  readonly maxPendingAcquires?: number;
}

/** How the task that held a slot failed: what `release` is told, besides the slot. */
export interface SlotFailure {
  readonly error: unknown;
}

/** The TC39 concurrency-control proposal's governor: `acquire()` resolves to a token to `release()`. */
export interface Governor {
  acquire(): PromiseLike<GovernorToken> | GovernorToken;
}

/** What a `Governor`'s `acquire()` gives: one slot, held until `release()` is called (once). */
export interface GovernorToken {
  /** Gives the slot back to the governor. */
  release(): void;
}

/** A governor as a `SlotSource`: its tokens are the slots. */
function fromGovernor(governor: Governor): SlotSource<GovernorToken> {
  return {
    acquire: () => governor.acquire(),
    release: (token) => token.release(),
  };
}

/** `options.slots` and `allOf` take a `SlotSource` or a governor (an `acquire()` without `release`). */
export function toSlotSource(value: unknown, name: string): SlotSource {
  if (value !== null && typeof value === 'object' && typeof (value as SlotSource).acquire === 'function') {
    if (typeof (value as SlotSource).release === 'function') return value as SlotSource;
    return fromGovernor(value as Governor);
  }
  throw new TypeError(
    `Expected \`${name}\` to be an object with \`acquire\` and \`release\` methods (a SlotSource), or a governor (\`acquire()\` resolving to a token with \`release()\`), got ${describe(value)}`,
  );
}

/** `createLimiter`'s side of a `Slots` value, under this registered symbol: runs a call once it holds a slot. */
export const kSlots = Symbol.for('@lac/core.slots');

/** A call of `createLimiter` waiting to start: `run(onDone)` lets it go, `reject` fails its promise. */
export interface LimiterJob {
  readonly run: (onDone: () => void) => void;
  readonly reject: (reason: unknown) => void;
}

/** Runs `job` once it holds a slot (released when the call settles, then `onSettled`); a failed acquire fails the call. */
export type SlotRunner = (job: LimiterJob, onSettled: () => void) => void;

/** What a `Slots` value carries: the run's slot gate, and the limiter's runner. */
export interface SlotsValue {
  readonly '~lac': 'slots';
  readonly [kFeature]: Feature[typeof kFeature];
  readonly [kSlots]: SlotRunner;
}

/** The two sides of a `Slots` value for `source` (validated already). */
export function slotsOf(source: SlotSource): SlotsValue {
  if (source.signal !== undefined && !isAbortSignal(source.signal))
    expected(source.signal, 'source.signal', 'an AbortSignal');
  // A limiter never gives up on a queued call (clearQueue drops calls before they acquire), so one signal serves all.
  const neverAborted = new AbortController().signal;
  return {
    '~lac': 'slots',
    [kFeature](gates, host) {
      gates ??= new Gates(host);
      gates.slots = new SlotGate(source, gates);
      return gates;
    },
    [kSlots](job, onSettled) {
      const onSlot = (slot: unknown): void =>
        job.run(() => {
          try {
            void Promise.resolve(source.release(slot)).catch(ignore);
          } catch {
            // A release that fails has no call left to tell: the call already settled.
          }
          onSettled();
        });
      const onFailed = (error: unknown): void => {
        job.reject(error);
        onSettled();
      };
      try {
        const acquired = source.acquire(neverAborted);
        if (isThenable(acquired)) Promise.resolve(acquired).then(onSlot, onFailed);
        else onSlot(acquired);
      } catch (error) {
        onFailed(error);
      }
    },
  };
}

/**
 * Makes the value of `options.slots` (and `createLimiter`'s `slots`) from any `SlotSource` of your own
 * or a governor of the TC39 concurrency-control proposal (an `acquire()` resolving to a token with
 * `release()`). `createSharedLimit()`, `allOf()` and `@lac/redis`'s `redisSlots()` need no wrapping.
 *
 * @param source - An object with `acquire(signal)` and `release(slot, failure?)` (and optionally a `signal`), or a governor.
 *
 * @returns A `Slots` value: every run (or limiter) given it takes a slot from `source` for each task it starts.
 *
 * @throws TypeError when `source` is neither a slot source nor a governor, or its `signal` is not an AbortSignal, naming the value and its type.
 *
 * @example
 * ```ts
 * const slots = slotsFrom(myPool); // any { acquire(signal), release(slot) }
 * for await (const page of limitedMap(urls, 8, fetchPage, { slots })) save(page);
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: any lease type is accepted; the run hands each lease back as it came.
export function slotsFrom(source: SlotSource<any> | Governor): Slots {
  return slotsOf(toSlotSource(source, 'source')) as unknown as Slots;
}
