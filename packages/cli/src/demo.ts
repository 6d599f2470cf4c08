import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsCompleted, type TaskContext } from '@lac/core';
import type { OutputStreams } from './output.js';

export interface DemoOptions {
  readonly count?: number;
  readonly limit?: number;
  /** Task n sleeps `unitMs / n` ms. */
  readonly unitMs?: number;
  /**
   * Stops the demo, its reason a `DemoStop`: nothing new starts, the running tasks' signals abort,
   * and once they have settled the demo resolves with 130 or 143 after a signal (saying so on
   * stderr), 255 when its output went away.
   */
  readonly signal?: AbortSignal;
}

/** Why the demo stops early: a signal, or its stdout went away (nobody reads it any more). */
export type DemoStop = 'SIGINT' | 'SIGTERM' | 'output';

/**
 * `lac demo`: the program from the original `limited_as_completed` post. 100 tasks, task n sleeps
 * 1/n s, at most 10 at once, each result printed as soon as it is ready. Resolves with 0 when the
 * peak in flight was exactly the limit, 1 otherwise, or the status `options.stopped` gives after a stop.
 */
export async function runDemo(streams: OutputStreams, options: DemoOptions = {}): Promise<number> {
  const { count = 100, limit = 10, unitMs = 1000, signal } = options;
  // After EPIPE every further write would fail too: the run is stopping, nothing more is said.
  const stdout = { write: (text: string) => signal?.reason === 'output' || streams.stdout.write(text) };
  let inFlight = 0;
  let peak = 0;
  let done = 0;
  let onIdle: (() => void) | undefined;
  function* tasks() {
    for (let n = 1; n <= count; n++) {
      yield async ({ signal }: TaskContext) => {
        stdout.write(`Starting ${n}\n`);
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          await sleep(unitMs / n, undefined, { signal });
        } finally {
          inFlight--;
          if (inFlight === 0) onIdle?.();
        }
        stdout.write(`Finishing ${n}\n`);
        return n;
      };
    }
  }
  const started = performance.now();
  try {
    for await (const n of limitedAsCompleted(tasks(), limit, { signal })) {
      done++;
      stdout.write(`Result ${n}\n`);
    }
  } catch (error) {
    if (signal?.aborted !== true || error !== signal.reason) throw error;
    // Core does not wait for the tasks it aborted: wait here, so nothing of the demo outlives it.
    const stopped = inFlight;
    if (inFlight > 0) await new Promise<void>((resolve) => (onIdle = resolve));
    const reason = signal.reason as DemoStop;
    if (reason === 'output') return 255;
    streams.stderr.write(
      `lac demo: interrupted by ${reason}: ${done} of ${count} tasks done, ${stopped} running stopped\n`,
    );
    return reason === 'SIGINT' ? 130 : 143;
  }
  const seconds = (performance.now() - started) / 1000;
  stdout.write(`Done: ${count} tasks in ${seconds.toFixed(2)} s, peak in flight ${peak} (limit ${limit})\n`);
  return peak === limit ? 0 : 1;
}
