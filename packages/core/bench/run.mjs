// @lac/core side by side with its peers, in one process, on the same lazy source of task functions.
// Each figure is the median time over interleaved rounds, as a ratio to a bare loop of `limit` workers
// draining one shared iterator (the floor for any scheduler). Then peak RSS per contestant, each in its
// own child process. Usage: node bench/run.mjs [--quick]   (writes BENCHMARKS.md's core section)
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { newQueue } from '@henrygd/queue';
import { PromisePool } from '@supercharge/promise-pool';
import asyncLib from 'async';
import { Effect } from 'effect';
import fastq from 'fastq';
import { from as ixFrom } from 'ix/asynciterable';
import { flatMap as ixFlatMap } from 'ix/asynciterable/operators';
import parallel from 'it-parallel';
import pLimit from 'p-limit';
import pMap, { pMapIterable } from 'p-map';
import PQueue from 'p-queue';
import { from as rxFrom, lastValueFrom, mergeMap, reduce } from 'rxjs';
import { transform } from 'streaming-iterables';
import asyncPool from 'tiny-async-pool';
import { createLimiter, limitedAsCompleted, limitedMap, perKey, rateLimit, retryPolicy } from '@lac/core';
import { machineLine, table, writeSection } from '../../../scripts/bench-report.mjs';
import { ratioChart } from './chart.mjs';
import { minimalIterator } from './minimal-iterator.mjs';

const makers = {
  immediate: (i) => () => Promise.resolve(i),
  setImmediate: (i) => () => new Promise((resolve) => setImmediate(resolve, i)),
};

function* source(count, kind) {
  const make = makers[kind];
  for (let i = 0; i < count; i++) yield make(i);
}

const call = (task) => task();

/**
 * Options that are set but never hold a task back: 1,000 keys in turn with one running per key (at
 * most 256 run, so no two of one key meet), a window of a billion a second, retries for tasks that
 * never fail.
 */
const neverBinding = {
  perKey: perKey((_, index) => index % 1000, 1),
  rate: rateLimit({ limit: 1e9, interval: 1000 }),
  retry: retryPolicy({ retries: 3 }),
};

/** Each contestant drains `tasks` with `limit` and returns the sum of results (so no work is skipped). */
const contestants = {
  'bare loop (floor)': async (tasks, limit) => {
    let sum = 0;
    const worker = async () => {
      for (const task of tasks) {
        const value = await task(); // not `sum += await`: that reads `sum` before the await
        sum += value;
      }
    };
    await Promise.all(Array.from({ length: limit }, worker));
    return sum;
  },
  'minimal iterator': async (tasks, limit) => {
    let sum = 0;
    for await (const value of minimalIterator(tasks, limit)) sum += value;
    return sum;
  },
  'lac limitedAsCompleted': async (tasks, limit) => {
    let sum = 0;
    for await (const value of limitedAsCompleted(tasks, limit)) sum += value;
    return sum;
  },
  'lac limitedAsCompleted ordered': async (tasks, limit) => {
    let sum = 0;
    for await (const value of limitedAsCompleted(tasks, limit, { ordered: true })) sum += value;
    return sum;
  },
  'lac limitedAsCompleted key+rate+retry (never bind)': async (tasks, limit) => {
    let sum = 0;
    for await (const value of limitedAsCompleted(tasks, limit, neverBinding)) sum += value;
    return sum;
  },
  'lac limitedMap': async (tasks, limit) => {
    let sum = 0;
    for await (const value of limitedMap(tasks, limit, call)) sum += value;
    return sum;
  },
  'lac createLimiter': async (tasks, limit) => {
    const run = createLimiter(limit);
    const results = [];
    for (const task of tasks) results.push(run(task));
    return (await Promise.all(results)).reduce((a, b) => a + b, 0);
  },
  'p-limit': async (tasks, limit) => {
    const run = pLimit(limit);
    const results = [];
    for (const task of tasks) results.push(run(task));
    return (await Promise.all(results)).reduce((a, b) => a + b, 0);
  },
  'p-map': async (tasks, limit) => (await pMap(tasks, call, { concurrency: limit })).reduce((a, b) => a + b, 0),
  'p-map pMapIterable': async (tasks, limit) => {
    let sum = 0;
    for await (const value of pMapIterable(tasks, call, { concurrency: limit })) sum += value;
    return sum;
  },
  'p-map pMapIterable unordered': async (tasks, limit) => {
    let sum = 0;
    for await (const value of pMapIterable(tasks, call, { concurrency: limit, preserveOrder: false })) sum += value;
    return sum;
  },
  'p-queue': async (tasks, limit) => {
    const queue = new PQueue({ concurrency: limit });
    let sum = 0;
    for (const task of tasks) queue.add(task).then((value) => (sum += value));
    await queue.onIdle();
    return sum;
  },
  'it-parallel': async (tasks, limit) => {
    let sum = 0;
    for await (const value of parallel(tasks, { concurrency: limit, ordered: false })) sum += value;
    return sum;
  },
  'streaming-iterables transform': async (tasks, limit) => {
    let sum = 0;
    for await (const value of transform(limit, call, tasks)) sum += value;
    return sum;
  },
  'tiny-async-pool': async (tasks, limit) => {
    let sum = 0;
    for await (const value of asyncPool(limit, tasks, call)) sum += value;
    return sum;
  },
  'async mapLimit': async (tasks, limit) =>
    (await asyncLib.mapLimit(tasks, limit, async (task) => task())).reduce((a, b) => a + b, 0),
  'Node Readable.map': async (tasks, limit) => {
    let sum = 0;
    for await (const value of Readable.from(tasks).map(call, { concurrency: limit })) sum += value;
    return sum;
  },
  'RxJS mergeMap': (tasks, limit) =>
    lastValueFrom(
      rxFrom(tasks).pipe(
        mergeMap((task) => task(), limit),
        reduce((a, b) => a + b, 0),
      ),
      { defaultValue: 0 },
    ),
  'Effect.forEach': async (tasks, limit) =>
    (
      await Effect.runPromise(Effect.forEach(tasks, (task) => Effect.promise(() => task()), { concurrency: limit }))
    ).reduce((a, b) => a + b, 0),
  'IxJS flatMap': async (tasks, limit) => {
    let sum = 0;
    for await (const value of ixFrom(tasks).pipe(ixFlatMap(async (task) => [await task()], limit))) sum += value;
    return sum;
  },
  '@supercharge/promise-pool': async (tasks, limit) => {
    const { results } = await PromisePool.withConcurrency(limit).for(tasks).process(call);
    return results.reduce((a, b) => a + b, 0);
  },
  // Peers of createLimiter (a function that queues calls): every call queued up front.
  fastq: async (tasks, limit) => {
    const queue = fastq.promise(call, limit);
    const results = [];
    for (const task of tasks) results.push(queue.push(task));
    return (await Promise.all(results)).reduce((a, b) => a + b, 0);
  },
  '@henrygd/queue': async (tasks, limit) => {
    const queue = newQueue(limit);
    const results = [];
    for (const task of tasks) results.push(queue.add(task));
    return (await Promise.all(results)).reduce((a, b) => a + b, 0);
  },
};

