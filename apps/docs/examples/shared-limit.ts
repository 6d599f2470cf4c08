import { createSharedLimit, limitedMap } from '@lac/core';

// Two runs call one service: together they may have at most 3 calls in flight.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const service = createSharedLimit(3);
let inFlight = 0;
let peak = 0;
const callService = async (n: number) => {
  inFlight++;
  peak = Math.max(peak, inFlight);
  await sleep(5);
  inFlight--;
  return n;
};

const items = Array.from({ length: 20 }, (_, i) => i);
const run = async () => {
  let count = 0;
  for await (const _ of limitedMap(items, 4, callService, { slots: service })) count++;
  return count;
};
const [a, b] = await Promise.all([run(), run()]);
console.log(`${a + b} calls, at most ${peak} in flight (each run allows 4)`);
