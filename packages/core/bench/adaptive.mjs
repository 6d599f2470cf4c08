// Adaptive concurrency against a service with a hidden capacity, on loopback.
//
// A child process serves HTTP on 127.0.0.1: at most C requests are served at once (each takes the base
// latency, +-10%), the rest wait in a FIFO queue, and past 2C in the service it answers 503 at once.
// C changes during a run (phases: 32, then 8, then 24); only the benchmark driver tells the server
// (GET /capacity/N), never the client. Each configuration (fixed limits 1, 2, 4, ..., 128, then
// adaptive AIMD and gradient) runs the same phases with `limitedMapSettled` over an endless source of
// GETs (keep-alive agent), one configuration at a time, and is measured per phase: goodput (2xx per
// second), error rate, p99 latency of the 2xx, and for the adaptive ones the limit over time.
//
// Run from the repo root after building core: node packages/core/bench/adaptive.mjs
// Env: PHASE_MS (default 2500), BASE_MS (default 20), FIXED (the sweep, default 1,2,4,...,128). Writes apps/docs/site/public/adaptive-limit.svg
// and the "Adaptive concurrency" section of BENCHMARKS.md. The whole run takes about 80 s.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const PHASE_MS = Number(process.env.PHASE_MS ?? 2500);
const BASE_MS = Number(process.env.BASE_MS ?? 20);
const CAPACITIES = [32, 8, 24];
const FIXED = (process.env.FIXED ?? '1,2,4,8,16,32,64,128').split(',').map(Number);
const SETTLE_TARGET_MS = 2000;

