import type { AdaptiveLimit, LimitOptions, TaskContext } from '@lac/core';
import { limitedMapPush, type PushedRun } from '@lac/core/internal';
import { describe } from '@lac/shared';
import { ReadableHalf, type HalfOwner } from './readable-half.js';
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
 * - A mapper that throws or rejects (or times out) errors both sides at once with that same value,
 *   whether or not anyone reads.
 *
 * @example
 * ```ts
 * const pages = urls.pipeThrough(new LimitedTransformStream(8, (url, { signal }) => fetch(url, { signal }).then((r) => r.text())));
 * ```
 */
export class LimitedTransformStream<TInput, TResult> {
  readonly readable: ReadableStream<TResult>;
  readonly writable: WritableStream<TInput>;

  /**
   * @param limit - The most mappers running at once: an integer >= 1, `Infinity`, or `adaptive(...)` from `@lac/core`.
   *
   * @param mapper - Called as `mapper(chunk, context)` for each chunk written; `context.signal` aborts on failure, cancel, abort and `options.signal`.
   *
   * @param options - `@lac/core`'s `LimitOptions` and the two sides' queuing strategies (`writableStrategy`, `readableStrategy`).
   *
   * @throws TypeError when `limit`, `mapper` or `options` is invalid, naming the argument, the value and its type.
   */
  constructor(
    limit: number | AdaptiveLimit,
    mapper: StreamMapper<TInput, TResult>,
    options?: LimitedTransformStreamOptions<TInput, TResult>,
  ) {
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
class Stage<TInput, TResult> implements HalfOwner {
  readonly readable: ReadableStream<TResult>;
  readonly writable: WritableStream<TInput>;

  readonly #half: ReadableHalf<TResult>;
  /** Passed to the scheduler as its `signal`: aborting it aborts in-flight mappers with our reason. */
  readonly #controller = new AbortController();
  readonly #run: PushedRun<TInput>;
  readonly #userSignal: AbortSignal | undefined;
  #writableController!: WritableStreamDefaultController;
  #writableSignal: AbortSignal | undefined;
  /** A write the scheduler has not taken yet (no slot was free): settled by `ready()` or a stop. */
  #resolveWrite: (() => void) | undefined;
  #rejectWrite: ((reason: unknown) => void) | undefined;
  #resolveClose: (() => void) | undefined;
  #rejectClose: ((reason: unknown) => void) | undefined;
  #isFinished = false;

  constructor(
    limit: number | AdaptiveLimit,
    mapper: StreamMapper<TInput, TResult>,
    options: LimitedTransformStreamOptions<TInput, TResult> | undefined,
  ) {
    this.#half = new ReadableHalf<TResult>(this, options?.readableStrategy ?? defaultReadableStrategy);
    // Created first: it validates `limit` and the remaining options before anything is listened to.
    this.#run = limitedMapPush(limit, mapper, this.#half, { ...options, signal: this.#controller.signal });
    this.#half.attach(this.#run);
    this.readable = this.#half.stream;

    this.writable = new WritableStream<TInput>(
      {
        start: (controller) => {
          this.#writableController = controller;
        },
        // No promise while a slot is free: the scheduler starts the mapper at once.
        write: (chunk) =>
          this.#run.write(chunk)
            ? undefined
            : new Promise<void>((resolve, reject) => {
                this.#resolveWrite = resolve;
                this.#rejectWrite = reject;
              }),
        close: () => {
          const closed = new Promise<void>((resolve, reject) => {
            this.#resolveClose = resolve;
            this.#rejectClose = reject;
          });
          this.#run.end();
          return closed;
        },
        abort: (reason) => this.#stop(reason, 'writable'),
      },
      this.#watchSize(options?.writableStrategy ?? defaultWritableStrategy),
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
   * The writable strategy with its `size()` watched. A `size()` that throws, or returns what is not a
   * size (NaN, a negative number, Infinity, not a number), errors the writable side by itself: its
   * sink hears nothing (no `abort()`, no signal), so without this the mappers in flight would run on
   * and the readable side would never close. The stage fails with that error instead.
   */
  #watchSize(strategy: QueuingStrategy<TInput>): QueuingStrategy<TInput> {
    const { highWaterMark, size } = strategy;
    if (size === undefined) return strategy;
    return {
      ...(highWaterMark === undefined ? {} : { highWaterMark }),
      size: (chunk) => {
        let value: unknown;
        try {
          value = size(chunk);
        } catch (error) {
          this.fail(error);
          throw error;
        }
        if (typeof value !== 'number' || !(value >= 0) || value === Number.POSITIVE_INFINITY) {
          const error = new RangeError(
            `Expected \`options.writableStrategy.size()\` to return a finite number >= 0, got ${describe(value)}`,
          );
          this.fail(error);
          throw error;
        }
        return value;
      },
    };
  }

  /** The scheduler failed (a mapper, a timeout) or enqueueing threw: both sides error at once. */
  fail(error: unknown): void {
    if (this.#isFinished) return;
    this.#finish();
    this.#controller.abort(error);
    this.#half.error(error);
    this.#writableController.error(error);
    this.#rejectPending(error);
  }

  cancel(reason: unknown): void {
    this.#stop(reason, 'readable');
  }

  done(): void {
    this.#finish();
    this.#resolveClose?.();
  }

  ready(): void {
    const resolveWrite = this.#resolveWrite;
    this.#resolveWrite = undefined;
    this.#rejectWrite = undefined;
    resolveWrite?.();
  }

  /**
   * Cancel, abort or `options.signal`: abort in-flight mappers with `reason` and error the side(s)
   * that did not ask. The side that is already cancelling or aborting is left to its stream: erroring
   * a writable from inside its own abort trips Node's implementation.
   */
  #stop(reason: unknown, from: 'readable' | 'writable' | 'signal'): void {
    if (this.#isFinished) return;
    this.#finish();
    this.#controller.abort(reason);
    if (from !== 'readable') this.#half.error(reason);
    if (from !== 'writable') this.#writableController.error(reason);
    // Releases a write held back by backpressure, which the writable's abort would otherwise wait for.
    this.#rejectPending(reason);
  }

  #rejectPending(reason: unknown): void {
    const rejectWrite = this.#rejectWrite;
    this.#resolveWrite = undefined;
    this.#rejectWrite = undefined;
    rejectWrite?.(reason);
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
