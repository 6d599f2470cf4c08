import { Gates, kFeature, type Feature } from './gates.js';
import { Queue } from './queue.js';
import type { PerKeyLimit, PerKeyOptions } from './options.js';
import { describe, expected, isCount, validateFunction } from './validate.js';

/** One key's count and the items of it that wait for room. A task holds its key's state while it runs (see `release`). */
export interface KeyState<TWaiting> {
  readonly key: unknown;
  /** Its `perKey` (changes with `setPerKey`). */
  limit: number;
  running: number;
  /** Made when an item first has to wait: most keys never need one. */
  waiting: Queue<TWaiting> | undefined;
  /** In `#ready` now: it has room and an item waiting. */
  isReady: boolean;
  /** Nothing of it runs or waits: kept a while (see `MAX_IDLE`), so a key that comes back often is not made again each time. */
  isIdle: boolean;
}

/**
 * Idle keys kept before they are swept out at once: memory stays bounded (O(limit + lookahead +
 * this)), and a run over a few thousand recurring keys makes each key's entry once, not per item.
 */
const MAX_IDLE = 1024;

/**
 * The per-key gate (`perKey(key, perKey, { lookahead })`): at most `perKey` running per key. Items whose key
 * is full wait here, at most `lookahead` in all; a key that gets room back with items waiting goes
 * into a FIFO of ready keys, so each step is O(1) however many keys there are. A key's entry lives
 * only while it runs or has items waiting,
 * and a while after (at most `MAX_IDLE` idle ones).
 */
export class KeyGate<TWaiting> {
  #perKey: number | ((key: unknown) => number);
  readonly #lookahead: number;
  readonly #states = new Map<unknown, KeyState<TWaiting>>();
  readonly #ready = new Queue<KeyState<TWaiting>>();
  /** Items waiting in every key's queue. */
  waiting = 0;
  /** Entries of `#states` that are idle. */
  #idle = 0;

  constructor(perKey: number | ((key: unknown) => number), lookahead: number) {
    this.#perKey = perKey;
    this.#lookahead = lookahead;
  }

  /**
   * Every key's limit is `perKey` from now on (`iterator.setPerKey`): keys with room again and items
   * waiting become ready; keys above it start nothing until fewer run. O(keys held), at most
   * `limit + lookahead + MAX_IDLE`.
   */
  setPerKey(perKey: number): void {
    this.#perKey = perKey;
    for (const state of this.#states.values()) {
      state.limit = perKey;
      this.#checkReady(state);
    }
  }

  /** Room to pull one more item: it might have to wait here. */
  hasRoom(): boolean {
    return this.waiting < this.#lookahead;
  }

  hasReady(): boolean {
    return this.#ready.size > 0;
  }

  /**
   * Takes a slot of `key` if it has one and no item of it waits already (its state); otherwise undefined, and
   * the caller hands the item to `wait`. Items of one key start in the order they came: a newcomer
   * taking the room a ready key was promised would also leave `takeReady` a key without room.
   */
  tryTake(key: unknown): KeyState<TWaiting> | undefined {
    const state = this.#stateOf(key);
    if (state.running < state.limit && (state.waiting === undefined || state.waiting.size === 0)) {
      if (state.isIdle) {
        state.isIdle = false;
        this.#idle--;
      }
      state.running++;
      return state;
    }
    return undefined;
  }

  /** The state of a key that holds a slot taken already (a waiting start that got one): what its task gives to `release`. */
  heldState(key: unknown): KeyState<TWaiting> {
    return this.#states.get(key)!;
  }

