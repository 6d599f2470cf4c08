import { setTimeout as sleep } from 'node:timers/promises';

// The classic `limited_as_completed(coros, limit)` recipe, ported from Python: start `limit` tasks,
// then repeatedly yield to the event loop and scan the in-flight set for one that has finished.
// It keeps the limit, but every turn of the loop checks every in-flight task, finished or not.
async function* pollingAsCompleted<T>(tasks: Iterator<() => Promise<T>>, limit: number, counter: { checks: number }) {
  type Entry = { done: boolean; value?: T; promise: Promise<void> };
  const start = (task: () => Promise<T>): Entry => {
    const entry: Entry = { done: false, promise: Promise.resolve() };
    entry.promise = task().then((value) => {
      entry.done = true;
      entry.value = value;
    });
    return entry;
  };
  const inFlight: Entry[] = [];
  while (inFlight.length < limit) {
    const next = tasks.next();
    if (next.done) break;
    inFlight.push(start(next.value));
  }
  while (inFlight.length > 0) {
    await new Promise((resolve) => setImmediate(resolve)); // asyncio.sleep(0)
    for (let i = 0; i < inFlight.length; i++) {
      counter.checks++;
      const entry = inFlight[i]!;
      if (!entry.done) continue;
      inFlight.splice(i, 1);
      const next = tasks.next();
      if (!next.done) inFlight.push(start(next.value));
      yield entry.value as T;
      break;
    }
  }
}

const counter = { checks: 0 };
const tasks = Array.from({ length: 20 }, (_, i) => async () => {
  await sleep(200 / (i + 1));
  return i + 1;
});
const cpuBefore = process.cpuUsage();
let results = 0;
for await (const _ of pollingAsCompleted(tasks[Symbol.iterator](), 5, counter)) results++;
const cpu = process.cpuUsage(cpuBefore);
console.log(`${results} results after ${counter.checks} status checks`);
console.log(`CPU busy for ${Math.round((cpu.user + cpu.system) / 1000)} ms of a run whose tasks only sleep`);
