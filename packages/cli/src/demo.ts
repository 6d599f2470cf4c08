import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsCompleted, type TaskContext } from '@lac/core';
import type { Writable } from 'node:stream';

/**
 * `lac demo`: the program from the original `limited_as_completed` post. 100 tasks, task n sleeps
 * 1/n s, at most 10 at once, each result printed as soon as it is ready. Resolves with 0 when the
 * peak in flight was exactly the limit, 1 otherwise.
 */
export async function runDemo(stdout: Writable, count = 100, limit = 10): Promise<number> {
  let inFlight = 0;
  let peak = 0;
  function* tasks() {
    for (let n = 1; n <= count; n++) {
      yield async ({ signal }: TaskContext) => {
        stdout.write(`Starting ${n}\n`);
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          await sleep(1000 / n, undefined, { signal });
        } finally {
          inFlight--;
        }
        stdout.write(`Finishing ${n}\n`);
        return n;
      };
    }
  }
  const started = performance.now();
  for await (const n of limitedAsCompleted(tasks(), limit)) stdout.write(`Result ${n}\n`);
  const seconds = (performance.now() - started) / 1000;
  stdout.write(`Done: ${count} tasks in ${seconds.toFixed(2)} s, peak in flight ${peak} (limit ${limit})\n`);
  return peak === limit ? 0 : 1;
}
