// Side by side in one process: chunks through ReadableStream -> stage -> WritableStream, for
// LimitedTransformStream, a plain TransformStream awaiting the same mapper, and a synchronous
// TransformStream (the floor). Run after `pnpm build`: `pnpm --filter @lac/web-streams bench`.
import { LimitedTransformStream } from '../dist/index.js';

const args = new Set(process.argv.slice(2));
const isQuick = args.has('--quick');
const ROUNDS = isQuick ? 1 : 3;
const FAST_CHUNKS = isQuick ? 10_000 : 40_000;
const SLOW_CHUNKS = isQuick ? 256 : 1_024;
const LIMITS = [1, 16, 256];

const atOnce = (x) => Promise.resolve(x * 2);
const oneMs = (x) => new Promise((resolve) => setTimeout(resolve, 1, x * 2));

function source(count) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      // Several chunks per pull, as a real source with a buffer would; the same for every stage.
      for (let n = 0; n < 64 && i < count; n++) controller.enqueue(i++);
      if (i >= count) controller.close();
    },
  });
}

function sink() {
  let sum = 0;
  return new WritableStream({ write(x) { sum += x; } });
}

const stages = {
  floor: () => new TransformStream({ transform(x, c) { c.enqueue(x * 2); } }),
  plain: (mapper) => new TransformStream({ async transform(x, c) { c.enqueue(await mapper(x)); } }),
  limited: (mapper, limit) => new LimitedTransformStream(limit, mapper),
};

async function time(makeStage, count) {
  const start = performance.now();
  await source(count).pipeThrough(makeStage()).pipeTo(sink());
  return performance.now() - start;
}

const results = [];
for (const [kind, mapper, count] of [['at once', atOnce, FAST_CHUNKS], ['1 ms', oneMs, SLOW_CHUNKS]]) {
  for (const limit of LIMITS) {
    const best = { floor: Infinity, plain: Infinity, limited: Infinity };
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of ['floor', 'plain', 'limited']) {
        if (kind === '1 ms' && name === 'plain' && limit !== LIMITS[0] && best.plain !== Infinity) continue;
        const ms = await time(() => stages[name](mapper, limit), count);
        best[name] = Math.min(best[name], ms);
      }
    }
    results.push({ kind, limit, count, ...best });
    console.log(kind, limit, count, best);
  }
}
