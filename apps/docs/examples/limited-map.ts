import { setTimeout as sleep } from 'node:timers/promises';
import { limitedMap } from '@lac/core';

// Items can come from an async generator (a paginated API, a file read line by line, a queue...).
async function* userIds() {
  for (let page = 0; page < 3; page++) {
    await sleep(10); // fetching the next page
    for (let i = 0; i < 4; i++) yield page * 4 + i;
  }
}

async function loadProfile(id: number, signal: AbortSignal) {
  await sleep(20 + ((id * 7) % 5) * 10, undefined, { signal });
  return { id, name: `user-${id}` };
}

const names: string[] = [];
for await (const profile of limitedMap(userIds(), 4, (id, { signal }) => loadProfile(id, signal))) {
  names.push(profile.name);
}
console.log(`loaded ${names.length} profiles`);
