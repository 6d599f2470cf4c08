// The core table's resolve-at-once cells with every run in its own fresh process. bench/run.mjs runs
// all contestants in one process, where each one's figures also depend on what ran before it (the
// JIT's shared feedback on the source, the promise builtins, the garbage collector's state): the same
// engine has measured from 1.17x to 2.79x the bare loop at limit 256 there, between runs. Here each
// run is a new `node` (rounds interleaved across contestants, so load drifts hit them alike) and the
// figure is the median CPU time (user + system) of that process's one run.
//
// Usage: node bench/isolated.mjs [--count=2000000] [--runs=5] [--limits=1,16,256] [contestant ...]
// Contestants: bare, minimal, lac, lac-never-bind, mapLimit, or the path of an ESM bundle of
// packages/core/src/index.ts (another commit's engine: `npx esbuild <its src/index.ts> --bundle
// --format=esm --platform=neutral --target=es2022 --outfile=x.mjs`), which runs its limitedAsCompleted.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((arg) => arg.startsWith('--'))
    .map((arg) => {
      const [name, value = 'true'] = arg.slice(2).split('=');
      return [name, value];
    }),
);
const count = Number(args.count ?? 2_000_000);

function* source(n) {
  for (let i = 0; i < n; i++) yield () => Promise.resolve(i);
}

/**
 * One contestant's drain of `count` tasks at `limit`, its modules already loaded (so the clock covers
 * the run only): it returns the sum of the results, so no work is skipped.
 */
async function prepare(name, limit) {
  if (name === 'bare') {
    return async () => {
      const tasks = source(count);
      let sum = 0;
      const worker = async () => {
        for (const task of tasks) {
          const value = await task();
          sum += value;
        }
      };
      await Promise.all(Array.from({ length: limit }, worker));
      return sum;
    };
  }
  if (name === 'mapLimit') {
    const { default: asyncLib } = await import('async');
    return async () => {
      const results = await asyncLib.mapLimit(source(count), limit, async (task) => task());
      return results.reduce((a, b) => a + b, 0);
    };
  }
  let iterate;
  if (name === 'minimal') {
    const { minimalIterator } = await import('./minimal-iterator.mjs');
    iterate = () => minimalIterator(source(count), limit);
  } else if (name === 'lac' || name === 'lac-never-bind') {
    const core = await import('@lac/core');
    const options = () =>
      name === 'lac'
        ? undefined
        : {
            perKey: core.perKey((_, index) => index % 1000, 1),
            rate: core.rateLimit({ limit: 1e9, interval: 1000 }),
            retry: core.retryPolicy({ retries: 3 }),
          };
    iterate = () => core.limitedAsCompleted(source(count), limit, options());
  } else {
    const core = await import(pathToFileURL(resolve(name)).href);
    iterate = () => core.limitedAsCompleted(source(count), limit);
  }
  return async () => {
    let sum = 0;
    for await (const value of iterate()) sum += value;
    return sum;
  };
}

if (args.child !== undefined) {
  const limit = Number(args.limit);
  const run = await prepare(args.child, limit);
  const start = process.cpuUsage();
  const sum = await run();
  const used = process.cpuUsage(start);
  if (sum !== (count * (count - 1)) / 2) throw new Error(`${args.child} summed ${sum}`);
  process.stdout.write(`${(used.user + used.system) / 1000}\n`);
} else {
  const names = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const contestants = names.length > 0 ? names : ['bare', 'minimal', 'lac', 'lac-never-bind', 'mapLimit'];
  if (!contestants.includes('bare')) contestants.unshift('bare');
  const runs = Number(args.runs ?? 5);
  const limits = (args.limits ?? '1,16,256').split(',').map(Number);
  const self = fileURLToPath(import.meta.url);
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(
    `${count} resolve-at-once tasks, ${runs} runs each in a fresh process, median CPU ms and its ratio to the bare loop`,
  );
  for (const limit of limits) {
    const times = new Map(contestants.map((name) => [name, []]));
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? contestants : [...contestants].reverse();
      for (const name of order) {
        const child = spawnSync(process.execPath, [self, `--child=${name}`, `--limit=${limit}`, `--count=${count}`], {
          encoding: 'utf8',
        });
        if (child.status !== 0) throw new Error(`${name} at limit ${limit} failed: ${child.stderr}`);
        times.get(name).push(Number(child.stdout));
      }
    }
    const bare = median(times.get('bare'));
    const cells = contestants.map((name) => {
      const ms = median(times.get(name));
      return `${name} ${ms.toFixed(0)} ms ${(ms / bare).toFixed(2)}x`;
    });
    console.log(`limit ${limit}: ${cells.join(' | ')}`);
  }
}
