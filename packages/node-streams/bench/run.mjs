// `pnpm bench` in packages/node-streams (after `pnpm build`): 1M objects (BENCH_ITEMS) through
// pipeline(Readable.from(generator), stage, sink) for every stage side by side in this process,
// 1 ms mappers for slot utilisation, and peak heap and RSS from 100k to 10M objects with one child
// process per configuration.
// Writes the `node-streams` section of the root BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { machineLine, table, writeSection } from '../../../scripts/bench-report.mjs';
import { runCase } from './stages.mjs';

const quick = process.env.BENCH_QUICK === '1';
const ROUNDS = quick ? 1 : 3;
const SLEEP_ROUNDS = quick ? 1 : 2;
const LIMITS = [1, 16, 256];
const INSTANT_COUNT = quick ? 100_000 : Number(process.env.BENCH_ITEMS ?? 1_000_000);
const sleepCount = (limit) => (limit === 1 ? 2_000 : 20_000) / (quick ? 10 : 1);
const MEMORY_COUNTS = quick ? [10_000, 100_000, 1_000_000] : [100_000, 1_000_000, 10_000_000];
// 10M objects take the peers half a minute or more each: only the floor and ours go that far.
const memoryStages = (count) => (count === MEMORY_COUNTS[2] ? [FLOOR, OURS] : [FLOOR, OURS, ...PEERS]);
const FLOOR = 'sync Transform (floor)';
const OURS = 'limitedTransform';
const PEERS = ['Readable.map', 'parallel-transform', 'through2-concurrent'];
const CORE = '@lac/core limitedMap (no streams)';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const log = (...args) => console.error(...args);

async function measure(names, kind, countFor, rounds) {
  const times = {};
  const cpu = {};
  const complete = {};
  const utilisation = {};
  // Warm-up, so the first stage measured does not pay everyone's JIT.
  for (let i = 0; i < 2; i++)
    for (const name of names)
      for (const limit of LIMITS)
        await runCase(name, limit, kind, Math.min(countFor(limit), kind === 'instant' ? 100_000 : 500));
  for (let round = 0; round < rounds; round++) {
    for (const limit of LIMITS) {
      for (const name of names) {
        globalThis.gc?.();
        const result = await runCase(name, limit, kind, countFor(limit));
        const key = `${name}@${limit}`;
        (times[key] ??= []).push(result.ms);
        (cpu[key] ??= []).push(result.cpuMs);
        complete[key] = (complete[key] ?? true) && result.isComplete;
        (utilisation[key] ??= []).push(result.busy / (limit * result.ms));
        log(
          `${kind} round ${round + 1} limit ${limit} ${name}: ${fmt(result.ms)} ms${result.isComplete ? '' : ' (items missing!)'}`,
        );
      }
    }
  }
  const get = (name, limit) => ({
    ms: median(times[`${name}@${limit}`]),
    cpuMs: median(cpu[`${name}@${limit}`]),
    isComplete: complete[`${name}@${limit}`],
    utilisation: median(utilisation[`${name}@${limit}`]),
  });
  return get;
}

const loadBefore = loadavg()[0];
const instant = await measure([FLOOR, OURS, ...PEERS, CORE], 'instant', () => INSTANT_COUNT, ROUNDS);
const slow = await measure([OURS, ...PEERS, CORE], 'sleep', sleepCount, SLEEP_ROUNDS);

// Targets, resolve-at-once mappers.
const fasterThanPeers = LIMITS.map((limit) => PEERS.every((peer) => instant(OURS, limit).ms < instant(peer, limit).ms));
const floorRatios = LIMITS.map((limit) => instant(OURS, limit).ms / instant(FLOOR, limit).ms);

const cell = (_name, limit, result) => {
  const ratio = result.ms / instant(FLOOR, limit).ms;
  return `${fmt(result.ms)} ms (${ratio.toFixed(2)}x)${result.isComplete ? '' : ' **items missing**'}`;
};
const instantTable = table(
  ['stage', ...LIMITS.map((limit) => `limit ${limit}`)],
  [FLOOR, OURS, ...PEERS, CORE].map((name) => [
    name === OURS ? `**${name}**` : name,
    ...LIMITS.map((limit) => cell(name, limit, instant(name, limit))),
  ]),
);
const peerRatioTable = table(
  ['limit', ...PEERS.map((peer) => `${peer} / limitedTransform`), 'limitedTransform / floor'],
  LIMITS.map((limit, i) => [
    String(limit),
    ...PEERS.map((peer) => `${(instant(peer, limit).ms / instant(OURS, limit).ms).toFixed(2)}x`),
    `${floorRatios[i].toFixed(2)}x`,
  ]),
);
const slowTable = table(
  ['stage', ...LIMITS.map((limit) => `limit ${limit} (${sleepCount(limit).toLocaleString('en')} items)`)],
  [OURS, ...PEERS, CORE].map((name) => [
    name === OURS ? `**${name}**` : name,
    ...LIMITS.map((limit) => {
      const result = slow(name, limit);
      return `${fmt(result.ms)} ms, ${(result.utilisation * 100).toFixed(1)}% busy${result.isComplete ? '' : ' **items missing**'}`;
    }),
  ]),
);

