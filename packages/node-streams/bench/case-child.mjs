// One configuration per process, so neither the peak RSS nor the JIT state of one run pollutes another's.
// Args: stage, limit, count, runs. Prints the wall time of every run and the peak RSS.
import { runCase } from './stages.mjs';

const [stageName, limit, count, runs = '1'] = process.argv.slice(2);
const times = [];
let isComplete = true;
for (let i = 0; i < Number(runs); i++) {
  const result = await runCase(stageName, Number(limit), 'instant', Number(count));
  times.push(result.ms);
  isComplete &&= result.isComplete;
}
process.stdout.write(JSON.stringify({ times, isComplete, maxRss: process.resourceUsage().maxRSS * 1024 }));
