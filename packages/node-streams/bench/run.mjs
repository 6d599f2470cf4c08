// `pnpm bench` in packages/node-streams (after `pnpm build`): 1M objects through
// pipeline(Readable.from(generator), stage, sink) for every stage side by side in this process,
// 1 ms mappers for slot utilisation, and peak RSS with one child process per configuration.
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
const INSTANT_COUNT = quick ? 100_000 : 1_000_000;
const sleepCount = (limit) => (limit === 1 ? 2_000 : 20_000) / (quick ? 10 : 1);
const RSS_COUNTS = [100_000, 1_000_000];
const FLOOR = 'sync Transform (floor)';
const OURS = 'limitedTransform';
const PEERS = ['Readable.map', 'parallel-transform', 'through2-concurrent'];
const CORE = '@lac/core limitedMap (no streams)';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const log = (...args) => console.error(...args);

async function measure(names, kind, countFor, rounds) {
  const times = {};
  const complete = {};
  const utilisation = {};
  // Warm-up, so the first stage measured does not pay everyone's JIT.
  for (let i = 0; i < 2; i++) for (const name of names) for (const limit of LIMITS) await runCase(name, limit, kind, Math.min(countFor(limit), kind === 'instant' ? 100_000 : 500));
  for (let round = 0; round < rounds; round++) {
    for (const limit of LIMITS) {
      for (const name of names) {
        globalThis.gc?.();
        const result = await runCase(name, limit, kind, countFor(limit));
        const key = `${name}@${limit}`;
        (times[key] ??= []).push(result.ms);
        complete[key] = (complete[key] ?? true) && result.isComplete;
        (utilisation[key] ??= []).push(result.busy / (limit * result.ms));
        log(`${kind} round ${round + 1} limit ${limit} ${name}: ${fmt(result.ms)} ms${result.isComplete ? '' : ' (items missing!)'}`);
      }
    }
  }
  const get = (name, limit) => ({
    ms: median(times[`${name}@${limit}`]),
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
  [FLOOR, OURS, ...PEERS, CORE].map((name) => [name === OURS ? `**${name}**` : name, ...LIMITS.map((limit) => cell(name, limit, instant(name, limit)))]),
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

// Peak RSS, one child process per configuration.
const child = fileURLToPath(new URL('./case-child.mjs', import.meta.url));
const rss = {};
for (const name of [FLOOR, OURS, ...PEERS]) {
  for (const count of RSS_COUNTS) {
    const peaks = [];
    for (let i = 0; i < (quick ? 1 : 2); i++) {
      const out = JSON.parse(execFileSync(process.execPath, [child, name, '16', String(quick ? count / 10 : count), '1'], { encoding: 'utf8' }));
      peaks.push(out.maxRss);
    }
    rss[`${name}@${count}`] = Math.min(...peaks);
    log(`rss ${name} ${count}: ${(rss[`${name}@${count}`] / 2 ** 20).toFixed(1)} MiB`);
  }
}
// Resolve-at-once again, each configuration alone in a fresh process, so the JIT specialises for that one stage.
const FRESH_COUNT = quick ? 20_000 : 200_000;
const FRESH_RUNS = 6;
const fresh = {};
for (const limit of LIMITS) {
  for (const name of [FLOOR, OURS, ...PEERS]) {
    const out = JSON.parse(execFileSync(process.execPath, [child, name, String(limit), String(FRESH_COUNT), String(FRESH_RUNS)], { encoding: 'utf8' }));
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
const rssTable = table(
  ['stage (limit 16)', ...RSS_COUNTS.map((count) => `${count.toLocaleString('en')} objects`), '1M / 100k'],
  [FLOOR, OURS, ...PEERS].map((name) => [
    name === OURS ? `**${name}**` : name,
    ...RSS_COUNTS.map((count) => mib(rss[`${name}@${count}`])),
    `${(rss[`${name}@${RSS_COUNTS[1]}`] / rss[`${name}@${RSS_COUNTS[0]}`]).toFixed(2)}x`,
  ]),
);

const ourUtilisation = slow(OURS, 16).utilisation;
const ourRssGrowth = rss[`${OURS}@${RSS_COUNTS[1]}`] / rss[`${OURS}@${RSS_COUNTS[0]}`];
const verdict = (ok) => (ok ? '**met**' : '**missed**');
const targets = [
  `- limitedTransform faster than every peer (Readable.map, parallel-transform, through2-concurrent) in every cell with resolve-at-once mappers: ${verdict(fasterThanPeers.every(Boolean))} (${LIMITS.map((limit, i) => `limit ${limit}: ${fasterThanPeers[i] ? 'yes' : 'no'}`).join(', ')}).`,
  `- limitedTransform within 3x of the floor (a synchronous pass-through Transform in the same pipeline): ${verdict(floorRatios.every((r) => r <= 3))} (${LIMITS.map((limit, i) => `limit ${limit}: ${floorRatios[i].toFixed(2)}x`).join(', ')}).`,
  `- Slot utilisation >= 90% at limit 16 with 1 ms mappers: ${verdict(ourUtilisation >= 0.9)} (${(ourUtilisation * 100).toFixed(1)}%).`,
  `- Peak RSS flat in the item count: ${verdict(ourRssGrowth <= 1.25)} (${mib(rss[`${OURS}@${RSS_COUNTS[0]}`])} at 100k, ${mib(rss[`${OURS}@${RSS_COUNTS[1]}`])} at 1M: ${ourRssGrowth.toFixed(2)}x; "flat" here means at most 1.25x).`,
];

const markdown = `## @lac/node-streams

\`\`\`sh
npx -y pnpm@12.4.2 turbo run build --filter=@lac/node-streams... && cd packages/node-streams && npx -y pnpm@12.4.2 bench
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

How many times slower each peer is than limitedTransform:

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

### Peak RSS (resolve-at-once mappers, limit 16), one child process per configuration
\`process.resourceUsage().maxRSS\` at the end of the run, the lower of two runs.

${rssTable}
`;

writeSection('node-streams', markdown);
console.log(markdown);
