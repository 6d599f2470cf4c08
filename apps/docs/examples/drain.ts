import { limitedMap } from '@lac/core';

// Stop taking new work but finish what runs (a shutdown signal, a quota reached): drain().
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const jobs = Array.from({ length: 100 }, (_, i) => i);

let aborted = 0;
const results = limitedMap(jobs, 4, async (job, { signal }) => {
  await sleep(20);
  if (signal.aborted) aborted++;
  return job;
});
const done: number[] = [];
for await (const job of results) {
  done.push(job);
  if (done.length === 6) results.drain(); // the 4 jobs still running finish and are yielded
}
console.log(`finished ${done.length} jobs, started ${results.stats.started}, ${aborted} aborted`);
