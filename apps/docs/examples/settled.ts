import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsSettled } from '@lac/core';

const ids = [1, 2, 3, 4, 5, 6];
const tasks = ids.map((id) => async ({ signal }: { signal: AbortSignal }) => {
  await sleep(id * 40, undefined, { signal });
  if (id % 3 === 0) throw new Error(`record ${id} is locked`);
  return { id, saved: true };
});

// limitedAsSettled never throws for a task's failure: every outcome is delivered and the run goes on.
let failed = 0;
for await (const outcome of limitedAsSettled(tasks, 3)) {
  if (outcome.status === 'fulfilled') console.log(`#${outcome.index} saved record ${outcome.value.id}`);
  else {
    failed++;
    console.log(`#${outcome.index} failed: ${(outcome.reason as Error).message}`);
  }
}
console.log(`${ids.length - failed} saved, ${failed} failed`);