const BARE = 'bare loop (floor)';
/** The chart of the timing table, beside BENCHMARKS.md (which links it). */
const CHART_FILE = new URL('../../../benchmarks/core-vs-peers.svg', import.meta.url);
// LAC_BENCH_ONLY=name,name limits the timing table to some contestants (the floor always runs).
if (process.env.LAC_BENCH_ONLY) {
  const only = new Set([BARE, ...process.env.LAC_BENCH_ONLY.split(',')]);
  for (const name of Object.keys(contestants)) if (!only.has(name)) delete contestants[name];
}
const LAC = 'lac limitedAsCompleted';

async function runOnce(name, count, kind, limit) {
  // No gc() between runs: a forced full GC shrinks the young generation and penalises whoever allocates next.
  const expected = (count * (count - 1)) / 2;
  // CPU time of this process, not wall time: the machine is shared, and other processes' load
  // stretches wall time unevenly; the contestants are single-threaded JS either way.
  const started = process.cpuUsage();
  const sum = await contestants[name](source(count, kind), limit);
  const used = process.cpuUsage(started);
  const elapsed = (used.user + used.system) / 1000;
  if (sum !== expected) throw new Error(`${name} returned ${sum}, expected ${expected}`);
  return elapsed;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

async function timing({ rounds, counts, limits }) {
  const names = Object.keys(contestants);
  const cells = {}; // cells[kind][limit][name] = median ms
  for (const kind of Object.keys(makers)) {
    cells[kind] = {};
    for (const limit of limits) {
      const count = counts[kind];
      const samples = Object.fromEntries(names.map((name) => [name, []]));
      for (const name of names) await runOnce(name, Math.min(count, 10_000), kind, limit); // warm-up
      for (let round = 0; round < rounds; round++) {
        // Interleave contestants, rotating the order each round, so drift hits everyone alike.
        const order = names.map((_, i) => names[(i + round) % names.length]);
        for (const name of order) samples[name].push(await runOnce(name, count, kind, limit));
      }
      cells[kind][limit] = Object.fromEntries(names.map((name) => [name, median(samples[name])]));
      const bare = cells[kind][limit][BARE];
      console.log(
        `\n${kind} tasks, limit ${limit}, ${count} tasks: bare loop ${bare.toFixed(1)} ms (${((bare * 1000) / count).toFixed(3)} µs/task)`,
      );
      for (const name of names) console.log(`  ${name.padEnd(32)} ${(cells[kind][limit][name] / bare).toFixed(2)}x`);
    }
  }
  return cells;
}

// ---- peak RSS, one child process per contestant --------------------------------------------------
function rssChild(name, count, limit) {
  const run = spawnSync(
    process.execPath,
    ['--max-old-space-size=8192', fileURLToPath(import.meta.url), '--rss-child', name, String(count), String(limit)],
    {
      encoding: 'utf8',
      timeout: 300_000,
    },
  );
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return { error: (run.stderr || `exit ${run.status}`).trim().split('\n').pop() };
  }
}

