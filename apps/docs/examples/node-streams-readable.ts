import { setTimeout as sleep } from 'node:timers/promises';
import { limitedReadable } from '@lac/node-streams';

// A task source as an object-mode Readable, in source order: ready for .pipe(), pipeline() or for await.
const tasks = [120, 30, 60].map((ms, index) => async ({ signal }: { signal: AbortSignal }) => {
  await sleep(ms, undefined, { signal });
  return `chunk ${index}`;
});

const chunks: string[] = [];
for await (const chunk of limitedReadable(tasks, 3, { ordered: true })) chunks.push(chunk as string);
console.log(chunks.join(', '));
