/** Marks a skipped index: nothing to deliver, but order moves past it. */
export const HOLE: unique symbol = Symbol('hole');

/**
 * Ordered mode's delivery: results come out in source order. A result whose turn has not come is
 * held back by index until every earlier one (or its hole) is in.
 */
export class OrderedDelivery<TResult> {
  /** Results that finished before an earlier one, by index (`HOLE` for a skipped one). */
  readonly #heldBack = new Map<number, TResult | typeof HOLE>();
  #nextIndex = 0;
  /** Results held back now (holes not counted): they count toward the window as buffered ones. */
  size = 0;

  /** Delivers the outcome of `index` and the held-back ones after it if it is next; else holds it back. */
  place(index: number, result: TResult | typeof HOLE, deliver: (result: TResult) => void): void {
    const heldBack = this.#heldBack;
    if (index !== this.#nextIndex) {
      heldBack.set(index, result);
      if (result !== HOLE) this.size++;
      return;
    }
    this.#nextIndex++;
    if (result !== HOLE) deliver(result);
    let next = heldBack.get(this.#nextIndex);
    while (next !== undefined) {
      heldBack.delete(this.#nextIndex);
      this.#nextIndex++;
      if (next !== HOLE) {
        this.size--;
        deliver(next);
      }
      next = heldBack.get(this.#nextIndex);
    }
  }

  /** Drops what is held back (the run failed or stopped): only results before the first gap could be delivered. */
  clear(): void {
    this.#heldBack.clear();
    this.size = 0;
  }
}
