// The shared limit when things do not behave: a worker frozen past its lease (SIGSTOP), Redis frozen,
// Redis restarted with its data lost. Workers are real processes; times are on the machine's
// monotonic clock (CLOCK_MONOTONIC, shared by every process on one Linux machine), in µs.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { limitedAsCompleted, slotsFrom, type TaskContext } from '@lac/core';
import { type RedisLease, RedisSlotsError, redisSlots } from '../src/index.ts';
import { hasRedisServer, keysOf, RedisServer, waitUntil } from './fixtures/redis-server.ts';
import { fencedWorkerFile, Worker, type WorkerEvent } from './fixtures/workers.ts';
import type { FencedWorkerConfig } from './fixtures/fenced-worker.ts';

const now = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function fencedWorker(config: Omit<FencedWorkerConfig, 'pollMs' | 'quarantineMs'> & Partial<FencedWorkerConfig>) {
  return new Worker({ pollMs: 50, quarantineMs: 0, ...config }, fencedWorkerFile);
}

/** The most tasks running at once, and for how long (µs) more than `limit` ran, over every worker's start/end events. */
function overlap(workers: Worker[], limit: number): { max: number; aboveUs: number; spans: number } {
  const points: [number, number][] = [];
  let spans = 0;
  for (const worker of workers) {
    const open = new Map<number, number>();
    for (const event of worker.events) {
      if (event.type === 'start') {
        open.set(event.index as number, event.at as number);
        spans++;
      } else if (event.type === 'end') {
        points.push([open.get(event.index as number)!, 1], [event.at as number, -1]);
        open.delete(event.index as number);
      }
    }
    // A task that never ended (its process died) ran until the end of the test.
    for (const at of open.values()) points.push([at, 1], [Number.POSITIVE_INFINITY, -1]);
  }
  // An end and a start at the same µs: the end first (the slot was free by then).
  points.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let running = 0;
  let max = 0;
  let aboveUs = 0;
  let last = 0;
  for (const [at, step] of points) {
    if (running > limit) aboveUs += at - last;
    running += step;
    max = Math.max(max, running);
    last = at;
  }
  return { max, aboveUs, spans };
}

async function startTogether(workers: Worker[]): Promise<void> {
  await waitUntil(() => workers.every((worker) => worker.of('ready').length === 1 || worker.process.exitCode !== null));
  for (const worker of workers) worker.go();
}

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await RedisServer.start();
  client = server.client();
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

describe.skipIf(!hasRedisServer)('a worker stalled past its lease (SIGSTOP for 2.5x the lease, then SIGCONT)', () => {
  it('aborts the stalled tasks with ERR_LAC_REDIS_LEASE_LOST as soon as it resumes, and the fencing token keeps its late writes out', async () => {
    const key = 'stall';
    const leaseMs = 1000;
    const common = { port: server.port, key, sharedLimit: 1, localLimit: 1, leaseMs, writeEveryMs: 20 };
    const victim = fencedWorker({ ...common, id: 'victim', tasks: 1 });
    await startTogether([victim]);
    await waitUntil(() => victim.of('write').filter((event) => event.accepted).length >= 2);
    // The other worker waits in the queue for the one slot; its tasks outlast the stall.
    const other = fencedWorker({ ...common, id: 'other', tasks: 3, taskMs: 700 });
    await startTogether([other]);
    await waitUntil(async () => (await client.zcard(keysOf(key).queue)) === 1);

    victim.signal('SIGSTOP');
    await sleep(2.5 * leaseMs);
    const resumedAt = now();
    victim.signal('SIGCONT');
    expect(await Promise.all([victim.exited, other.exited])).toEqual([0, 0]);
    expect(victim.stderr + other.stderr).toBe('');

    // The stalled task was aborted with the lease error, promptly after the process resumed.
    const [end] = victim.of('end');
    expect(end).toMatchObject({ code: 'ERR_LAC_REDIS_LEASE_LOST' });
    expect(victim.of('failure')).toMatchObject([{ code: 'ERR_LAC_REDIS_LEASE_LOST' }]);
    const abortMs = ((end!.at as number) - resumedAt) / 1000;
    expect(abortMs).toBeLessThan(2000);
    // The other worker took the slot while the victim was stopped, with a newer token, and finished.
    const [victimStart] = victim.of('start');
    const otherStarts = other.of('start');
    expect(other.of('done')).toMatchObject([{ finished: [0, 1, 2] }]);
    for (const start of otherStarts) expect(start.token as number).toBeGreaterThan(victimStart!.token as number);
    expect(otherStarts[0]!.at as number).toBeLessThan(resumedAt);

    // The protected resource: once the newer token wrote, nothing with the stalled one was accepted.
    const log = (await client.lrange(`resource:{${key}}:log`, 0, -1)).map((line) => line.split(' '));
    const firstNewer = log.findIndex(([, token]) => Number(token) > (victimStart!.token as number));
    expect(firstNewer).toBeGreaterThan(0);
    const late = log.slice(firstNewer).filter(([, , writer]) => writer === 'victim');
    expect(late.every(([outcome]) => outcome === 'rejected')).toBe(true);
    const lateAfterResume = victim.of('write').filter((event) => (event.at as number) >= resumedAt);
    console.info(
      `stall: aborted ${abortMs.toFixed(1)} ms after SIGCONT; ${lateAfterResume.length} write(s) attempted by the stalled task after SIGCONT before its abort, ${late.length} rejected by token`,
    );
  }, 60_000);
});

