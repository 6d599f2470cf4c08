import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsCompleted, type Task } from '@lac/core';

const aborted: number[] = [];
const tasks: Task<number>[] = [50, 10, 500, 600, 700].map((ms, index) => async ({ signal }) => {
  signal.addEventListener('abort', () => aborted.push(index));
  await sleep(ms, undefined, { signal });
  if (index === 0) throw new Error('task 0 failed');
  return index;
});

try {
  for await (const index of limitedAsCompleted(tasks, 3)) console.log('result', index);
} catch (error) {
  // The same error object the task threw; tasks still running were aborted, none started after.
  console.log('caught:', (error as Error).message);
  console.log('aborted in flight:', aborted.join(' '));
}
