type WriteCallback = (error?: Error | null) => void;

const DONE: IteratorResult<never> = { value: undefined, done: true };

/**
 * The async iterator `@lac/core` pulls items from: it is fed by the Duplex's writable side, one item
 * at a time. A written item's callback is held until core pulls the item, so the writable side only
 * takes more input when a mapper can start; that is the writable half of the backpressure.
 */
export class WritableSource<TItem> implements AsyncIterableIterator<TItem> {
  #item: TItem | undefined;
  #hasItem = false;
  #callback: WriteCallback | undefined;
  /** A pull that found nothing to hand out; resolved by the next write or the end. */
  #waiter: ((result: IteratorResult<TItem>) => void) | undefined;
  #isEnded = false;

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<TItem>> {
    if (this.#hasItem) {
      const value = this.#item as TItem;
      const callback = this.#callback!;
      this.#item = undefined;
      this.#hasItem = false;
      this.#callback = undefined;
      // May synchronously write the next buffered chunk into the slot just freed.
      callback();
      return Promise.resolve({ value, done: false });
    }
    if (this.#isEnded) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Core closes its source on early exit or failure: anything still held is dropped. */
  return(): Promise<IteratorResult<TItem>> {
    this.close();
    return Promise.resolve(DONE);
  }

  /** The Duplex's `_write`. */
  write(item: TItem, callback: WriteCallback): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
      callback();
      return;
    }
    this.#item = item;
    this.#hasItem = true;
    this.#callback = callback;
  }

  /** The writable side finished: the source ends once the held item (if any) is pulled. */
  end(): void {
    this.#isEnded = true;
    if (this.#waiter !== undefined && !this.#hasItem) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter(DONE);
    }
  }

  /**
   * The stage was destroyed: drop the held item (its write callback is never called, as with a
   * destroyed `Transform`) and end a pending pull so core is not left waiting.
   */
  close(): void {
    this.#isEnded = true;
    this.#item = undefined;
    this.#hasItem = false;
    this.#callback = undefined;
    if (this.#waiter !== undefined) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter(DONE);
    }
  }
}
