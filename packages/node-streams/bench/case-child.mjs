// One configuration per process, so neither the peak RSS nor the JIT state of one run pollutes another's.
// Args: stage, limit, count, runs. Prints the wall time of every run, the peak RSS, the peak heap and
// the peak old space (V8's used heap and its old generation, sampled every 16,384 items the sink receives and after every run).
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { runCase } from './stages.mjs';

let heapPeak = 0;
// What survives scavenges: flat when nothing is retained per item (the young generation grows with the allocation rate).
let oldSpacePeak = 0;
const sample = () => {
  heapPeak = Math.max(heapPeak, getHeapStatistics().used_heap_size);
  const old = getHeapSpaceStatistics().find((space) => space.space_name === 'old_space');
  if (old !== undefined) oldSpacePeak = Math.max(oldSpacePeak, old.space_used_size);
};

const [stageName, limit, count, runs = '1'] = process.argv.slice(2);
const times = [];
let isComplete = true;
for (let i = 0; i < Number(runs); i++) {
  const result = await runCase(stageName, Number(limit), 'instant', Number(count), sample);
  times.push(result.ms);
  isComplete &&= result.isComplete;
  sample();
}
process.stdout.write(
  JSON.stringify({ times, isComplete, maxRss: process.resourceUsage().maxRSS * 1024, heapPeak, oldSpacePeak }),
);