function serve() {
  let capacity = CAPACITIES[0];
  let active = 0;
  const queue = [];
  const finish = (response) => {
    active--;
    response.end('ok');
    startQueued();
  };
  const startQueued = () => {
    while (active < capacity && queue.length > 0) {
      active++;
      const response = queue.shift();
      setTimeout(finish, BASE_MS * (0.9 + 0.2 * Math.random()), response);
    }
  };
  const server = http.createServer((request, response) => {
    const url = request.url ?? '/';
    if (url.startsWith('/capacity/')) {
      capacity = Number(url.slice('/capacity/'.length));
      startQueued();
      response.end(String(capacity));
      return;
    }
    if (active + queue.length >= 2 * capacity) {
      response.statusCode = 503;
      response.end('busy');
      return;
    }
    queue.push(response);
    startQueued();
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('disconnect', () => process.exit(0));
}

async function drive() {
  const { adaptive, limitedMapSettled } = await import('../dist/index.js');
  const { machineLine, writeSection } = await import('../../../scripts/bench-report.mjs');
  const loadBefore = loadavg()[0];
  const child = fork(fileURLToPath(import.meta.url), ['server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const get = (path) =>
    new Promise((resolve, reject) => {
      const request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
        response.resume();
        response.on('end', () => {
          if (response.statusCode === 200) resolve(response.statusCode);
          else reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }));
        });
      });
      request.on('error', reject);
    });

  async function runOne(name, limit) {
    await get(`/capacity/${CAPACITIES[0]}`);
    const records = [];
    const trace = [];
    const t0 = performance.now();
    const run = limitedMapSettled(
      (function* () {
        for (;;) yield 0;
      })(),
      limit,
      async () => {
        const start = performance.now() - t0;
        try {
          await get('/work');
          records.push({ end: performance.now() - t0, latency: performance.now() - t0 - start, ok: true });
        } catch (error) {
          records.push({ end: performance.now() - t0, latency: performance.now() - t0 - start, ok: false });
          throw error;
        }
      },
    );
    const sampler = setInterval(() => trace.push({ t: performance.now() - t0, limit: run.stats.limit }), 10);
    const timers = CAPACITIES.slice(1).map((capacity, i) =>
      setTimeout(() => void get(`/capacity/${capacity}`), PHASE_MS * (i + 1)),
    );
    const stop = setTimeout(() => run.drain(), PHASE_MS * CAPACITIES.length);
    for await (const _ of run);
    clearInterval(sampler);
    clearTimeout(stop);
    for (const timer of timers) clearTimeout(timer);
    const phases = CAPACITIES.map((capacity, i) => {
      const from = i * PHASE_MS;
      const to = from + PHASE_MS;
      const inPhase = records.filter((record) => record.end >= from && record.end < to);
      const ok = inPhase
        .filter((record) => record.ok)
        .map((record) => record.latency)
        .sort((a, b) => a - b);
      const p99 = ok.length === 0 ? Number.NaN : ok[Math.min(ok.length - 1, Math.floor(ok.length * 0.99))];
      const points = trace.filter((point) => point.t >= from && point.t < to);
      // Settled: the first moment from which the limit stays in [0.8C, 2C] (full goodput, no 503) to the phase's end.
      let settle = 0;
      for (const point of points)
        if (point.limit < 0.8 * capacity || point.limit > 2 * capacity) settle = point.t - from + 10;
      const inBand =
        points.filter((point) => point.limit >= 0.8 * capacity && point.limit <= 2 * capacity).length /
        Math.max(1, points.length);
      return {
        capacity,
        goodput: (ok.length * 1000) / PHASE_MS,
        errorRate: inPhase.length === 0 ? 0 : 1 - ok.length / inPhase.length,
        p99,
        settle,
        inBand,
      };
    });
    if (typeof limit !== 'number') {
      const every = trace.filter((_, i) => i % 25 === 0).map((point) => point.limit);
      process.stderr.write(`${name} limit every 250 ms: ${every.join(' ')}\n`);
    }
    process.stderr.write(
      `${name}: ${phases.map((p) => `C=${p.capacity} ${p.goodput.toFixed(0)}/s err ${(p.errorRate * 100).toFixed(1)}% p99 ${p.p99.toFixed(1)}`).join(' | ')}\n`,
    );
    return { name, phases, trace };
  }

  const fixed = [];
  for (const n of FIXED) fixed.push(await runOne(`fixed ${n}`, n));
  const adaptiveRuns = [
    await runOne('aimd', adaptive({ algorithm: 'aimd' })),
    await runOne('gradient', adaptive({ algorithm: 'gradient' })),
  ];
  agent.destroy();
  child.disconnect();

  // The best fixed limit per phase, in hindsight: among those with at most 1% errors, the highest
  // goodput; within 2% of it, the lowest p99.
  const best = CAPACITIES.map((_, i) => {
    const clean = fixed.filter((run) => run.phases[i].errorRate <= 0.01);
    const top = Math.max(...clean.map((run) => run.phases[i].goodput));
    const near = clean.filter((run) => run.phases[i].goodput >= 0.98 * top);
    return near.reduce((a, b) => (b.phases[i].p99 < a.phases[i].p99 ? b : a));
  });

  const lines = [];
  const misses = [];
  lines.push(
    '## Adaptive concurrency: `adaptive()` against a service with a hidden capacity',
    '',
    '`npx -y pnpm@12.4.2 --filter @lac/core build && node packages/core/bench/adaptive.mjs` (about 80 s; writes this section and apps/docs/site/public/adaptive-limit.svg).',
    '',
    `${machineLine()} Load average (1 min) ${loadBefore.toFixed(1)} before and ${loadavg()[0].toFixed(1)} after, on 2 cores shared with other work: every configuration runs at a different time, so the noise between rows is large.`,
    '',
    `A child process serves HTTP on 127.0.0.1: C requests at a time take ${BASE_MS} ms (+-10%), the rest queue (FIFO), and past 2C in the service it answers 503 at once. C is ${CAPACITIES.join(', then ')}, ${PHASE_MS} ms each; only the driver tells the server. Each configuration runs \`limitedMapSettled\` over an endless source of GETs (keep-alive) through all phases; per phase: goodput (200s per second), error rate (503s), p99 latency of the 200s. The adaptive ones use the defaults (\`adaptive({ algorithm })\`: initial 8, 1 to 256).`,
    '',
  );
  lines.push('| configuration | ' + CAPACITIES.map((c) => `C=${c}: goodput/s, errors, p99 ms`).join(' | ') + ' |');
  lines.push('|---|' + CAPACITIES.map(() => '---').join('|') + '|');
  for (const run of [...fixed, ...adaptiveRuns]) {
    lines.push(
      `| ${run.name} | ` +
        run.phases
          .map((p) => `${p.goodput.toFixed(0)}, ${(p.errorRate * 100).toFixed(1)}%, ${p.p99.toFixed(1)}`)
          .join(' | ') +
        ' |',
    );
  }
  lines.push(
    '',
    '| algorithm, phase | best fixed (hindsight) | goodput vs best (target >= 90%) | error rate (<= 1%) | p99 vs best (<= 1.5x) | settle (<= 2 s) | time in [0.8C, 2C] after settling |',
  );
  lines.push('|---|---|---|---|---|---|---|');
  for (const run of adaptiveRuns) {
    run.phases.forEach((p, i) => {
      const b = best[i].phases[i];
      const mark = (isMet) => (isMet ? '' : ' **miss**');
      const goodput = p.goodput / b.goodput;
      const p99 = p.p99 / b.p99;
      const name = `${run.name}, C=${p.capacity}`;
      if (goodput < 0.9)
        misses.push(`${name}: goodput ${(goodput * 100).toFixed(0)}% of ${best[i].name} (target >= 90%)`);
      if (p.errorRate > 0.01) misses.push(`${name}: error rate ${(p.errorRate * 100).toFixed(2)}% (target <= 1%)`);
      if (!(p99 <= 1.5))
        misses.push(
          `${name}: p99 ${p.p99.toFixed(1)} ms, ${p99.toFixed(2)}x ${best[i].name}'s ${b.p99.toFixed(1)} ms (target <= 1.5x)`,
        );
      if (p.settle > SETTLE_TARGET_MS)
        misses.push(`${name}: settled after ${(p.settle / 1000).toFixed(2)} s (target <= 2 s)`);
      lines.push(
        `| ${name} | ${best[i].name} (${b.goodput.toFixed(0)}/s, p99 ${b.p99.toFixed(1)} ms) | ${(goodput * 100).toFixed(0)}%${mark(goodput >= 0.9)} | ${(p.errorRate * 100).toFixed(2)}%${mark(p.errorRate <= 0.01)} | ${p99.toFixed(2)}x${mark(p99 <= 1.5)} | ${(p.settle / 1000).toFixed(2)} s${mark(p.settle <= SETTLE_TARGET_MS)} | ${(p.inBand * 100).toFixed(0)}% |`,
      );
    });
  }
  lines.push(
    '',
    `Settle: from the change of C (the start, for the first phase) until the limit stays within [0.8C, 2C] to the end of the phase, sampled every 10 ms. Targets missed in this run (${misses.length}):`,
    '',
  );
  for (const miss of misses) lines.push(`- ${miss}`);
  lines.push('', NOTES);
  const markdown = lines.join('\n');
  console.log(markdown);
  writeSection('adaptive', markdown);

  const svgPath = fileURLToPath(new URL('../../../apps/docs/site/public/adaptive-limit.svg', import.meta.url));
  writeFileSync(svgPath, chart(adaptiveRuns));
  console.log(`\nChart: ${svgPath}`);
}

