/**
 * The unhandled-rejection watch: collects every rejection Node reports as unhandled while it is
 * installed. `test/setup` installs one around every test of every package; a test that provokes
 * rejections on purpose and asserts on them installs its own with `watchUnhandled()` or
 * `unhandledRejectionsDuring()`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Node reports an unhandled rejection after the microtask queue drains; a few macrotask turns let it. */
export async function turns(count = 3): Promise<void> {
  for (let i = 0; i < count; i++) await nextTurn();
}

export interface UnhandledWatch {
  /** The reasons seen so far, in order. */
  readonly reasons: unknown[];
  /** Lets Node run its unhandled-rejection check a few times, then removes the listener. */
  dispose(): Promise<void>;
}

export function watchUnhandled(): UnhandledWatch {
  const reasons: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    reasons.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  return {
    reasons,
    async dispose() {
      await turns(3);
      process.off('unhandledRejection', onUnhandled);
    },
  };
}

/** Runs `fn` and returns every rejection reported as unhandled while it ran, and a few turns after. */
export async function unhandledRejectionsDuring(fn: () => Promise<void>, after = 10): Promise<unknown[]> {
  const watch = watchUnhandled();
  try {
    await fn();
    await turns(after);
  } finally {
    await watch.dispose();
  }
  return watch.reasons;
}
