import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { limitedAsCompleted, slotsFrom } from '@lac/core';
import { redisSlots } from '@lac/redis';

// One worker process. Start as many as you like, on as many machines: they share the key's limit.
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const slots = redisSlots({ client: redis, key: 'partner-api', limit: 5, leaseMs: 5_000 });

let peak = 0; // the most tasks running at once across all workers, as seen from here
const tasks = Array.from({ length: 20 }, (_, i) => async ({ signal }: { signal: AbortSignal }) => {
  peak = Math.max(peak, await redis.incr('partner-api:running')); // count every worker's running tasks
  await sleep(20 + (i % 3) * 10, undefined, { signal }); // the call to the partner API
  await redis.decr('partner-api:running');
  return i;
});

let done = 0;
// At most 3 at once in this process, and at most 5 across every process using 'partner-api'.
for await (const _ of limitedAsCompleted(tasks, 3, { slots: slotsFrom(slots) })) done++;
slots.close();
redis.disconnect();
console.log(JSON.stringify({ done, peak }));