const NOTES = `Why the misses, as far as measured:
- Errors when C drops: at the moment C falls from 32 to 8 every request beyond 2C = 16 that is in flight or sent next is answered 503 at once, whatever the controller does: a limit of 40 (gradient's 1.25C) loses about 24 requests before any decision can be made, which is 2-3% of a 2.5 s phase at 400 requests/s. Windows end at the first overload (and ignore what started before the change), so the limit falls 0.75x per round trip after that; the rest is those round trips. A longer phase dilutes it (the target is per phase).
- AIMD by design learns only from errors: it climbs until the service answers 503 (2C here), so it runs queued at 1.5-2C with latency up to 2x the base; p99 against the best fixed limit misses whenever that limit runs unqueued. Use gradient (the default) when latency matters. Its settle time can miss for the same reason: each probe goes one past 2C, out of the band, before it backs off.
- p99 over a phase includes the phase's first moments: when C falls from 32 to 8, the ~40 requests in flight queue behind 8 at up to 5x the base latency, about 1-2% of the phase's requests, which a fixed limit of 8 never sees. (Not measured separately: the table reports the whole phase.)
- Gradient reacts to latency, and on this loaded machine the client's own event-loop delays raise the latency it sees: it backs off under CPU noise that a fixed limit ignores, which costs goodput in some phases.
- The best fixed limit is chosen in hindsight per phase from one sweep; with the load swinging between rows, a fixed limit's p99 is itself noisy (compare the fixed rows across phases with the same C).`;