if (process.argv[2] === '--rss-child') {
  const [, , , name, count, limit] = process.argv;
  const started = performance.now();
  await contestants[name](source(Number(count), 'immediate'), Number(limit));
  const ms = performance.now() - started;
  console.log(JSON.stringify({ maxRssMiB: process.resourceUsage().maxRSS / 1024, ms }));
  process.exit(0);
}

// --smoke: every contestant once on a few tasks at each limit, checking its sum (no timing, no report).
if (process.argv.includes('--smoke')) {
  for (const name of Object.keys(contestants)) {
    for (const limit of [1, 16, 256]) await runOnce(name, 1_000, 'setImmediate', limit);
    console.log(`ok ${name}`);
  }
  process.exit(0);
}

const quick = process.argv.includes('--quick');
/** `--name=N` on the command line, else `fallback` (to keep a run short on a shared machine). */
const flag = (name, fallback) => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
};
const limits = [1, 16, 256];
const counts = {
  immediate: flag('count', quick ? 20_000 : 100_000),
  setImmediate: flag('set-immediate-count', quick ? 10_000 : 50_000),
};
const rounds = flag('rounds', quick ? 3 : 7);
const cells = await timing({ rounds, counts, limits });

const names = Object.keys(contestants);
const rssCount = flag('rss-count', quick ? 100_000 : 1_000_000);
const rss = {};
for (const name of names) {
  rss[name] = rssChild(name, rssCount, 16);
  console.log(
    `peak RSS ${name} (${rssCount} tasks, limit 16): ${rss[name].maxRssMiB?.toFixed(0) ?? rss[name].error} MiB`,
  );
}
const bigCount = flag('big-count', quick ? 1_000_000 : 10_000_000);
const big = { [BARE]: rssChild(BARE, bigCount, 16), [LAC]: rssChild(LAC, bigCount, 16) };
for (const [name, result] of Object.entries(big))
  console.log(`peak RSS ${name} (${bigCount} tasks): ${result.maxRssMiB?.toFixed(0) ?? result.error} MiB`);

// ---- report ----------------------------------------------------------------------------------------
const fmt = (x) => `${x.toFixed(2)}x`;
const header = [
  'contestant',
  ...Object.keys(makers).flatMap((kind) =>
    limits.map((l) => `${kind === 'immediate' ? 'resolve at once' : 'setImmediate'} · ${l}`),
  ),
  `peak RSS, ${rssCount / 1e6}M tasks`,
];
const rows = names.map((name) => [
  name === LAC ? `**${name}**` : name,
  ...Object.keys(makers).flatMap((kind) =>
    limits.map((limit) => fmt(cells[kind][limit][name] / cells[kind][limit][BARE])),
  ),
  rss[name].maxRssMiB === undefined ? `failed: ${rss[name].error}` : `${rss[name].maxRssMiB.toFixed(0)} MiB`,
]);
const floorRow = [
  'bare loop µs/task',
  ...Object.keys(makers).flatMap((kind) =>
    limits.map((limit) => ((cells[kind][limit][BARE] * 1000) / counts[kind]).toFixed(3)),
  ),
  '',
];

