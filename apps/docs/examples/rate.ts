import { limitedAsCompleted, rateLimit } from '@lac/core';

// An API that allows 3 calls per 200 ms: at most 3 task starts in any 200 ms window.
const startedAt = Date.now();
const starts: number[] = [];
const tasks = Array.from({ length: 9 }, (_, index) => () => {
  starts.push(Date.now() - startedAt);
  return index;
});

for await (const _ of limitedAsCompleted(tasks, 9, { rate: rateLimit({ limit: 3, interval: 200 }) })) {
  // consume
}
// The starts come in bursts, one each time the window lets more in (about every 200 ms).
// Group them by the pauses between them: a pause of 100 ms or more begins a new burst.
const bursts: number[] = [];
starts.forEach((t, i) => {
  if (i === 0 || t - starts[i - 1]! >= 100) bursts.push(0);
  bursts[bursts.length - 1]!++;
});
console.log(`${starts.length} tasks started, in bursts of ${bursts.join(', ')}`);