// Peak heap and RSS, one child process per configuration.
const child = fileURLToPath(new URL('./case-child.mjs', import.meta.url));
const memory = {};
for (const count of MEMORY_COUNTS) {
  for (const name of memoryStages(count)) {
    const peaks = [];
    for (let i = 0; i < (quick || count === MEMORY_COUNTS[2] ? 1 : 2); i++) {
      const out = JSON.parse(
        execFileSync(process.execPath, [child, name, '16', String(count), '1'], { encoding: 'utf8' }),
      );
      peaks.push(out);
    }
    memory[`${name}@${count}`] = {
      heap: Math.min(...peaks.map((p) => p.heapPeak)),
      old: Math.min(...peaks.map((p) => p.oldSpacePeak)),
      rss: Math.min(...peaks.map((p) => p.maxRss)),
    };
    log(
      `memory ${name} ${count}: heap ${(memory[`${name}@${count}`].heap / 2 ** 20).toFixed(1)} MiB, rss ${(memory[`${name}@${count}`].rss / 2 ** 20).toFixed(1)} MiB`,
    );
  }
}
// Resolve-at-once again, each configuration alone in a fresh process, so the JIT specialises for that one stage.
const FRESH_COUNT = quick ? 20_000 : 100_000;
const FRESH_RUNS = 6;
const fresh = {};
for (const limit of LIMITS) {
  for (const name of [FLOOR, OURS, ...PEERS]) {
    const out = JSON.parse(
      execFileSync(process.execPath, [child, name, String(limit), String(FRESH_COUNT), String(FRESH_RUNS)], {
        encoding: 'utf8',
      }),
    );
    // The first two runs warm the JIT up; the median of the rest counts.
    fresh[`${name}@${limit}`] = { ms: median(out.times.slice(2)), isComplete: out.isComplete };
    log(`fresh ${name} limit ${limit}: ${fmt(fresh[`${name}@${limit}`].ms)} ms`);
  }
}
const freshTable = table(
  ['stage', ...LIMITS.map((limit) => `limit ${limit}`)],
  [FLOOR, OURS, ...PEERS].map((name) => [
    name === OURS ? `**${name}**` : name,
    ...LIMITS.map((limit) => {
      const result = fresh[`${name}@${limit}`];
      return `${fmt(result.ms)} ms (${(result.ms / fresh[`${FLOOR}@${limit}`].ms).toFixed(2)}x)${result.isComplete ? '' : ' **items missing**'}`;
    }),
  ]),
);

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const [SMALL, , LARGE] = MEMORY_COUNTS;
const memoryTable = table(
  [
    'stage (limit 16)',
    ...MEMORY_COUNTS.map((count) => `${count.toLocaleString('en')} objects: heap / old space / RSS`),
    `old space ${LARGE / 1e6}M / ${SMALL / 1e3}k`,
  ],
  [FLOOR, OURS, ...PEERS].map((name) => [
    name === OURS ? `**${name}**` : name,
    ...MEMORY_COUNTS.map((count) => {
      const m = memory[`${name}@${count}`];
      return m === undefined ? 'not run' : `${mib(m.heap)} / ${mib(m.old)} / ${mib(m.rss)}`;
    }),
    memory[`${name}@${LARGE}`] === undefined
      ? ''
      : `${(memory[`${name}@${LARGE}`].old / memory[`${name}@${SMALL}`].old).toFixed(2)}x`,
  ]),
);
const cpuTable = table(
  ['stage', ...LIMITS.map((limit) => `limit ${limit}`)],
  [FLOOR, OURS, ...PEERS, CORE].map((name) => [
    name === OURS ? `**${name}**` : name,
    ...LIMITS.map(
      (limit) =>
        `${fmt(instant(name, limit).cpuMs)} ms (${(instant(name, limit).cpuMs / instant(FLOOR, limit).cpuMs).toFixed(2)}x)`,
    ),
  ]),
);

