import { limitedAsCompleted, rateLimit } from '@lac/core';

// An API that allows 3 calls per 200 ms: at most 3 task starts in any 200 ms window.
// The window is measured in Date.now() milliseconds, so measure with the same clock.
const startedAt = Date.now();
const starts: number[] = [];
const tasks = Array.from({ length: 9 }, (_, index) => () => {
  starts.push(Date.now() - startedAt);
  return index;
});

for await (const _ of limitedAsCompleted(tasks, 9, { rate: rateLimit({ limit: 3, interval: 200 }) })) {
  // consume
}
// Count the starts in each 200 ms window after the first start of each group.
// (199, not 200: the scheduler reads the clock just before calling the task, and the task's own
// reading may fall in the next millisecond.)
const busiest = Math.max(...starts.map((t) => starts.filter((s) => s >= t && s < t + 199).length));
console.log(`${starts.length} tasks started; at most ${busiest} in any 200 ms window`);
