import { LimitedTransformStream } from '@lac/web-streams';

// Runs the same in browsers, Deno, Bun, Node and edge workers: web-platform globals only.
const ids = new ReadableStream<number>({
  start(controller) {
    for (let id = 1; id <= 12; id++) controller.enqueue(id);
    controller.close();
  },
});

let running = 0;
let peak = 0;
async function lookUp(id: number, { signal }: { signal: AbortSignal }) {
  peak = Math.max(peak, ++running);
  await new Promise((resolve) => setTimeout(resolve, 10 + (id % 4) * 10)); // e.g. fetch(url, { signal })
  running--;
  if (signal.aborted) throw signal.reason;
  return { id, square: id * id };
}

const results: number[] = [];
await ids
  .pipeThrough(new LimitedTransformStream(4, lookUp, { ordered: true }))
  .pipeTo(new WritableStream({ write: (item) => void results.push(item.square) }));
console.log(`squares in input order: ${results.join(' ')} (peak ${peak} at once)`);
