import { Gates, kFeature, type Feature } from './gates.js';
import { isAbortSignal } from '@lac/shared';
import { SlotGate } from './slot-gate.js';
import { describe, expected } from './validate.js';

/**
 * Hands out and takes back slots of a limit that lives outside the run: a limit shared with other
 * runs, processes or machines (`@lac/redis` keeps one in Redis). Pass it as `options.slots`; a task
 * then starts only when the run's own `limit` allows it and the source handed out a slot.
 *
 * The run asks for one slot at a time, only when it could start a task, and before it pulls the next
 * item (so a lazy source stays lazy). Each task holds its slot until it settles or times out; a slot
 * the run cannot use (it stopped, or the source turned out to be done) is released at once.
 */
export interface SlotSource<TSlot = unknown> {
  /**
   * Resolves with a slot once one is free. `signal` aborts when the run stops while waiting: the
   * source should then stop waiting and must not keep a slot for this call (a slot it still hands out
   * is released at once, and a rejection after the stop is ignored). A rejection while the run is
   * active fails the run with that error. The run passes the same signal to every call, so remove any
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

/** `slots`' value: a `SlotSource` or a governor (named `name` in errors), installed as a run's slot gate. */
export function slotsFeature(value: unknown, name: string): Feature {
  const source = toSlotSource(value, name);
  if (source.signal !== undefined && !isAbortSignal(source.signal))
    expected(source.signal, `${name}.signal`, 'an AbortSignal');
  return {
    [kFeature](gates, host) {
      gates ??= new Gates(host);
      gates.slots = new SlotGate(source, gates);
      return gates;
    },
  };
}