describe.skipIf(!hasRedisServer)('Redis frozen (SIGSTOP for 3 s)', () => {
  it('fails every run cleanly within leaseMs / 3 + timeoutMs, before any lease can expire, with nothing printed', async () => {
    const own = await RedisServer.start();
    const clients = [own.client({ isQuiet: false }), own.client({ isQuiet: false })];
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const leaseMs = 1500;
      const meter = { running: 0, max: 0, started: 0, aborted: 0 };
      const all = clients.map((c) =>
        redisSlots({ client: c, key: 'frozen', limit: 4, leaseMs, pollMs: 50, quarantineMs: 0 }),
      );
      const holding = () =>
        Array.from({ length: 6 }, () => ({ signal }: TaskContext) => {
          meter.running++;
          meter.started++;
          meter.max = Math.max(meter.max, meter.running);
          return new Promise((_, reject) =>
            signal.addEventListener('abort', () => {
              meter.running--;
              meter.aborted++;
              reject(signal.reason);
            }),
          );
        });
      const outcomes = all.map((slots) =>
        limitedAsCompleted(holding(), 3, { slots: slotsFrom(slots) })
          .next()
          .then(
            () => new Error('expected a rejection'),
            (error: unknown) => ({ error, at: performance.now() }),
          ),
      );
      await waitUntil(() => meter.started === 4);
      const stoppedAt = performance.now();
      own.signal('SIGSTOP');
      const results = await Promise.all(outcomes);
      own.signal('SIGCONT');
      const budget = leaseMs / 3 + leaseMs / 3;
      for (const result of results) {
        const { error, at } = result as { error: unknown; at: number };
        expect(error).toBeInstanceOf(RedisSlotsError);
        expect((error as RedisSlotsError).code).toMatch(/^ERR_LAC_REDIS_(UNAVAILABLE|LEASE_LOST)$/);
        // A loose bound (the machine is shared): the lease would expire at leaseMs.
        expect(at - stoppedAt).toBeLessThan(leaseMs);
        console.info(`redis frozen: failed ${(at - stoppedAt).toFixed(0)} ms after SIGSTOP (budget ${budget} ms)`);
      }
      expect(meter).toEqual({ running: 0, max: 4, started: 4, aborted: 4 });
      for (const slots of all) slots.close();
      expect(printed.mock.calls.filter((call) => String(call[0]).includes('Unhandled'))).toEqual([]);
    } finally {
      printed.mockRestore();
      own.signal('SIGCONT');
      for (const c of clients) c.disconnect();
      await own.stop();
    }
  });
});

