import type { ConsumedRun, RunConsumer } from '@lac/core/internal';

/** What a readable half reports to the stage that owns it. */
export interface HalfOwner {
  /** The run failed (a mapper, a timeout, a throwing `size()`): error everything with `error`. */
  fail(error: unknown): void;
  /** `readable.cancel(reason)`. */
  cancel(reason: unknown): void;
  /** Every result was enqueued and the readable closed. */
  done(): void;
  /** Pushed input: the run takes items again. */
  ready(): void;
}

/**
 * The readable side `LimitedTransformStream` and `limitedReadableStream` share: core hands each
 * result over the moment it exists and it is enqueued; a full queue (`desiredSize <= 0`) pauses the
 * run, and the stream's `pull()` resumes it.
 */
export class ReadableHalf<TResult> implements RunConsumer<TResult> {
  readonly stream: ReadableStream<TResult>;
  readonly #owner: HalfOwner;
  #controller!: ReadableStreamDefaultController<TResult>;
  #run: ConsumedRun | undefined;

  constructor(owner: HalfOwner, strategy: QueuingStrategy<TResult>) {
    this.#owner = owner;
    this.stream = new ReadableStream<TResult>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          this.#run?.resume();
        },
        cancel: (reason) => owner.cancel(reason),
      },
      strategy,
    );
  }

  /** The run to resume on `pull()`; set once it exists (it is created with this half as its consumer). */
  attach(run: ConsumedRun): void {
    this.#run = run;
  }

  onResult(value: TResult): boolean {
    const controller = this.#controller;
    try {
      controller.enqueue(value);
    } catch (error) {
      // A `readableStrategy.size()` that throws: the readable side errors with it, so must the rest.
      this.#owner.fail(error);
      return false;
    }
    return controller.desiredSize! > 0;
  }

  onError(error: unknown): void {
    this.#owner.fail(error);
  }

  onDone(): void {
    this.#controller.close();
    this.#owner.done();
  }

  onReady(): void {
    this.#owner.ready();
  }

  error(reason: unknown): void {
    this.#controller.error(reason);
  }
}
