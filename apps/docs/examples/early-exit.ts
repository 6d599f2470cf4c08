import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsCompleted, type Task } from '@lac/core';

let inFlightAborted = 0;
function* jobs(): Generator<Task<number>> {
  try {
    for (let n = 1; n <= 1000; n++) {
      yield async ({ signal }) => {
        signal.addEventListener('abort', () => inFlightAborted++);
        await sleep(n * 10, undefined, { signal });
        return n;
      };
    }
  } finally {
    console.log('source closed'); // runs on break: the generator's return() is called
  }
}

for await (const n of limitedAsCompleted(jobs(), 8)) {
  console.log('first result:', n);
  break; // stop early: nothing new starts, in-flight tasks are aborted
}
console.log('aborted in flight:', inFlightAborted);
