import { setTimeout as sleep } from 'node:timers/promises';
import { createLimiter } from '@lac/core';

// Same contract as p-limit: `limit(fn, ...args)` returns a promise for fn(...args).
const limit = createLimiter(2);
let peak = 0;

async function resize(name: string, ms: number) {
  peak = Math.max(peak, limit.activeCount);
  await sleep(ms);
  return `${name}.webp`;
}

const images = ['a', 'b', 'c', 'd', 'e'];
const results = await Promise.all(images.map((name, i) => limit(resize, name, 30 + i * 10)));
console.log(results.join(' '));
console.log(`peak active: ${peak}, pending now: ${limit.pendingCount}`);