const ourUtilisation = slow(OURS, 16).utilisation;
const ourOldGrowth = memory[`${OURS}@${LARGE}`].old / memory[`${OURS}@${SMALL}`].old;
const ourHeapGrowth = memory[`${OURS}@${LARGE}`].heap / memory[`${OURS}@${SMALL}`].heap;
const fasterThanPeersCpu = LIMITS.map((limit) =>
  PEERS.every((peer) => instant(OURS, limit).cpuMs < instant(peer, limit).cpuMs),
);
const floorCpuRatios = LIMITS.map((limit) => instant(OURS, limit).cpuMs / instant(FLOOR, limit).cpuMs);
const verdict = (ok) => (ok ? '**met**' : '**missed**');
const targets = [
  `- limitedTransform faster than every peer (Readable.map, parallel-transform, through2-concurrent) in every cell with resolve-at-once mappers, wall time: ${verdict(fasterThanPeers.every(Boolean))} (${LIMITS.map((limit, i) => `limit ${limit}: ${fasterThanPeers[i] ? 'yes' : 'no'}`).join(', ')}); CPU time: ${verdict(fasterThanPeersCpu.every(Boolean))} (${LIMITS.map((limit, i) => `limit ${limit}: ${fasterThanPeersCpu[i] ? 'yes' : 'no'}`).join(', ')}).`,
  `- limitedTransform within 2x of the floor (a synchronous pass-through Transform in the same pipeline), wall time: ${verdict(floorRatios.every((r) => r <= 2))} (${LIMITS.map((limit, i) => `limit ${limit}: ${floorRatios[i].toFixed(2)}x`).join(', ')}); CPU time: ${verdict(floorCpuRatios.every((r) => r <= 2))} (${LIMITS.map((limit, i) => `limit ${limit}: ${floorCpuRatios[i].toFixed(2)}x`).join(', ')}).`,
  `- Slot utilisation >= 99% at limit 16 with 1 ms mappers: ${verdict(ourUtilisation >= 0.99)} (${(ourUtilisation * 100).toFixed(1)}%).`,
  `- Memory flat from ${SMALL.toLocaleString('en')} to ${LARGE.toLocaleString('en')} objects (the old space's peak: what outlives the young generation): ${verdict(ourOldGrowth <= 1.25)} (${mib(memory[`${OURS}@${SMALL}`].old)} at ${SMALL / 1e3}k, ${mib(memory[`${OURS}@${LARGE}`].old)} at ${LARGE / 1e6}M: ${ourOldGrowth.toFixed(2)}x; "flat" here means at most 1.25x). The whole heap's peak: ${mib(memory[`${OURS}@${SMALL}`].heap)} and ${mib(memory[`${OURS}@${LARGE}`].heap)} (${ourHeapGrowth.toFixed(2)}x; V8 grows the young generation in a long run with a high allocation rate, which the floor's lower rate does not trigger as much).`,
];

const markdown = `## @lac/node-streams

\`\`\`sh
npx -y pnpm@12.4.2 turbo run build --filter=@lac/node-streams... && cd packages/node-streams && ${INSTANT_COUNT === 1_000_000 || quick ? '' : `BENCH_ITEMS=${INSTANT_COUNT} `}npx -y pnpm@12.4.2 bench
\`\`\`

${machineLine()} ${quick ? '**Quick run (BENCH_QUICK=1): 10x fewer items, one round; not the figures to quote.**' : `Each cell is the median of ${ROUNDS} rounds (${SLEEP_ROUNDS} for the 1 ms mappers), stages interleaved in one process (\`node --expose-gc\`, a GC before each case). The machine is shared: 1-minute load average ${loadBefore.toFixed(1)} at the start and ${loadavg()[0].toFixed(1)} at the end of the timed runs, on 2 cores, so absolute times are inflated and only the side-by-side ratios mean much.`}

### Targets
${targets.join('\n')}

### Resolve-at-once mappers: ${INSTANT_COUNT.toLocaleString('en')} objects through \`pipeline(Readable.from(generator), stage, sink)\`
Time, and in brackets the ratio to the floor at the same limit (lower is better). Every stage runs the same \`async (x) => x * 2\`
(callback-style stages call it and pass the result to their callback); the floor is \`new Transform({ transform: (x, _, cb) => cb(null, x * 2) })\`.
\`Readable.map\` is \`Readable.from(generator).map(mapper, { concurrency: limit })\` piped to the sink; parallel-transform runs in its default (ordered) mode, as its unordered mode can hang.
The last row runs \`limitedMap\` over the same generator with \`for await\`, no streams.

${instantTable}

CPU time of the same runs (\`process.cpuUsage()\`; less sensitive than wall time to the other processes on this shared machine), and in brackets the ratio to the floor:

${cpuTable}

How many times slower each peer is than limitedTransform (wall time):

${peerRatioTable}

### The same, each configuration alone in a fresh process
${FRESH_COUNT.toLocaleString('en')} objects, ${FRESH_RUNS} runs per process, the median of the last ${FRESH_RUNS - 2} (the first two warm the JIT up).
Not the measurement the targets are judged on (that is the side-by-side table above); a cross-check that the ordering
of the stages is not an artefact of sharing one process (where V8's optimised code for Node's stream internals serves
every stage at once). Fewer items and more sensitive to the machine's load than the table above.

${freshTable}

### Mappers that wait 1 ms: slot utilisation
Fewer items so that a run stays short: ${sleepCount(1).toLocaleString('en')} at limit 1, ${sleepCount(16).toLocaleString('en')} at limits 16 and 256.
Utilisation = total mapper time / (limit x wall time); a 1 ms timer really waits about 1.1 ms here, which the mapper time includes.

${slowTable}

### Memory (resolve-at-once mappers, limit 16), one child process per configuration
Peak heap: V8's used heap (\`v8.getHeapStatistics().used_heap_size\`), and peak old space (its \`old_space\`, what survived
scavenges), sampled every 16,384 objects the sink receives (these pipelines never let a timer run until they end) and
after the run; peak RSS: \`process.resourceUsage().maxRSS\`.
The lower of two runs (one run at 10M). The peers are not run at 10M (half a minute or more each).

${memoryTable}
`;

writeSection('node-streams', markdown);
console.log(markdown);
