// @lac/redis benchmark: 4 processes share one limit through a local redis-server, against the same
// tasks with @lac/core alone. Reports throughput, Redis round trips per task (counted by the client
// and cross-checked with INFO commandstats) and slot utilisation (time-averaged running / limit).
// Usage (after build): node bench/run.mjs [--quick]   (writes BENCHMARKS.md's redis section)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { machineLine, table, writeSection } from '../../../scripts/bench-report.mjs';

const isQuick = process.argv.includes('--quick');
const worker = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const cwd = fileURLToPath(new URL('..', import.meta.url));

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  for await (const line of createInterface({ input: child.stdout }))
    if (line.includes('Ready to accept connections')) break;
  return { port, child };
}

/** Spawns `processes` workers, waits until all are ready, starts them together, and collects their reports. */
async function runScenario(port, { processes = 4, tasks, local, shared, taskMs }, key) {
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, [worker, JSON.stringify({ port, key, tasks: tasks / processes, local, shared, taskMs })], {
      cwd,
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const readers = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
  for (const reader of readers) {
    const { value } = await reader.next();
    if (value !== 'ready') throw new Error(`worker said ${value}`);
  }
  for (const child of children) child.stdin.write('go\n');
  const reports = await Promise.all(readers.map(async (reader) => JSON.parse((await reader.next()).value)));
  if (process.env.BENCH_DEBUG) console.log(reports.map((r) => r.stats));
  await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
  const started = Math.min(...reports.map((r) => r.started));
  const finished = Math.max(...reports.map((r) => r.finished));
  const count = reports.reduce((sum, r) => sum + r.count, 0);
  if (count !== tasks) throw new Error(`ran ${count} of ${tasks} tasks`);
  const busy = reports.reduce((sum, r) => sum + r.busy, 0);
  const span = Math.max(...reports.map((r) => r.lastEnd)) - Math.min(...reports.map((r) => r.firstStart));
  const limit = shared ?? local * processes;
  return {
    ms: finished - started,
    perSecond: (tasks / (finished - started)) * 1000,
    commands: reports.reduce((sum, r) => sum + r.commands, 0),
    utilisation: busy / (limit * span),
  };
}

async function scriptCalls(admin) {
  const info = await admin.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/cmdstat_(evalsha|eval):calls=(\d+)/g)) calls += Number(match[2]);
  return calls;
}

const { port, child: redis } = await startRedis();
const admin = new Redis({ port, host: '127.0.0.1' });
const rounds = isQuick ? 1 : 2;
const short = isQuick ? 4000 : 10_000;
const long = isQuick ? 800 : 1600;
// "at the limit": 4 x 8 = 32 tasks want to run, and each run also asks for its next slot, so some
// process usually waits in the queue. "uncontended": 4 x 4 = 16 running, the shared limit never binds.
const scenarios = [
  { name: `${short} short tasks, @lac/core alone, limit 8 per process`, tasks: short, local: 8, taskMs: 0 },
  {
    name: `${short} short tasks, shared limit 32, local limit 8 (at the limit)`,
    tasks: short,
    local: 8,
    shared: 32,
    taskMs: 0,
  },
  {
    name: `${short} short tasks, shared limit 32, local limit 4 (uncontended)`,
    tasks: short,
    local: 4,
    shared: 32,
    taskMs: 0,
  },
  { name: `${long} tasks of 20 ms, @lac/core alone, limit 8 per process`, tasks: long, local: 8, taskMs: 20 },
  {
    name: `${long} tasks of 20 ms, shared limit 32, local limit 8 (at the limit)`,
    tasks: long,
    local: 8,
    shared: 32,
    taskMs: 20,
  },
  {
    name: `${long} tasks of 20 ms, shared limit 32, local limit 16 (contended)`,
    tasks: long,
    local: 16,
    shared: 32,
    taskMs: 20,
  },
];
const load = [];
const results = scenarios.map(() => []);
let run = 0;
for (let round = 0; round < rounds; round++) {
  for (const [i, scenario] of scenarios.entries()) {
    load.push(loadavg()[0]);
    const before = await scriptCalls(admin);
    const result = await runScenario(port, scenario, `bench-${run++}`);
    result.serverCalls = (await scriptCalls(admin)) - before;
    results[i].push(result);
    console.log(
      `round ${round + 1}: ${scenario.name}: ${result.ms.toFixed(0)} ms, ${(result.commands / scenario.tasks).toFixed(2)} round trips/task (server saw ${(result.serverCalls / scenario.tasks).toFixed(2)}), utilisation ${(result.utilisation * 100).toFixed(1)}%`,
    );
  }
}
admin.disconnect();
redis.kill();