const lacVsPeers = [];
const MINIMAL = 'minimal iterator';
const NEVER = 'lac limitedAsCompleted key+rate+retry (never bind)';
const peerNames = names.filter((n) => !n.startsWith('lac') && n !== BARE && n !== MINIMAL);
for (const kind of Object.keys(makers)) {
  for (const limit of limits) {
    const lac = cells[kind][limit][LAC];
    if (peerNames.length === 0) continue;
    const best = peerNames.reduce((a, b) => (cells[kind][limit][a] < cells[kind][limit][b] ? a : b));
    const c = cells[kind][limit];
    lacVsPeers.push({
      kind,
      limit,
      ratio: lac / c[BARE],
      bestPeer: best,
      vsBest: c[best] / lac,
      vsMinimal: c[MINIMAL] === undefined ? undefined : lac / c[MINIMAL],
      never:
        c[NEVER] === undefined
          ? undefined
          : {
              vsMinimal: c[MINIMAL] === undefined ? undefined : c[NEVER] / c[MINIMAL],
              vsBest: c[best] / c[NEVER],
              vsPlain: c[NEVER] / lac,
            },
    });
  }
}
const verdict = (isMet) => (isMet ? 'met' : '**missed**');
const targetLines = lacVsPeers.map(({ kind, limit, ratio, bestPeer, vsBest, vsMinimal, never }) => {
  const target = kind === 'immediate' ? 1.5 : 1.2;
  let line = `- ${kind === 'immediate' ? 'resolve at once' : 'setImmediate'}, limit ${limit}: ${fmt(ratio)} the bare loop (target ≤ ${target}x: ${ratio <= target ? 'met' : `**missed by ${fmt(ratio / target)}**`}); fastest peer ${bestPeer} takes ${fmt(vsBest)} lac's time (${vsBest > 1 ? 'lac faster' : '**lac slower**'}; ≥ 1.10x: ${verdict(vsBest >= 1.1)})`;
  if (vsMinimal !== undefined)
    line += `; ${fmt(vsMinimal)} the minimal iterator (≤ 1.15x: ${verdict(vsMinimal <= 1.15)})`;
  if (never !== undefined) {
    line += `; with key+rate+retry that never bind: ${fmt(never.vsPlain)} the plain run`;
    if (never.vsMinimal !== undefined)
      line += `, ${fmt(never.vsMinimal)} the minimal iterator (≤ 1.15x: ${verdict(never.vsMinimal <= 1.15)})`;
    line += `, fastest peer takes ${fmt(never.vsBest)} its time (≥ 1.10x: ${verdict(never.vsBest >= 1.1)})`;
  }
  return `${line}.`;
});
const bigRatio = big[LAC].maxRssMiB / big[BARE].maxRssMiB;
const md = `## @lac/core vs peers

Command: \`pnpm bench\` (this section: \`cd packages/core && node bench/run.mjs${process.argv
  .slice(2)
  .map((arg) => ` ${arg}`)
  .join('')}\`). ${machineLine()}

CPU time per run (user + system of the benchmark process, which is steadier than wall time on this shared machine) as a ratio to the bare loop (\`limit\` workers each doing \`for (const task of shared) { const value = await task(); sum += value }\`), median of ${rounds} interleaved rounds; ${counts.immediate.toLocaleString('en')} tasks that resolve at once (\`() => Promise.resolve(i)\`), ${counts.setImmediate.toLocaleString('en')} tasks that wait one \`setImmediate\`; all contestants drain the same lazy generator of task functions and sum the results. Lower is better. Peak RSS: each contestant in its own process, ${rssCount.toLocaleString('en')} resolve-at-once tasks at limit 16.

${table(header, [...rows, floorRow])}

![CPU time per contestant and limit as a ratio to the bare loop, resolve-at-once tasks, log scale](benchmarks/core-vs-peers.svg)

Targets (\`limitedAsCompleted\`: ≤ 1.5x the bare loop on resolve-at-once tasks, ≤ 1.2x on setImmediate tasks; issue 13: within 1.15x of the minimal iterator and at least 10% faster than every peer in every cell, with no options and with \`key\`/\`rate\`/\`retry\` set to values that never bind):

${targetLines.join('\n')}

Peak RSS for a ${bigCount.toLocaleString('en')}-task generator at limit 16: bare loop ${big[BARE].maxRssMiB?.toFixed(0)} MiB, limitedAsCompleted ${big[LAC].maxRssMiB?.toFixed(0)} MiB (${fmt(bigRatio)}; target ≤ 1.2x: ${bigRatio <= 1.2 ? 'met' : '**missed**'}).
`;
const chart = ratioChart({
  title: `CPU time as a ratio to the bare loop (log scale), ${counts.immediate.toLocaleString('en')} resolve-at-once tasks; lower is better`,
  limits,
  rows: names
    .filter((name) => name !== BARE)
    .map((name) => ({
      name,
      highlight: name === LAC,
      ratios: limits.map((limit) => cells.immediate[limit][name] / cells.immediate[limit][BARE]),
    }))
    .sort((a, b) => a.ratios[1] - b.ratios[1]),
});
if (!quick || process.argv.includes('--write')) {
  mkdirSync(new URL('../../../benchmarks/', import.meta.url), { recursive: true });
  writeFileSync(CHART_FILE, chart);
  writeSection('core', md);
}
console.log(`\n${md}`);
