// Issue 11's speed targets, side by side in one run (rounds interleaved, best round counts):
//   20,000 `true` jobs at -j 4 and -j 8: lac (grouped output, the default) vs `xargs -P`; target within 1.3x.
//   lac fetch vs xargs -P + curl (target >= 5x) and vs a plain Node fetch loop at the same concurrency (target within 1.2x),
//   against a server on 127.0.0.1.
//   150 jobs of `sleep 0.2; : {}` at -j 400 under `ulimit -n 64` (lac throttles to its descriptors) vs the ideal for the jobs that fit.
// Run after `pnpm build`: `node bench/speed.mjs` (LAC_BENCH_ROUNDS=N, default 2; LAC_BENCH_JOBS, default 20000).
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { machineLine, table, writeSection } from '../../../scripts/bench-report.mjs';

const lac = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const serverScript = fileURLToPath(new URL('./server.mjs', import.meta.url));
const loopScript = fileURLToPath(new URL('./fetch-loop.mjs', import.meta.url));
const rounds = Number(process.env.LAC_BENCH_ROUNDS ?? 2);
const jobCount = Number(process.env.LAC_BENCH_JOBS ?? 20_000);
const urlCount = 5000;
// curl costs a process per URL: fewer URLs for it, compared by throughput.
const curlCount = 1000;
const concurrency = 64;

if (!existsSync(lac)) throw new Error('Build first: dist/cli.js is missing');

function run(command, args, input) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`));
      else resolve({ seconds, stderr });
    });
    child.stdin.end(input);
  });
}

async function measure(cases) {
  const best = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const { name, command, args, input } of cases) {
      const { seconds } = await run(command, args, input);
      process.stderr.write(`  ${name}: ${seconds.toFixed(2)} s\n`);
      best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, seconds));
    }
  }
  return best;
}

const loadBefore = loadavg()[0];
const items = `${Array.from({ length: jobCount }, (_, i) => i + 1).join('\n')}\n`;
process.stderr.write(`jobs: ${jobCount} x true, ${rounds} rounds\n`);
const jobCases = [4, 8].flatMap((jobs) => [
  {
    name: `lac -j ${jobs} true`,
    command: process.execPath,
    args: [lac, '-j', String(jobs), 'true'],
    input: items,
    jobs,
  },
  {
    name: `xargs -P ${jobs} -n 1 true`,
    command: 'xargs',
    args: ['-P', String(jobs), '-n', '1', 'true'],
    input: items,
    jobs,
  },
]);
const jobTimes = await measure(jobCases);

const server = spawn(process.execPath, [serverScript], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) =>
  server.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim()))),
);
const urlList = (count) =>
  `${Array.from({ length: count }, (_, i) => `http://127.0.0.1:${port}/item/${i}`).join('\n')}\n`;
process.stderr.write(`fetch: ${urlCount} URLs (curl: ${curlCount}) at -j ${concurrency}, ${rounds} rounds\n`);
const fetchCases = [
  {
    name: `lac fetch -j ${concurrency}`,
    command: process.execPath,
    args: [lac, 'fetch', '-j', String(concurrency)],
    input: urlList(urlCount),
    count: urlCount,
  },
  {
    name: `node fetch loop, ${concurrency} workers`,
    command: process.execPath,
    args: [loopScript, String(concurrency)],
    input: urlList(urlCount),
    count: urlCount,
  },
  {
    name: `xargs -P ${concurrency} -n 1 curl -s -o /dev/null`,
    command: 'xargs',
    args: ['-P', String(concurrency), '-n', '1', 'curl', '-s', '-o', '/dev/null'],
    input: urlList(curlCount),
    count: curlCount,
  },
];
let fetchTimes;
try {
  fetchTimes = await measure(fetchCases);
} finally {
  server.kill('SIGTERM');
}

// Descriptor exhaustion: how many jobs fit (lac's warning says), and the time against the ideal for that many at once.
process.stderr.write('EMFILE: 150 x sleep 0.2 at -j 400 under ulimit -n 64\n');
const emfileArgs = [
  '-c',
  `ulimit -n 64; exec "$0" "$@"`,
  process.execPath,
  lac,
  '-j',
  '400',
  'sleep 0.2; : {}',
  ':::',
  ...Array.from({ length: 150 }, (_, i) => String(i)),
];
let emfileBest = Number.POSITIVE_INFINITY;
let fitting = 0;
for (let round = 0; round < rounds; round++) {
  const { seconds, stderr } = await run('/bin/sh', emfileArgs, '');
  fitting = Math.max(fitting, Number(/with (\d+) jobs running/.exec(stderr)?.[1] ?? 0));
  emfileBest = Math.min(emfileBest, seconds);
  process.stderr.write(`  lac under ulimit -n 64: ${seconds.toFixed(2)} s (${fitting} jobs at once)\n`);
}
const startup = (await run(process.execPath, [lac, 'true', ':::', 'x'], '')).seconds;
const emfileIdeal = startup + Math.ceil(150 / Math.max(1, fitting)) * 0.2;

const loadAfter = loadavg()[0];
const rate = (count, seconds) => count / seconds;
const verdict = (isMet) => (isMet ? 'met' : '**missed**');
const jobRows = jobCases.map(({ name }) => {
  const seconds = jobTimes.get(name);
  return [
    `\`${name}\``,
    seconds.toFixed(2),
    `${rate(jobCount, seconds).toFixed(0)} jobs/s`,
    `${((seconds * 1000) / jobCount).toFixed(3)} ms`,
  ];
});
const fetchRows = fetchCases.map(({ name, count }) => {
  const seconds = fetchTimes.get(name);
  return [`\`${name}\``, String(count), seconds.toFixed(2), `${rate(count, seconds).toFixed(0)} URLs/s`];
});
const lacOver = (jobs) => jobTimes.get(`lac -j ${jobs} true`) / jobTimes.get(`xargs -P ${jobs} -n 1 true`);
const fetchRate = (at) => rate(fetchCases[at].count, fetchTimes.get(fetchCases[at].name));
const vsCurl = fetchRate(0) / fetchRate(2);
const vsLoop = fetchRate(1) / fetchRate(0);