describe.skipIf(!hasRedisServer)('epochs and quarantine', () => {
  it('a young Redis grants nothing for quarantineMs on a new key; a key new on a long-running one starts at once', async () => {
    const own = await RedisServer.start();
    const c = own.client();
    try {
      const slots = redisSlots({ client: c, key: 'young', limit: 2, leaseMs: 3000, quarantineMs: 60_000, pollMs: 50 });
      const controller = new AbortController();
      const waiting = slots.acquire(controller.signal);
      await waitUntil(async () => (await c.zcard(keysOf('young').queue)) === 1);
      const epoch = await c.hgetall(keysOf('young').epoch);
      const [seconds, micros] = (await c.time()) as [number, number];
      const serverNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      expect(Number(epoch.until)).toBeGreaterThan(serverNow + 50_000);
      expect(slots.stats.acquired).toBe(0);
      controller.abort(new Error('gave up'));
      await expect(waiting).rejects.toThrow('gave up');
      slots.close();
      // With a quarantine shorter than the server's uptime, a brand-new key is not quarantined.
      await waitUntil(async () => Number(/uptime_in_seconds:(\d+)/.exec(await c.info('server'))![1]) >= 2, 100);
      const fresh = redisSlots({ client: c, key: 'old', limit: 1, leaseMs: 3000, quarantineMs: 500 });
      const lease = await fresh.acquire();
      expect(lease.token).toBeGreaterThan(0);
      await fresh.release(lease);
      fresh.close();
    } finally {
      c.disconnect();
      await own.stop();
    }
  });

  it('regression: uptime_in_seconds is truncated, so a Redis that reads 2 s may be up only 1 s (the restart test once ran 6 of 4 for 42 ms)', async () => {
    // uptime_in_seconds counts wall-clock second boundaries since the start: it reads n once n
    // boundaries passed, which may be only n - 1 s after the start. Taken as n s, it let a key new on a
    // just-restarted Redis skip its quarantine while leases of the old epoch were still live.
    const own = await RedisServer.start();
    const c = own.client();
    const uptime = async () => Number(/uptime_in_seconds:(\d+)/.exec(await c.info('server'))![1]);
    try {
      await waitUntil(async () => (await uptime()) >= 2, 1);
      // It reads 2 for a whole second; 1.5 s may not have passed since the start, so it must quarantine.
      expect(await uptime()).toBe(2);
      const fresh = redisSlots({
        client: c,
        key: 'two-seconds',
        limit: 1,
        leaseMs: 3000,
        quarantineMs: 1500,
        pollMs: 50,
      });
      const controller = new AbortController();
      const waiting = fresh.acquire(controller.signal);
      await waitUntil(async () => (await c.hget(keysOf('two-seconds').epoch, 'until')) !== null, 1);
      const until = Number(await c.hget(keysOf('two-seconds').epoch, 'until'));
      const [seconds, micros] = (await c.time()) as [number, number];
      const serverNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      expect(until).toBeGreaterThan(serverNow);
      expect(fresh.stats.acquired).toBe(0);
      controller.abort(new Error('gave up'));
      await expect(waiting).rejects.toThrow('gave up');
      fresh.close();
    } finally {
      c.disconnect();
      await own.stop();
    }
  });

  it('a holder that sees the epoch change fails with ERR_LAC_REDIS_LEASE_LOST at once, and tokens stay increasing across the restart', async () => {
    const own = await RedisServer.start();
    const c = own.client();
    let restarted: RedisServer | undefined;
    try {
      const slots = redisSlots({ client: c, key: 'restart', limit: 2, leaseMs: 1500, quarantineMs: 0, pollMs: 50 });
      const meter = { aborted: 0 };
      const tasks = [0, 1].map(() => ({ signal, slot }: TaskContext) => {
        expect((slot as RedisLease).deadline).toBeGreaterThan(performance.now());
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            meter.aborted++;
            reject(signal.reason);
          }),
        );
      });
      const run = limitedAsCompleted(tasks, 2, { slots: slotsFrom(slots) }).next();
      await waitUntil(() => slots.stats.held === 2);
      const before = Number(await c.get(keysOf('restart').token));
      await own.stop();
      restarted = await RedisServer.start(own.port);
      const error = await run.catch((caught: unknown) => caught);
      expect(error).toMatchObject({ name: 'RedisSlotsError', code: 'ERR_LAC_REDIS_LEASE_LOST', key: 'restart' });
      expect(meter.aborted).toBe(2);
      slots.close();
      const next = redisSlots({ client: c, key: 'restart', limit: 2, leaseMs: 1500, quarantineMs: 0, pollMs: 50 });
      const lease = await next.acquire();
      expect(lease.token).toBeGreaterThan(before);
      await next.release(lease);
      next.close();
    } finally {
      c.disconnect();
      await own.stop();
      await restarted?.stop();
    }
  });
});

describe.skipIf(!hasRedisServer)('Redis restarted with its data lost (8 workers share a limit of 4)', () => {
  it('never runs more than 4 at once across the restart (0 µs above the limit), and every task completes once', async () => {
    let own = await RedisServer.start();
    const leaseMs = 1000;
    try {
      const workers = Array.from({ length: 8 }, (_, i) =>
        fencedWorker({
          port: own.port,
          key: 'lost',
          id: `w${i}`,
          sharedLimit: 4,
          localLimit: 2,
          // Longer than a reconnect: tasks of the old epoch still run when the new server is reachable.
          tasks: 6,
          taskMs: 300,
          leaseMs,
          quarantineMs: leaseMs,
          isRetrying: true,
        }),
      );
      await startTogether(workers);
      await waitUntil(() => workers.reduce((sum, worker) => sum + worker.of('start').length, 0) >= 8);
      await own.stop();
      own = await RedisServer.start(own.port);
      const codes = await Promise.all(workers.map((worker) => worker.exited));
      // stderr first: a worker that exits 1 says why there (an uncaught error is printed before the exit).
      expect(workers.map((worker) => worker.stderr)).toEqual(Array.from({ length: 8 }, () => ''));
      expect(codes).toEqual(Array.from({ length: 8 }, () => 0));
      for (const worker of workers) {
        const [done] = worker.of('done') as WorkerEvent[];
        expect((done!.finished as number[]).sort((x, y) => x - y)).toEqual(Array.from({ length: 6 }, (_, i) => i));
      }
      const failures = workers.flatMap((worker) => worker.of('failure'));
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) expect(failure.code).toMatch(/^ERR_LAC_REDIS_(UNAVAILABLE|LEASE_LOST)$/);
      const { max, aboveUs, spans } = overlap(workers, 4);
      console.info(
        `restart: ${spans} task runs, max ${max} at once, ${aboveUs} µs above the limit, ${failures.length} source failures`,
      );
      expect(aboveUs).toBe(0);
      expect(max).toBe(4);
    } finally {
      await own.stop();
    }
  }, 120_000);
});
