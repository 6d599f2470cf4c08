// The program from the original `limited_as_completed` post: 100 tasks, task n sleeps 1/n seconds,
// at most 10 at once, results printed as they complete.
import { limitedAsCompleted } from '@lac/core';

const count = 100;
const limit = 10;
let inFlight = 0;
let peak = 0;

function* tasks() {
  for (let n = 1; n <= count; n++) {
    yield async ({ signal }) => {
      console.log(`Starting ${n}`);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 1000 / n);
        signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
      });
      inFlight--;
      console.log(`Finishing ${n}`);
      return n;
    };
  }
}

const started = performance.now();
for await (const n of limitedAsCompleted(tasks(), limit)) console.log(`Result ${n}`);
const seconds = (performance.now() - started) / 1000;
console.log(`Done: ${count} tasks in ${seconds.toFixed(2)} s, peak in flight ${peak} (limit ${limit})`);
if (peak !== limit) process.exitCode = 1;
