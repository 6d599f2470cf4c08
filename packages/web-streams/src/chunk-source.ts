/**
 * The async iterator `@lac/core` pulls the written chunks from. A write completes only when the
 * scheduler takes its chunk, which it does only when a task may start (`running < limit` and
 * `running + buffered < limit + buffer`): that is the whole of the writable side's backpressure.
 */
export class ChunkSource<TInput> implements AsyncIterableIterator<TInput> {
  /** The scheduler's pending `next()`, waiting for a write. */
  #pull: ((step: IteratorResult<TInput>) => void) | undefined;
  /** A written chunk waiting for the scheduler, and its write's settlers. */
  #chunk: TInput | undefined;
  #hasChunk = false;
  #resolveWrite: (() => void) | undefined;
  #rejectWrite: ((reason: unknown) => void) | undefined;
  #isEnded = false;

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<TInput>> {
    if (this.#hasChunk) {
      const value = this.#chunk as TInput;
      const resolveWrite = this.#resolveWrite!;
      this.#chunk = undefined;
      this.#hasChunk = false;
      this.#resolveWrite = undefined;
      this.#rejectWrite = undefined;
      resolveWrite();
      return Promise.resolve({ value, done: false });
    }
    if (this.#isEnded) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#pull = resolve;
    });
  }

  /** The scheduler stopped (it closes its source): no pull will come, so a waiting write is released. */
  return(): Promise<IteratorResult<TInput>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The writable sink's `write()`: hands the chunk over at once when the scheduler is waiting for one. */
  write(chunk: TInput): Promise<void> | undefined {
    const pull = this.#pull;
    if (pull !== undefined) {
      this.#pull = undefined;
      pull({ value: chunk, done: false });
      return undefined;
    }
    this.#chunk = chunk;
    this.#hasChunk = true;
    return new Promise<void>((resolve, reject) => {
      this.#resolveWrite = resolve;
      this.#rejectWrite = reject;
    });
  }

  /** No more chunks: the writable side closed, or the stage stopped. */
  end(): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    const pull = this.#pull;
    if (pull !== undefined) {
      this.#pull = undefined;
      pull({ value: undefined, done: true });
    }
  }

  /** Fails a waiting write (the stage errored, was aborted or cancelled) and ends the source. */
  fail(reason: unknown): void {
    const rejectWrite = this.#rejectWrite;
    this.#chunk = undefined;
    this.#hasChunk = false;
    this.#resolveWrite = undefined;
    this.#rejectWrite = undefined;
    rejectWrite?.(reason);
    this.end();
  }
}