/** Limit over time against C (and 2C, where the service starts answering 503), one line per algorithm. */
function chart(runs) {
  const width = 760;
  const height = 320;
  const left = 48;
  const right = 120;
  const top = 16;
  const bottom = 36;
  const total = PHASE_MS * CAPACITIES.length;
  const yMax =
    Math.max(2 * Math.max(...CAPACITIES), ...runs.flatMap((run) => run.trace.map((point) => point.limit))) * 1.05;
  const x = (t) => left + ((width - left - right) * t) / total;
  const y = (v) => top + (height - top - bottom) * (1 - v / yMax);
  const step = (factor) =>
    CAPACITIES.map(
      (c, i) =>
        `${i === 0 ? 'M' : 'L'}${x(i * PHASE_MS).toFixed(1)},${y(c * factor).toFixed(1)} L${x((i + 1) * PHASE_MS).toFixed(1)},${y(c * factor).toFixed(1)}`,
    ).join(' ');
  const colours = { aimd: '#d9480f', gradient: '#1c7ed6' };
  const paths = runs.map(
    (run) =>
      `<path d="${run.trace.map((point, i) => `${i === 0 ? 'M' : 'L'}${x(point.t).toFixed(1)},${y(point.limit).toFixed(1)}`).join(' ')}" fill="none" stroke="${colours[run.name]}" stroke-width="1.8"/>`,
  );
  const yTicks = [0, 16, 32, 48, 64].filter((v) => v <= yMax);
  const xTicks = Array.from({ length: Math.floor(total / 1000) + 1 }, (_, s) => s);
  const legend = [
    ['capacity C', '#212529', ''],
    ['2C (503 above)', '#868e96', ' stroke-dasharray="5 4"'],
    ['AIMD', colours.aimd, ''],
    ['gradient', colours.gradient, ''],
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="${width}" height="${height}" fill="#fff"/>
${yTicks.map((v) => `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e9ecef"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`).join('\n')}
${xTicks.map((s) => `<text x="${x(s * 1000)}" y="${height - bottom + 16}" text-anchor="middle">${s} s</text>`).join('\n')}
<text x="12" y="${top + (height - top - bottom) / 2}" transform="rotate(-90 12 ${top + (height - top - bottom) / 2})" text-anchor="middle">limit</text>
<path d="${step(2)}" fill="none" stroke="#868e96" stroke-dasharray="5 4"/>
<path d="${step(1)}" fill="none" stroke="#212529" stroke-width="2"/>
${paths.join('\n')}
${legend.map(([label, colour, dash], i) => `<line x1="${width - right + 10}" x2="${width - right + 34}" y1="${top + 10 + i * 20}" y2="${top + 10 + i * 20}" stroke="${colour}" stroke-width="2"${dash}/><text x="${width - right + 40}" y="${top + 14 + i * 20}">${label}</text>`).join('\n')}
</svg>
`;
}

// Last, so that every constant above is initialised before the driver runs.
if (process.argv[2] === 'server') serve();
else await drive();
