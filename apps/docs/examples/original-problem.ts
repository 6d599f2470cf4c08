import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsCompleted, type Task } from '@lac/core';

// The program from the original post: 100 tasks, task n sleeps 1/n seconds, at most 10 at once,
// each result printed the moment it is ready. No polling: a finishing task starts the next one.
let inFlight = 0;
let peak = 0;
function* tasks(): Generator<Task<number>> {
  for (let n = 1; n <= 100; n++) {
    yield async ({ signal }) => {
      console.log(`Starting ${n}`);
      peak = Math.max(peak, ++inFlight);
      await sleep(1000 / n, undefined, { signal });
      inFlight--;
      console.log(`Finishing ${n}`);
      return n;
    };
  }
}

const startedAt = performance.now();
for await (const n of limitedAsCompleted(tasks(), 10)) console.log(`Result ${n}`);
const seconds = (performance.now() - startedAt) / 1000;
console.log(`Done in ${seconds.toFixed(2)} s, peak in flight ${peak}`);
