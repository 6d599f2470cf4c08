import { Queue } from './queue.js';
import { describe } from './validate.js';

/** One key's count and the items of it that wait for room. */
interface KeyState<TWaiting> {
  readonly key: unknown;
  readonly limit: number;
  running: number;
  /** Made when an item first has to wait: most keys never need one. */
  waiting: Queue<TWaiting> | undefined;
  /** In `#ready` now: it has room and an item waiting. */
  isReady: boolean;
}

/**
 * The per-key gate (`key`, `perKey`, `lookahead`): at most `perKey` running per key. Items whose key
 * is full wait here, at most `lookahead` in all; a key that gets room back with items waiting goes
 * into a FIFO of ready keys, so each step is O(1) however many keys there are. A key's entry lives
 * only while it runs or has items waiting.
 */
export class KeyGate<TWaiting> {
  readonly #perKey: number | ((key: unknown) => number);
  readonly #lookahead: number;
  readonly #states = new Map<unknown, KeyState<TWaiting>>();
  readonly #ready = new Queue<KeyState<TWaiting>>();
  /** Items waiting in every key's queue. */
  waiting = 0;

  constructor(perKey: number | ((key: unknown) => number), lookahead: number) {
    this.#perKey = perKey;
    this.#lookahead = lookahead;
  }

  /** Room to pull one more item: it might have to wait here. */
  hasRoom(): boolean {
    return this.waiting < this.#lookahead;
  }

  hasReady(): boolean {
    return this.#ready.size > 0;
  }

  /**
   * Takes a slot of `key` if it has one and no item of it waits already (true); otherwise `item`
   * waits for one (false). Items of one key start in the order they came: a newcomer taking the room
   * a ready key was promised would also leave `takeReady` a key without room.
   */
  admit(key: unknown, item: TWaiting): boolean {
    const state = this.#stateOf(key);
    if (state.running < state.limit && (state.waiting === undefined || state.waiting.size === 0)) {
      state.running++;
      return true;
    }
    (state.waiting ??= new Queue()).push(item);
    this.waiting++;
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

  /** A task of `key` settled (or went into a retry backoff): its key slot is free. */
  release(key: unknown): void {
    const state = this.#states.get(key);
    if (state === undefined) return;
    state.running--;
    if (state.running === 0 && (state.waiting === undefined || state.waiting.size === 0)) this.#states.delete(key);
    else this.#checkReady(state);
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
      if (state.running === 0 && (state.waiting === undefined || state.waiting.size === 0)) this.#states.delete(key);
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
        throw new TypeError(`Expected \`options.perKey(key)\` to return an integer >= 1 or Infinity, got ${describe(limit)} for key ${describe(key)}`);
      }
      state = { key, limit, running: 0, waiting: undefined, isReady: false };
      this.#states.set(key, state);
    }
    return state;
  }
}
