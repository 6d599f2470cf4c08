import { setTimeout as sleep } from 'node:timers/promises';
import { limitedAsSettled } from '@lac/core';

const durations = [50, 400, 80];
const tasks = durations.map((ms) => async ({ signal }: { signal: AbortSignal }) => {
  await sleep(ms, undefined, { signal }); // the signal aborts when the timeout runs out
  return ms;
});

// Each task may run 200 ms; a late one becomes a TimeoutError at the deadline and its signal aborts.
// Its slot frees when the task settles (here at once, since it honours the signal), so the bound always holds.
for await (const outcome of limitedAsSettled(tasks, 2, { timeout: 200 })) {
  if (outcome.status === 'fulfilled') console.log(`task ${outcome.index}: ${outcome.value} ms`);
  else if ((outcome.reason as Error).name === 'TimeoutError') console.log(`task ${outcome.index}: timed out`);
}