const markdown = `## @lac/cli speed (issue 11)

\`\`\`sh
pnpm --filter @lac/cli build && node packages/cli/bench/speed.mjs
\`\`\`

${machineLine()} Best of ${rounds} interleaved rounds; each tool is a subprocess fed its items on stdin, output discarded.
Load average ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end (other work shared the machine; compare the ratios).

### ${jobCount} \`true\` jobs (lac with grouped output, its default)

${table(['command', 'seconds', 'throughput', 'per job'], jobRows)}

### URLs from a 127.0.0.1 server (256-byte bodies) at ${concurrency} at once

${table(['command', 'URLs', 'seconds', 'throughput'], fetchRows)}

### 150 jobs of \`sleep 0.2\` at -j 400 under \`ulimit -n 64\`

lac ran ${fitting} jobs at once (what its descriptors allow); ideal for that many: ${emfileIdeal.toFixed(2)} s (lac's start-up ${startup.toFixed(2)} s + ${Math.ceil(150 / Math.max(1, fitting))} waves of 0.2 s). Measured: ${emfileBest.toFixed(2)} s.

### Targets

${table(
  ['target', 'measured', 'verdict'],
  [
    ['-j 4: lac within 1.3x of xargs -P', `${lacOver(4).toFixed(2)}x`, verdict(lacOver(4) <= 1.3)],
    ['-j 8: lac within 1.3x of xargs -P', `${lacOver(8).toFixed(2)}x`, verdict(lacOver(8) <= 1.3)],
    ['lac fetch >= 5x xargs + curl (throughput)', `${vsCurl.toFixed(1)}x`, verdict(vsCurl >= 5)],
    [
      'lac fetch within 1.2x of a plain Node fetch loop',
      `the loop is ${vsLoop.toFixed(2)}x lac fetch`,
      verdict(vsLoop <= 1.2),
    ],
    [
      'EMFILE throttling close to the ideal (within 1.5x)',
      `${(emfileBest / emfileIdeal).toFixed(2)}x the ideal`,
      verdict(emfileBest / emfileIdeal <= 1.5),
    ],
  ],
)}
`;
writeSection('cli-speed', markdown);
writeFileSync(new URL('./last-speed.md', import.meta.url), markdown);
process.stdout.write(markdown);
