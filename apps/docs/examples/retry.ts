import { limitedMap, retryPolicy } from '@lac/core';

// A flaky service: each call fails twice, then works. The slot is free while a call waits to retry.
const attempts = new Map<number, number[]>();
const call = async (id: number, attempt: number) => {
  attempts.set(id, [...(attempts.get(id) ?? []), attempt]);
  if (attempt < 3) throw Object.assign(new Error(`call ${id} failed`), { retryAfter: attempt === 1 ? 5 : undefined });
  return id;
};

const ids = [1, 2, 3];
const results = limitedMap(ids, 2, (id, { attempt }) => call(id, attempt), {
  retry: retryPolicy({ retries: 3, minDelay: 10 }),
});
for await (const id of results) console.log(`call ${id} succeeded on attempt ${attempts.get(id)!.at(-1)}`);
console.log(`retries: ${results.stats.retries}`);
