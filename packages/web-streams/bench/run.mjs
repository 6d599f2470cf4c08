// @lac/web-streams' stage side by side with a plain TransformStream and the synchronous floor, in one
// process: chunks through `ReadableStream -> stage -> WritableStream`. Medians over interleaved rounds.
// Usage (after building): pnpm bench, i.e. node --expose-gc bench/run.mjs [--quick]   (writes BENCHMARKS.md's web-streams section)
import { machineLine, table, writeSection } from '../../../scripts/bench-report.mjs';
import { LimitedTransformStream } from '../dist/index.js';

const isQuick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const ROUNDS = isQuick ? 2 : 7;
const FAST_CHUNKS = isQuick ? 5_000 : 50_000;
const SLOW_CHUNKS = isQuick ? 200 : 2_000;
const LIMITS = [1, 16, 256];
const WARM_CHUNKS = 200;

/** Summed wall time of the 1 ms mappers in the current run, for slot utilisation. */
let busy = 0;
const mappers = {
  'resolve at once': (x) => Promise.resolve(x * 2),
  '1 ms': (x) => {
    const start = performance.now();
    return new Promise((resolve) =>
      setTimeout(() => {
        busy += performance.now() - start;
        resolve(x * 2);
      }, 1),
    );
  },
};

/** The same source for every stage: a pull source that enqueues one chunk per pull. */
function source(count) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < count) controller.enqueue(i++);
      else controller.close();
    },
  });
}

const stages = {
  'sync TransformStream (floor)': () =>
    new TransformStream({ transform: (x, controller) => controller.enqueue(x * 2) }),
  'TransformStream awaiting the mapper': (mapper) =>
    new TransformStream({
      async transform(x, controller) {
        controller.enqueue(await mapper(x));
      },
    }),
  LimitedTransformStream: (mapper, limit) => new LimitedTransformStream(limit, mapper),
};
const FLOOR = 'sync TransformStream (floor)';
const PLAIN = 'TransformStream awaiting the mapper';
const LIMITED = 'LimitedTransformStream';

async function once(stage, count) {
  let sum = 0;
  let received = 0;
  const sink = new WritableStream({
    write(x) {
      sum += x;
      received++;
    },
  });
  busy = 0;
  const start = performance.now();
  await source(count).pipeThrough(stage).pipeTo(sink);
  const ms = performance.now() - start;
  if (received !== count || sum !== count * (count - 1)) throw new Error(`lost chunks: ${received}/${count}`);
  return ms;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The no-streams ideal for the 1 ms rows: `limit` workers awaiting the mapper over a shared counter. */
async function bareWorkers(mapper, limit, count) {
  let next = 0;
  let sum = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const value = await mapper(next++);
        sum += value;
      }
    }),
  );
  const ms = performance.now() - start;
  if (sum !== count * (count - 1)) throw new Error('bare workers lost results');
  return ms;
}
const bareTimes = {};
/** LimitedTransformStream with 1 ms mappers: per limit, [utilisation, mean mapper ms] of each timed run. */
const slotUse = {};

/** times[kind][limit][stage] = median ms */
const times = {};
for (const [kind, mapper] of Object.entries(mappers)) {
  const count = kind === '1 ms' ? SLOW_CHUNKS : FAST_CHUNKS;
  times[kind] = {};
  for (const limit of LIMITS) {
    const samples = Object.fromEntries(Object.keys(stages).map((name) => [name, []]));
    // One warm-up round, then interleaved rounds so drift hits every stage alike.
    for (let round = -1; round < ROUNDS; round++) {
      for (const [name, make] of Object.entries(stages)) {
        // An untimed run of the same stage first: after the previous stage's mostly idle run, this
        // shared VM takes a while to give the process full speed again, which would be charged to this one.
        // A full collection before that, not before the timed run: V8 drops compiled code in it.
        globalThis.gc?.();
        await once(make(mapper, limit), WARM_CHUNKS);
        const ms = await once(make(mapper, limit), count);
        if (round >= 0) samples[name].push(ms);
        if (round >= 0 && kind === '1 ms' && name === LIMITED)
          (slotUse[limit] ??= []).push([busy / (limit * ms), busy / count]);
      }
    }
    times[kind][limit] = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
    if (kind === '1 ms') {
      const bare = [];
      for (let round = 0; round < ROUNDS; round++) bare.push(await bareWorkers(mapper, limit, count));
      bareTimes[limit] = median(bare);
    }
    console.log(
      kind,
      `limit ${limit}`,
      Object.entries(times[kind][limit])
        .map(([name, ms]) => `${name}: ${ms.toFixed(1)} ms`)
        .join(', '),
    );
  }
}

