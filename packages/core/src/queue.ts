/**
 * A FIFO ring buffer: O(1) push and shift, no `Array#shift` copying on long queues.
 * Capacity is a power of two and doubles when full.
 */
export class Queue<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(16);
  #head = 0;
  /** How many items are queued. Only the queue writes it (a field, not a getter: it is read on every hot path). */
  size = 0;

  push(item: T): void {
    let items = this.#items;
    if (this.size === items.length) items = this.#grow(items);
    items[(this.#head + this.size++) & (items.length - 1)] = item;
  }

  /** Full: unrolled into an array twice as long, oldest first (its own method, so that `push` stays small enough to inline). */
  #grow(items: (T | undefined)[]): (T | undefined)[] {
    const head = this.#head;
    this.#head = 0;
    return (this.#items = [...items.slice(head), ...items.slice(0, head), ...new Array<undefined>(items.length)]);
  }

  /** The oldest item, left in place; only call when `size > 0`. */
  peek(): T {
    return this.#items[this.#head] as T;
  }

  /** Removes and returns the oldest item; only call when `size > 0`. */
  shift(): T {
    const items = this.#items;
    const head = this.#head;
    const item = items[head] as T;
    items[head] = undefined;
    this.#head = (head + 1) & (items.length - 1);
    this.size--;
    return item;
  }

  clear(): void {
    this.#items = new Array<T | undefined>(16);
    this.#head = 0;
    this.size = 0;
  }
}
