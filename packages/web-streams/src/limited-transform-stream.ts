import { limitedMap, type LimitedIterator, type LimitOptions, type TaskContext } from '@lac/core';
import { ChunkSource } from './chunk-source.js';
import { validateFunction, validateOptions, validateStrategy } from './validate.js';

/** What `LimitedTransformStream` calls for each chunk. */
export type StreamMapper<TInput, TResult> = (item: TInput, context: TaskContext) => TResult | PromiseLike<TResult>;

export interface LimitedTransformStreamOptions<TInput, TResult> extends LimitOptions {
  /**
   * The writable side's queuing strategy: how many chunks may wait in its queue before
   * `writer.desiredSize` drops to 0 (one more waits inside the stage until a mapper may start).
   * @default { highWaterMark: 1 } (as `TransformStream`)
   */
  readonly writableStrategy?: QueuingStrategy<TInput>;
  /**
   * The readable side's queuing strategy: how many results are pulled out of the scheduler ahead of
   * the reader. The scheduler itself holds up to `limit + buffer` started-but-unread results.
   * @default { highWaterMark: 0 } (as `TransformStream`)
   */
  readonly readableStrategy?: QueuingStrategy<TResult>;
}

const defaultWritableStrategy = { highWaterMark: 1 };
const defaultReadableStrategy = { highWaterMark: 0 };

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/**
 * A `{ readable, writable }` pair for `readable.pipeThrough(...)` that runs `mapper` on up to `limit`
 * chunks at once and enqueues each result as soon as it is ready (or in input order with
 * `ordered: true`).
 *
 * - Backpressure: once the readable side is full (`desiredSize <= 0`) and `limit + buffer` results
 *   are started but unread, no new mapper starts and writes stop resolving.
 * - The readable side closes, and `writer.close()` resolves, only after every mapper has settled and
 *   its result was enqueued.
 * - `readable.cancel(reason)`, `writable.abort(reason)` and `options.signal` abort the in-flight
 *   mappers' `context.signal` with that reason, start nothing new, and error the other side.
 * - A mapper that throws or rejects errors both sides with that same error.
 *
 * @example
 * ```ts
 * const pages = urls.pipeThrough(new LimitedTransformStream(8, (url, { signal }) => fetch(url, { signal }).then((r) => r.text())));
 * ```
 */
export class LimitedTransformStream<TInput, TResult> {
  readonly readable: ReadableStream<TResult>;
  readonly writable: WritableStream<TInput>;

  constructor(limit: number, mapper: StreamMapper<TInput, TResult>, options?: LimitedTransformStreamOptions<TInput, TResult>) {
    validateFunction(mapper, 'mapper');
    validateOptions(options);
    validateStrategy(options?.writableStrategy, 'options.writableStrategy');
    validateStrategy(options?.readableStrategy, 'options.readableStrategy');
    const stage = new Stage<TInput, TResult>(limit, mapper, options);
    this.readable = stage.readable;
    this.writable = stage.writable;
  }
}

// The streams' public objects stay plain; everything they share lives here.
class Stage<TInput, TResult> {
  readonly readable: ReadableStream<TResult>;
  readonly writable: WritableStream<TInput>;

  readonly #mapper: StreamMapper<TInput, TResult>;
  readonly #source = new ChunkSource<TInput>();
  /** Passed to the scheduler as its `signal`: aborting it aborts in-flight mappers with our reason. */
  readonly #controller = new AbortController();
  readonly #run: LimitedIterator<TResult>;
  readonly #userSignal: AbortSignal | undefined;
  #readableController!: ReadableStreamDefaultController<TResult>;
  #writableController!: WritableStreamDefaultController;
  #writableSignal: AbortSignal | undefined;
  #resolveClose: (() => void) | undefined;
  #rejectClose: ((reason: unknown) => void) | undefined;
  #isFinished = false;

