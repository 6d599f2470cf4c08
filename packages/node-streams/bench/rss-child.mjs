// One configuration per process, so the peak RSS of one run does not pollute another's.
import { runCase } from './stages.mjs';

const [stageName, limit, count] = process.argv.slice(2);
const result = await runCase(stageName, Number(limit), 'instant', Number(count));
process.stdout.write(JSON.stringify({ ...result, maxRss: process.resourceUsage().maxRSS * 1024 }));
