type WriteCallback = (error?: Error | null) => void;

const DONE: IteratorResult<never> = { value: undefined, done: true };

/** What the Duplex's writable side feeds. */
export interface InputSource<TItem> {
  /** The Duplex's `_write`: the callback is held until core takes the item. */
  write(item: TItem, callback: WriteCallback): void;
  /** The Duplex's `_writev`: the callback is held until core has taken every chunk of the batch. */
  writev(chunks: readonly { chunk: TItem }[], callback: WriteCallback): void;
  /** The writable side finished: the source ends once what it holds has been taken. */
  end(): void;
  /** The stage was destroyed: drop what is held (its write callback is never called, as with a destroyed Transform). */
  close(): void;
}

/**
 * The written items core has not taken yet: one from `_write` or a batch from `_writev`. Their write
 * callback is held until core has taken the last of them, so the Writable buffers (and reports
 * backpressure for) everything behind them.
 */
class HeldInput<TItem> {
  #single: TItem | undefined;
  #batch: readonly { chunk: TItem }[] | undefined;
  #index = 0;
  #count = 0;
  #callback: WriteCallback | undefined;

  get isEmpty(): boolean {
    return this.#index === this.#count;
  }

  hold(item: TItem, callback: WriteCallback): void {
    this.#single = item;
    this.#count = 1;
    this.#callback = callback;
  }

  holdBatch(chunks: readonly { chunk: TItem }[], callback: WriteCallback): void {
    this.#batch = chunks;
    this.#count = chunks.length;
    this.#callback = callback;
  }

  /** Takes the next item; only call when not empty. Taking the last one calls the write callback. */
  take(): TItem {
    const batch = this.#batch;
    const item = batch === undefined ? (this.#single as TItem) : batch[this.#index]!.chunk;
    if (++this.#index === this.#count) {
      const callback = this.#callback!;
      this.drop();
      // May synchronously write the next buffered chunk(s) into the space just freed.
      callback();
    }
    return item;
  }

  /** Forgets the held items without calling back (the stage was destroyed). */
  drop(): void {
    this.#single = undefined;
    this.#batch = undefined;
    this.#callback = undefined;
    this.#index = 0;
    this.#count = 0;
  }
}

/**
 * An async iterator fed by the writable side, one item at a time. A written item's callback is held
 * until core pulls the item, so the writable side takes more input only when a mapper can start:
 * the writable half of the backpressure. Core pulls one item at a time; an item already written is
 * handed over in an already-resolved promise.
 */
export class AsyncSource<TItem> implements AsyncIterableIterator<TItem>, InputSource<TItem> {
  readonly #held = new HeldInput<TItem>();
  /** A pull that found nothing to hand out; resolved by the next write or the end. */
  #waiter: ((result: IteratorResult<TItem>) => void) | undefined;
  #isEnded = false;

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<TItem>> {
    if (!this.#held.isEmpty) return Promise.resolve({ value: this.#held.take(), done: false });
    if (this.#isEnded) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Core closes its source on early exit or failure. */
  return(): Promise<IteratorResult<TItem>> {
    this.close();
    return Promise.resolve(DONE);
  }

  write(item: TItem, callback: WriteCallback): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
      callback();
      return;
    }
    this.#held.hold(item, callback);
  }

  writev(chunks: readonly { chunk: TItem }[], callback: WriteCallback): void {
    this.#held.holdBatch(chunks, callback);
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ value: this.#held.take(), done: false });
    }
  }

  end(): void {
    this.#isEnded = true;
    if (this.#held.isEmpty) this.#wake();
  }

  close(): void {
    this.#isEnded = true;
    this.#held.drop();
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter(DONE);
    }
  }
}