  /** Only after `tryTake(key)` said no: `item` waits for a slot of its key. */
  wait(key: unknown, item: TWaiting): void {
    (this.#states.get(key)!.waiting ??= new Queue()).push(item);
    this.waiting++;
  }

  /** `tryTake`, and `item` waits when it says no. */
  admit(key: unknown, item: TWaiting): boolean {
    if (this.tryTake(key) !== undefined) return true;
    this.wait(key, item);
    return false;
  }

  /** Only when `hasReady()`: the oldest waiting item of the first ready key, with its key's slot taken. */
  takeReady(): TWaiting {
    const state = this.#ready.shift();
    state.isReady = false;
    const item = state.waiting!.shift();
    this.waiting--;
    state.running++;
    this.#checkReady(state);
    return item;
  }

  /** A task of `key` settled (or went into a retry backoff), or a held start was dropped: its key slot is free. */
  release(state: KeyState<TWaiting>): void {
    state.running--;
    if (state.running === 0 && (state.waiting === undefined || state.waiting.size === 0)) {
      state.isIdle = true;
      if (++this.#idle > MAX_IDLE) this.#sweep();
    } else {
      this.#checkReady(state);
    }
  }

  /** Forgets every idle key: O(entries) once per `MAX_IDLE` keys gone idle, so O(1) per release. */
  #sweep(): void {
    for (const [key, state] of this.#states) if (state.isIdle) this.#states.delete(key);
    this.#idle = 0;
  }

  /**
   * Drops the waiting items that `keep` says no to (drain drops new items but keeps retries; a stop
   * drops all): they never start.
   */
  clearWaiting(keep: (item: TWaiting) => boolean): void {
    this.#ready.clear();
    this.waiting = 0;
    for (const [key, state] of this.#states) {
      state.isReady = false;
      const { waiting } = state;
      if (waiting !== undefined && waiting.size > 0) {
        const kept = new Queue<TWaiting>();
        while (waiting.size > 0) {
          const item = waiting.shift();
          if (keep(item)) kept.push(item);
        }
        state.waiting = kept;
        this.waiting += kept.size;
        this.#checkReady(state);
      }
      if (state.running === 0 && (state.waiting === undefined || state.waiting.size === 0)) {
        if (state.isIdle) this.#idle--;
        this.#states.delete(key);
      }
    }
  }

  #checkReady(state: KeyState<TWaiting>): void {
    if (!state.isReady && state.waiting !== undefined && state.waiting.size > 0 && state.running < state.limit) {
      state.isReady = true;
      this.#ready.push(state);
    }
  }

  #stateOf(key: unknown): KeyState<TWaiting> {
    let state = this.#states.get(key);
    if (state === undefined) {
      const perKey = this.#perKey;
      const limit = typeof perKey === 'number' ? perKey : perKey(key);
      if (!(limit === Number.POSITIVE_INFINITY || (Number.isInteger(limit) && limit >= 1))) {
        throw new TypeError(
          `Expected the \`perKey\` function to return an integer >= 1 or Infinity, got ${describe(limit)} for key ${describe(key)}`,
        );
      }
      state = { key, limit, running: 0, waiting: undefined, isReady: false, isIdle: false };
      this.#states.set(key, state);
    }
    return state;
  }
}

/**
 * Makes the value of `options.perKey`: at most `perKey` tasks of one key run at once (and the run's
 * `limit` in all). The key is of each item (`limitedMap`) or task (`limitedAsCompleted`): its host,
 * its tenant. Items whose key is full wait, at most `lookahead` of them, while the others go on.
 *
 * @param key - `(item, index) => key`: a string or number; a throw fails the run.
 *
 * @param perKey - Tasks of one key at once: an integer >= 1 or `Infinity`, or `(key) => n` (called once per key while the key is in use). Default 1.
 *
 * @param options - `{ lookahead }`: how many pulled items may wait for their key (default: the run's limit).
 *
 * @returns A `PerKeyLimit`, for `options.perKey`; change the number of a run with `iterator.setPerKey(n)`.
 *
 * @throws TypeError when `key` is not a function, or `perKey` or `lookahead` is not an integer >= 1 or `Infinity`, naming the value and its type.
 *
 * @example
 * ```ts
 * const byHost = perKey((url: string) => new URL(url).host, 2);
 * for await (const page of limitedMap(urls, 16, fetchPage, { perKey: byHost })) save(page);
 * ```
 */
export function perKey<TInput>(
  key: (item: TInput, index: number) => string | number,
  perKey: number | ((key: string | number) => number) = 1,
  options?: PerKeyOptions,
): PerKeyLimit<TInput> {
  validateFunction(key, 'key');
  if (typeof perKey !== 'function' && !isCount(perKey, 1)) {
    expected(perKey, 'perKey', 'an integer >= 1, Infinity or a function of the key');
  }
  if (options !== undefined && (options === null || typeof options !== 'object'))
    expected(options, 'options', 'an object { lookahead }');
  const lookahead = options?.lookahead;
  if (lookahead !== undefined && !isCount(lookahead, 1))
    expected(lookahead, 'options.lookahead', 'an integer >= 1 or Infinity');
  const feature: Feature & { '~lac': string } = {
    '~lac': 'perKey',
    [kFeature](gates, host) {
      gates ??= new Gates(host);
      gates.keys = new KeyGate(perKey as number | ((key: unknown) => number), lookahead ?? host.limit);
      gates.keyOf = key as (item: never, index: number) => unknown;
      return gates;
    },
  };
  return feature as unknown as PerKeyLimit<TInput>;
}