const median = (values) => values.slice().sort((a, b) => a - b)[values.length >> 1];
const baseShort = median(results[0].map((r) => r.perSecond));
const rows = scenarios.map((scenario, i) => {
  const rs = results[i];
  const perSecond = median(rs.map((r) => r.perSecond));
  const isShort = scenario.taskMs === 0;
  const base = isShort ? baseShort : median(results[3].map((r) => r.perSecond));
  return [
    scenario.name,
    `${Math.round(perSecond).toLocaleString('en-US')}`,
    `${(perSecond / base).toFixed(2)}x`,
    scenario.shared ? rs.map((r) => (r.commands / scenario.tasks).toFixed(2)).join(' / ') : '-',
    scenario.shared ? rs.map((r) => (r.serverCalls / scenario.tasks).toFixed(2)).join(' / ') : '-',
    rs.map((r) => `${(r.utilisation * 100).toFixed(1)}%`).join(' / '),
  ];
});

const min = (rs) => Math.min(...rs.map((r) => r.utilisation));
const pct = (rs) => rs.map((r) => `${(r.utilisation * 100).toFixed(1)}%`).join(' / ');
const contendedTrips = Math.max(...results[5].map((r) => r.commands / scenarios[5].tasks));
const rate = (i) => median(results[i].map((r) => r.perSecond));
const slowest = Math.max(
  ...results.map((rs) => {
    const mid = median(rs.map((r) => r.ms));
    return Math.max(...rs.map((r) => r.ms / mid));
  }),
);
const markdown = `## @lac/redis: one limit shared by 4 processes through Redis

\`\`\`sh
npx -y pnpm@12.4.2 turbo run build --filter=@lac/redis... && cd packages/redis && npx -y pnpm@12.4.2 bench${isQuick ? ' -- --quick' : ''}
\`\`\`

${machineLine()} A local redis-server 7 (no persistence); 4 worker processes started together; each figure per round (${rounds} rounds), throughput is the median. Round trips per task: the client's count of script calls (acquire, release, renewals, retries of waiters), and the server's INFO commandstats (EVALSHA + EVAL) for the same scenario. Utilisation: total task running time / (limit × time from the first task start to the last task end), limit being 32 (shared) or 4 × 8 (core alone).

${table(['scenario', 'tasks/s', 'vs core alone', 'round trips/task (client)', 'round trips/task (server)', 'utilisation'], rows)}

The machine's 1-minute load average during the runs: ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)} on ${cpus().length} cores (other work shares it), so every Redis round trip also waits for a CPU: read the ratios with that in mind.

Targets (issue 16), each against its figure here: 20 ms tasks at least 97% busy at the limit: **${min(results[4]) >= 0.97 ? 'met' : 'missed'}** (${pct(results[4])}); at least 95% contended: **${min(results[5]) >= 0.95 ? 'met' : 'missed'}** (${pct(results[5])}); at most 1.5 round trips per task contended: **${contendedTrips <= 1.5 ? 'met' : 'missed'}** (${contendedTrips.toFixed(2)}); short tasks at least 25,000 a second uncontended: **${rate(2) >= 25_000 ? 'met' : 'missed'}** (${Math.round(rate(2)).toLocaleString('en-US')}) and 15,000 at the limit: **${rate(1) >= 15_000 ? 'met' : 'missed'}** (${Math.round(rate(1)).toLocaleString('en-US')}); no round more than 2x slower than the median of its scenario: **${slowest <= 2 ? 'met' : 'missed'}** (slowest ${slowest.toFixed(2)}x). @lac/core alone reaches ${(median(results[3].map((r) => r.utilisation)) * 100).toFixed(1)}% with 20 ms tasks by the same measure (first and last waves included). The multi-second stall of earlier runs (a round of 10,000 short tasks taking 4.8 s where the other took 0.37 s) was queue places left in Redis by waiters that had been served locally or closed, which held every other process's waiters up until they lapsed (\`waiterTtlMs\`); places are now given up at once. The protocol measured: a run keeps up to \`limit - running\` acquires pending (\`maxPendingAcquires\`), each process sends one script call per tick for all its asks (a block of grants, each with its own token), releases and places given up, renews all its leases in one call, announces a release with the ids entitled to the freed slots (only their processes ask), and passes a released slot to its own waiter without a round trip when that waiter is at the head of the queue with only its own process's waiters ahead. What it does not do yet: grant a freed slot to the waiter at the head inside the release's own call (the entitled process still needs one round trip to take it), which is most of the remaining gap in the contended case.`;
writeSection('redis', markdown);
console.log(markdown);
