import { setTimeout as sleep } from 'node:timers/promises';

// The first attempt: start everything, then take results as they complete.
// Results do arrive in completion order, but nothing limits how many tasks run at once.
let inFlight = 0;
let peak = 0;
async function task(n: number) {
  peak = Math.max(peak, ++inFlight);
  await sleep(1000 / n / 10);
  inFlight--;
  return n;
}

const promises = Array.from({ length: 100 }, (_, i) => task(i + 1)); // all 100 start here
const results = await Promise.all(promises);
console.log(`${results.length} results, peak in flight ${peak}`); // 100: a limit of 10 was wanted
