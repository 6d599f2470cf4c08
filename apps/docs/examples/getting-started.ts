import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsCompleted, type Task } from '@lac/core';

// Five jobs of different lengths, at most two running at once.
const durations = [400, 100, 150, 60, 500];
const tasks: Task<string>[] = durations.map((ms, n) => async ({ signal }) => {
  await sleep(ms, undefined, { signal }); // pass the signal on: early exit and errors cancel the wait
  return `job ${n} (${ms} ms)`;
});

// Each result arrives as soon as its job finishes, not in the order the jobs were listed.
for await (const result of limitedAsCompleted(tasks, 2)) {
  console.log('done:', result);
}