  constructor(limit: number, mapper: StreamMapper<TInput, TResult>, options: LimitedTransformStreamOptions<TInput, TResult> | undefined) {
    this.#mapper = mapper;
    // Created first: it validates `limit` and the remaining options before anything is listened to.
    this.#run = limitedMap(this.#source, limit, this.#map, { ...options, signal: this.#controller.signal });

    this.writable = new WritableStream<TInput>(
      {
        start: (controller) => {
          this.#writableController = controller;
        },
        write: (chunk) => this.#source.write(chunk),
        close: () => {
          this.#source.end();
          return new Promise<void>((resolve, reject) => {
            this.#resolveClose = resolve;
            this.#rejectClose = reject;
          });
        },
        abort: (reason) => this.#stop(reason, 'writable'),
      },
      options?.writableStrategy ?? defaultWritableStrategy,
    );
    this.readable = new ReadableStream<TResult>(
      {
        start: (controller) => {
          this.#readableController = controller;
        },
        pull: () => (this.#isFinished ? undefined : this.#run.next().then(this.#onStep, this.#onRunError)),
        cancel: (reason) => this.#stop(reason, 'readable'),
      },
      options?.readableStrategy ?? defaultReadableStrategy,
    );

    // `writable.abort()` reaches the sink only after a pending write settles, and ours may be held
    // back by backpressure; the controller's signal tells us at once (where the runtime has it).
    const writableSignal = (this.#writableController as { signal?: AbortSignal }).signal;
    if (writableSignal !== undefined) {
      this.#writableSignal = writableSignal;
      writableSignal.addEventListener('abort', this.#onWritableAbort);
    }
    const userSignal = options?.signal;
    if (userSignal !== undefined) {
      this.#userSignal = userSignal;
      if (userSignal.aborted) this.#stop(userSignal.reason, 'signal');
      else userSignal.addEventListener('abort', this.#onUserAbort);
    }
  }

  /**
   * Calls the user's mapper and, for a failure, errors both sides at once: the scheduler would
   * report it only after the results before it were read, which a backed-up reader may never do.
   */
  readonly #map = (item: TInput, context: TaskContext): TResult | PromiseLike<TResult> => {
    let value: TResult | PromiseLike<TResult>;
    try {
      value = this.#mapper(item, context);
    } catch (error) {
      this.#fail(error);
      throw error;
    }
    if (!isThenable(value)) return value;
    // Resolved once here: a lazy thenable (a query builder) runs again on every then(). The scheduler
    // gets the native promise, and this is a second reaction on it, not a link in its chain.
    const promise = Promise.resolve(value);
    promise.then(undefined, this.#fail);
    return promise;
  };

  readonly #onStep = (step: IteratorResult<TResult>): void => {
    if (this.#isFinished) return;
    if (!step.done) {
      try {
        this.#readableController.enqueue(step.value);
      } catch (error) {
        // A `readableStrategy.size()` that throws: the readable side errors with it, so must the rest.
        this.#controller.abort(error);
        this.#fail(error);
      }
      return;
    }
    this.#finish();
    this.#readableController.close();
    this.#resolveClose?.();
  };

  /** The scheduler failed: a timeout, or a failure the mapper wrapper already reported. */
  readonly #onRunError = (error: unknown): void => {
    this.#fail(error);
  };

  readonly #fail = (error: unknown): void => {
    if (this.#isFinished) return;
    this.#finish();
    this.#readableController.error(error);
    this.#writableController.error(error);
    this.#source.fail(error);
    this.#rejectClose?.(error);
  };

  /**
   * Cancel, abort or `options.signal`: abort in-flight mappers with `reason` and error the side(s)
   * that did not ask. The side that is already cancelling or aborting is left to its stream: erroring
   * a writable from inside its own abort trips Node's implementation.
   */
  #stop(reason: unknown, from: 'readable' | 'writable' | 'signal'): void {
    if (this.#isFinished) return;
    this.#finish();
    this.#controller.abort(reason);
    if (from !== 'readable') this.#readableController.error(reason);
    if (from !== 'writable') this.#writableController.error(reason);
    // Releases a write held back by backpressure, which the writable's abort would otherwise wait for.
    this.#source.fail(reason);
    this.#rejectClose?.(reason);
  }

  readonly #onWritableAbort = (): void => {
    this.#stop(this.#writableSignal!.reason, 'writable');
  };

  readonly #onUserAbort = (): void => {
    this.#stop(this.#userSignal!.reason, 'signal');
  };

  #finish(): void {
    this.#isFinished = true;
    this.#writableSignal?.removeEventListener('abort', this.#onWritableAbort);
    this.#userSignal?.removeEventListener('abort', this.#onUserAbort);
  }
}