const fmt = (x) => `${x.toFixed(2)}x`;
const usPerChunk = (ms, count) => `${((ms * 1000) / count).toFixed(2)} µs`;
const rows = [];
for (const [kind] of Object.entries(mappers)) {
  const count = kind === '1 ms' ? SLOW_CHUNKS : FAST_CHUNKS;
  for (const limit of LIMITS) {
    const t = times[kind][limit];
    rows.push([
      kind,
      String(limit),
      count.toLocaleString('en-US'),
      usPerChunk(t[FLOOR], count),
      usPerChunk(t[PLAIN], count),
      usPerChunk(t[LIMITED], count),
      fmt(t[LIMITED] / t[FLOOR]),
      fmt(t[PLAIN] / t[LIMITED]),
    ]);
  }
}

const verdicts = [];
for (const limit of LIMITS) {
  const ratio = times['resolve at once'][limit][LIMITED] / times['resolve at once'][limit][FLOOR];
  verdicts.push(
    `- resolve at once, limit ${limit}: ${fmt(ratio)} the floor's time (target ≤ 1.2x: ${ratio <= 1.2 ? 'met' : `**missed**, ${fmt(ratio)}`}).`,
  );
}
const slow16 = times['1 ms'][16];
const speedup = slow16[PLAIN] / slow16[LIMITED];
// No stage can beat the pipeline's own cost per chunk (the floor) nor 1/16 of the mapper's wall time.
const bestPossible = slow16[PLAIN] / Math.max(slow16[FLOOR], slow16[PLAIN] / 16);
verdicts.push(
  `- 1 ms mappers, limit 16: ${fmt(speedup)} the plain TransformStream's throughput (target ≥ 14x, ideal 16x: ${speedup >= 14 ? 'met' : `**missed**, ${fmt(speedup)}`}). ` +
    `In this run the pipeline alone (the floor) took ${usPerChunk(slow16[FLOOR], SLOW_CHUNKS)} a chunk, so no stage could have done better than ${fmt(bestPossible)} here.`,
);
const use16 = slotUse[16] ?? [];
verdicts.push(
  `- Where the 1 ms rows lose: LimitedTransformStream keeps its slots ${(100 * median(use16.map((u) => u[0]))).toFixed(1)}% busy at limit 16 (median), ` +
    `but a "1 ms" timer takes ${median(use16.map((u) => u[1])).toFixed(2)} ms on average with 16 of them pending (the plain stage's one timer: about ${((times['1 ms'][16][PLAIN] - times['1 ms'][16][FLOOR]) / SLOW_CHUNKS).toFixed(2)} ms a chunk all told).`,
);
verdicts.push(
  `- For reference, the same 1 ms mappers run by plain \`limit\` workers with no streams at all (the ideal): ${LIMITS.map(
    (limit) =>
      `limit ${limit}: ${usPerChunk(bareTimes[limit], SLOW_CHUNKS)} a chunk, ${fmt(times['1 ms'][limit][PLAIN] / bareTimes[limit])} the plain stage's throughput, LimitedTransformStream reaching ${Math.round((100 * bareTimes[limit]) / times['1 ms'][limit][LIMITED])}% of it`,
  ).join('; ')}.`,
);

const markdown = `## @lac/web-streams

\`\`\`sh
npx -y pnpm@12.4.2 turbo run build --filter=@lac/web-streams... && cd packages/web-streams && node --expose-gc bench/run.mjs${isQuick ? ' --quick' : ''}
\`\`\`

${machineLine()}${isQuick ? ' **Quick run: fewer chunks and rounds; not the figures to quote.**' : ''}

Chunks (numbers) through \`ReadableStream -> stage -> WritableStream\` (\`source.pipeThrough(stage).pipeTo(sink)\`), median of ${ROUNDS} interleaved rounds after one warm-up round; every timed run follows an untimed ${WARM_CHUNKS}-chunk run of the same stage. Stages: the synchronous \`TransformStream\` (\`controller.enqueue(x * 2)\`, the floor: what Node's web streams cost by themselves), a plain \`TransformStream\` whose \`transform\` awaits the mapper (one chunk at a time, so it ignores the limit), and \`new LimitedTransformStream(limit, mapper)\`. Mappers: \`Promise.resolve(x * 2)\` (${FAST_CHUNKS.toLocaleString('en-US')} chunks), and a 1 ms \`setTimeout\` (only ${SLOW_CHUNKS.toLocaleString('en-US')} chunks, since the plain stage takes over a millisecond per chunk; its "floor" column is the same synchronous stage, shown for the pipeline's own cost). Time per chunk; lower is better.

${table(['mapper', 'limit', 'chunks', 'floor', 'plain TransformStream', 'LimitedTransformStream', 'Limited / floor (time)', 'Limited speed-up over plain'], rows)}

Targets:

${verdicts.join('\n')}
`;
writeSection('web-streams', markdown);
console.log(markdown);
