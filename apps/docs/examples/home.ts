import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsCompleted, type Task } from '@lac/core';

// Twelve downloads of 10 to 125 ms, at most 3 at once; each result the moment it is ready.
const times = [125, 30, 65, 10, 95, 45, 20, 115, 55, 75, 105, 85];
const tasks: Task<string>[] = times.map((ms, n) => async ({ signal }) => {
  await sleep(ms, undefined, { signal }); // break, Stop and errors abort the wait
  return `file ${n}`;
});
for await (const file of limitedAsCompleted(tasks, 3)) console.log('done:', file);
