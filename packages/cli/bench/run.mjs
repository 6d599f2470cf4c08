// lac against GNU parallel and xargs -P (2,000 trivial jobs at -j 8), and lac fetch against
// xargs + curl (5,000 URLs from a local server at -j 64). Each tool runs as a subprocess, rounds
// interleaved; the best round of each counts. Run after `pnpm build`: `node bench/run.mjs`.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { machineLine, table, writeSection } from '../../../scripts/bench-report.mjs';

const lac = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const serverScript = fileURLToPath(new URL('./server.mjs', import.meta.url));
const rounds = Number(process.env.LAC_BENCH_ROUNDS ?? 2);
const jobCount = 2000;
const urlCount = 5000;

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
      else resolve(seconds);
    });
    child.stdin.end(input);
  });
}

async function measure(cases, input) {
  const best = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const { name, command, args } of cases) {
      const seconds = await run(command, args, input);
      process.stderr.write(`  ${name}: ${seconds.toFixed(2)} s\n`);
      best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, seconds));
    }
  }
  return best;
}

const loadBefore = loadavg()[0];
const items = `${Array.from({ length: jobCount }, (_, i) => i + 1).join('\n')}\n`;
process.stderr.write(`jobs: ${jobCount} x true {} at -j 8, ${rounds} rounds\n`);
const jobCases = [
  { name: 'lac -j 8 true {}', command: process.execPath, args: [lac, '-j', '8', 'true', '{}'] },
  { name: 'parallel --will-cite -j 8 true {}', command: 'parallel', args: ['--will-cite', '-j', '8', 'true', '{}'] },
  { name: 'xargs -P 8 -I{} true {}', command: 'xargs', args: ['-P', '8', '-I{}', 'true', '{}'] },
];
const jobTimes = await measure(jobCases, items);

const server = spawn(process.execPath, [serverScript], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) =>
  server.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim()))),
);
const urls = `${Array.from({ length: urlCount }, (_, i) => `http://127.0.0.1:${port}/item/${i}`).join('\n')}\n`;
process.stderr.write(`fetch: ${urlCount} URLs at -j 64, ${rounds} rounds\n`);
const fetchCases = [
  { name: 'lac fetch -j 64', command: process.execPath, args: [lac, 'fetch', '-j', '64'] },
  {
    name: 'xargs -P 64 -I{} curl -s -o /dev/null {}',
    command: 'xargs',
    args: ['-P', '64', '-I{}', 'curl', '-s', '-o', '/dev/null', '{}'],
  },
];
let fetchTimes;
try {
  fetchTimes = await measure(fetchCases, urls);
} finally {
  server.kill('SIGTERM');
}

const loadAfter = loadavg()[0];
const rate = (count, seconds) => count / seconds;
const lacJobs = rate(jobCount, jobTimes.get(jobCases[0].name));
const parallelJobs = rate(jobCount, jobTimes.get(jobCases[1].name));
const xargsJobs = rate(jobCount, jobTimes.get(jobCases[2].name));
const lacFetch = rate(urlCount, fetchTimes.get(fetchCases[0].name));
const curlFetch = rate(urlCount, fetchTimes.get(fetchCases[1].name));

const rows = (cases, times, count, unit) =>
  cases.map(({ name }) => {
    const seconds = times.get(name);
    return [
      `\`${name}\``,
      seconds.toFixed(2),
      `${rate(count, seconds).toFixed(0)} ${unit}/s`,
      `${((seconds * 1000) / count).toFixed(2)} ms`,
    ];
  });

const verdict = (isMet) => (isMet ? 'met' : '**missed**');
const vsParallel = lacJobs / parallelJobs;
const vsXargs = xargsJobs / lacJobs;
const vsCurl = lacFetch / curlFetch;
const markdown = `## @lac/cli

\`\`\`sh
pnpm --filter @lac/cli build && pnpm --filter @lac/cli bench   # node packages/cli/bench/run.mjs
\`\`\`

${machineLine()} Best of ${rounds} interleaved rounds; each tool is a subprocess fed its items on stdin, output discarded.
Load average ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end (other work shared the machine; compare the ratios, not the absolute times).

### ${jobCount} trivial jobs (\`true {}\`) at 8 at once

${table(['command', 'seconds', 'throughput', 'per job'], rows(jobCases, jobTimes, jobCount, 'jobs'))}

### ${urlCount} URLs from a local 127.0.0.1 server (256-byte bodies) at 64 at once

${table(['command', 'seconds', 'throughput', 'per URL'], rows(fetchCases, fetchTimes, urlCount, 'URLs'))}

### Targets

${table(
  ['target', 'measured', 'verdict'],
  [
    ['lac >= 2x GNU parallel throughput', `${vsParallel.toFixed(2)}x`, verdict(vsParallel >= 2)],
    ['lac within 2x of xargs -P (xargs / lac <= 2)', `xargs is ${vsXargs.toFixed(2)}x lac`, verdict(vsXargs <= 2)],
    ['lac fetch >= 5x xargs + curl', `${vsCurl.toFixed(2)}x`, verdict(vsCurl >= 5)],
  ],
)}
`;
writeSection('cli', markdown);
// A copy beside the script, in case another benchmark rewrites BENCHMARKS.md at the same moment.
writeFileSync(new URL('./last-run.md', import.meta.url), markdown);
process.stdout.write(markdown);
