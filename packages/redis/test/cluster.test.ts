// The shared limit on a real Redis Cluster: three masters with a replica each, started on
// 127.0.0.1 by the test. Every key of a limit is in one slot (one hash tag), so its scripts run on
// the master that owns it; a failover to that master's replica starts a new epoch of the limit.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { createCluster as createClusterV4 } from 'redis-v4';
import { limitedAsCompleted } from '@lac/core';
import { type NodeRedisCluster, type RedisClient, type RedisSlots, RedisSlotsError, redisSlots } from '../src/index.ts';
import { holdingTasks, newMeter } from './fixtures/holding-tasks.ts';
import { type ClusterNode, hasRedisCluster, RedisCluster, slotOf } from './fixtures/redis-cluster.ts';
import { type ClientKind, clientKinds, keysOf, waitUntil } from './fixtures/redis-server.ts';
import {
  expectExitAfterClosingWhileSubscribing,
  fencedWorkerFile,
  overlap,
  startTogether,
  Worker,
  type WorkerEvent,
  killLiveWorkers,
  withStateDump,
} from './fixtures/workers.ts';
import type { FencedWorkerConfig } from './fixtures/fenced-worker.ts';
import { nowUs } from './fixtures/clock.ts';

let cluster: RedisCluster;
/** ioredis, to look at the cluster's state. */
let client: Cluster;

beforeAll(async () => {
  cluster = await RedisCluster.start();
  client = cluster.client();
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

interface ClusterClient {
  readonly client: RedisClient | NodeRedisCluster;
  close(): void;
}

/** A connected cluster client of `kind`; with `isQuiet: false`, no `error` listener of its own. */
async function connect(kind: ClientKind, { isQuiet = true } = {}): Promise<ClusterClient> {
  const rootNodes = cluster.startupNodes.map((socket) => ({ socket }));
  if (kind === 'ioredis') {
    const ioredis = cluster.client();
    if (!isQuiet) ioredis.removeAllListeners('error');
    return { client: ioredis, close: () => ioredis.disconnect() };
  }
  if (kind === 'node-redis') {
    const v5 = createCluster({ rootNodes });
    if (isQuiet) v5.on('error', () => {});
    await v5.connect();
    return { client: v5, close: () => v5.destroy() };
  }
  const v4 = createClusterV4({ rootNodes });
  if (isQuiet) v4.on('error', () => {});
  await v4.connect();
  return { client: v4, close: () => void v4.disconnect().catch(() => {}) };
}

/** MOVED redirections the nodes answered so far (a script sent to a node that does not own its keys). */
async function redirections(): Promise<number> {
  let moved = 0;
  for (const node of cluster.nodes) {
    const stats = String(await node.command('INFO', 'errorstats'));
    moved += Number(/errorstat_MOVED:count=(\d+)/.exec(stats)?.[1] ?? 0);
  }
  return moved;
}

/** The run id of a node (what a limit's epoch is tied to). */
async function runId(node: ClusterNode): Promise<string> {
  return /run_id:(\w+)/.exec(String(await node.command('INFO', 'server')))![1]!;
}

describe.skipIf(!hasRedisCluster).each(clientKinds)('on a Redis Cluster (%s)', (kind) => {
  let own: ClusterClient;
  const opened: RedisSlots[] = [];
  beforeAll(async () => {
    own = await connect(kind);
  });
  afterAll(() => {
    for (const slots of opened) slots.close();
    own?.close();
  });

  it('keeps every key of a limit in one slot, sends every script straight to the master that owns it (no MOVED), ties the epoch to that master; a waiter is woken by the release (no poll)', async () => {
    const key = `one-slot-${kind}`;
    const keys = keysOf(key);
    const slot = slotOf(keys.leases);
    for (const name of Object.values(keys)) expect(slotOf(name)).toBe(slot);
    const movedBefore = await redirections();
    // A waiter looks again when the earliest lease is due to expire, or pollMs passes: both far beyond
    // the test (with a 3 s lease, a loaded machine slowing it down past the expiry could see a poll).
    const slots = redisSlots({
      client: own.client,
      key,
      limit: 1,
      leaseMs: 60_000,
      pollMs: 60_000,
      handoffMs: 0,
      quarantineMs: 0,
    });
    opened.push(slots);
    const first = await slots.acquire();
    const second = slots.acquire();
    await waitUntil(async () => (await client.zcard(keys.queue)) === 1);
    await slots.release(first);
    const lease = await second;
    expect(lease.token).toBe(first.token + 1);
    // Woken through the release channel: the fallback poll (60 s) never ran.
    expect(slots.stats.polls).toBe(0);
    const master = await cluster.masterOf(slot);
    expect(await master.command('EXISTS', keys.leases, keys.epoch, keys.token)).toBe(3);
    expect(await master.command('ZSCORE', keys.leases, lease.id)).not.toBeNull();
    const epoch = (await master.command('HGET', keys.epoch, 'run')) as string;
    expect(epoch).toBe(await runId(master));
    await slots.release(lease);
    expect(await client.zcard(keys.leases)).toBe(0);
    // Each script went straight to the slot's master (routed by its first key), never redirected.
    expect(await redirections()).toBe(movedBefore);
  });

  it('a CLUSTER FAILOVER of the master holding the limit fails its holders with ERR_LAC_REDIS_LEASE_LOST; the promoted replica starts a new epoch in quarantine', async () => {
    const key = `failover-${kind}`;
    const keys = keysOf(key);
    // A manual failover pauses the master's clients until the replica took over (once 0.8 s here): the
    // renewal's timeout (leaseMs / 3) must outlast it, or the source fails with ERR_LAC_REDIS_UNAVAILABLE.
    const leaseMs = 15_000;
    const quarantineMs = 2000;
    const c = await connect(kind, { isQuiet: false });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    try {
      const slots = redisSlots({ client: c.client, key, limit: 2, leaseMs, pollMs: 50, quarantineMs });
      const meter = newMeter();
      const run = limitedAsCompleted(holdingTasks(3, meter), 3, { slots })
        .next()
        .catch((error: unknown) => error);
      await waitUntil(() => meter.started === 2 && slots.stats.held === 2);
      const master = await cluster.masterOf(slotOf(keys.leases));
      const replica = await cluster.replicaOf(master);
      const before = Number(await client.get(keys.token));
      const failoverAt = performance.now();
      await replica.command('CLUSTER', 'FAILOVER');
      await waitUntil(async () => (await replica.role()) === 'master', 20);
      const promotedAt = performance.now();
      const error = await run;
      console.info(
        `cluster failover (${kind}): replica promoted ${(promotedAt - failoverAt).toFixed(0)} ms after CLUSTER FAILOVER, holders failed ${(performance.now() - failoverAt).toFixed(0)} ms after it: ${String(error)}`,
      );
      expect(error).toBeInstanceOf(RedisSlotsError);
      expect(error).toMatchObject({ code: 'ERR_LAC_REDIS_LEASE_LOST', key });
      expect(String((error as Error).message)).toMatch(/epoch .* became/);
      expect(meter).toEqual({ running: 0, max: 2, started: 2, aborted: 2 });
      slots.close();
      // The new master owns the slot now, and the limit's epoch is its own (a new one, in quarantine).
      expect((await cluster.masterOf(slotOf(keys.leases), replica)).port).toBe(replica.port);
      expect(await replica.command('HGET', keys.epoch, 'run')).toBe(await runId(replica));
      const [seconds] = (await replica.command('TIME')) as [string, string];
      expect(Number(await replica.command('HGET', keys.epoch, 'until'))).toBeGreaterThan(Number(seconds) * 1000);
      // Once the quarantine is over, grants resume with higher tokens.
      const next = redisSlots({ client: c.client, key, limit: 2, leaseMs, pollMs: 50, quarantineMs });
      const lease = await next.acquire();
      expect(lease.token).toBeGreaterThan(before);
      await next.release(lease);
      next.close();
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
      c.close();
    }
  }, 60_000);
});

function clusterWorker(
  config: Omit<FencedWorkerConfig, 'port' | 'pollMs' | 'quarantineMs'> & Partial<FencedWorkerConfig>,
) {
  return new Worker(
    { port: 0, clusterPorts: cluster.nodes.map((node) => node.port), pollMs: 50, quarantineMs: 0, ...config },
    fencedWorkerFile,
  );
}

/** Workers still running after a test (it failed or timed out) are killed, so none is left behind. */
afterEach(killLiveWorkers);

/** Two workers on each client kind, sharing one limit. */
function mixedWorkers(key: string, config: Partial<FencedWorkerConfig>): Worker[] {
  const workers = [...clientKinds, ...clientKinds].map((clientKind, i) =>
    clusterWorker({ key, id: `w${i}`, clientKind, sharedLimit: 4, localLimit: 2, tasks: 8, leaseMs: 3000, ...config }),
  );
  return workers;
}

/** Every worker exited 0, printed nothing on stderr, and finished all its `tasks` tasks once. */
async function expectAllFinished(workers: Worker[], tasks: number): Promise<void> {
  const codes = await withStateDump(
    workers,
    'every worker exits',
    Promise.all(workers.map((worker) => worker.exited)),
    60_000,
  );
  // stderr first: a worker that exits 1 says why there (an uncaught error is printed before the exit).
  expect(workers.map((worker) => worker.stderr)).toEqual(workers.map(() => ''));
  expect(codes).toEqual(workers.map(() => 0));
  for (const [i, worker] of workers.entries()) {
    const [done] = worker.of('done') as WorkerEvent[];
    expect(
      (done!.finished as number[]).sort((x, y) => x - y),
      `worker ${i}'s finished tasks (its failures: ${JSON.stringify(worker.of('failure'))})`,
    ).toEqual(Array.from({ length: tasks }, (_, i) => i));
  }
}

/** The first task start (µs, the shared clock) after `at`, in ms after it. */
function firstStartAfter(workers: Worker[], at: number): number {
  const starts = workers.flatMap((worker) => worker.of('start').map((event) => event.at as number));
  return (Math.min(...starts.filter((start) => start > at)) - at) / 1000;
}

/**
 * 6 workers (2 on each client kind, 8 tasks of 300 ms each, retrying a failed source) share a limit
 * of 4 on `key` while `failOver` makes the replica of the limit's master take over: every task
 * completes once, the sources that fail do so cleanly, and never more than 4 run at once.
 */
async function expectBoundAcrossFailover(
  key: string,
  how: string,
  failOver: (replica: ClusterNode, master: ClusterNode) => Promise<void>,
): Promise<void> {
  const leaseMs = 3000;
  const workers = mixedWorkers(key, { taskMs: 300, leaseMs, quarantineMs: leaseMs, isRetrying: true });
  // Start-up (6 processes loading tsx and a client) took up to 20 s at load 9: bounded on its own.
  await withStateDump(workers, 'every worker is ready', startTogether(workers), 90_000);
  const starts = () => workers.reduce((sum, worker) => sum + worker.of('start').length, 0);
  await withStateDump(
    workers,
    '8 tasks start',
    waitUntil(() => starts() >= 8),
    30_000,
  );
  const master = await cluster.masterOf(slotOf(keysOf(key).leases));
  const replica = await cluster.replicaOf(master);
  const failedOverAt = nowUs();
  await withStateDump(workers, 'the replica takes over', failOver(replica, master), 40_000);
  const promotedAt = nowUs();
  await expectAllFinished(workers, 8);
  const failures = workers.flatMap((worker) => worker.of('failure'));
  // ERR_LAC_REDIS_LEASE_LOST as a rule; ERR_LAC_REDIS_UNAVAILABLE for a holder whose command the failover
  // paused for longer than its timeout (1 s here). The in-process case above asserts the former.
  expect(failures.length).toBeGreaterThan(0);
  for (const failure of failures) expect(failure.code).toMatch(/^ERR_LAC_REDIS_(UNAVAILABLE|LEASE_LOST)$/);
  const { max, aboveUs, spans } = overlap(workers, 4);
  const lost = failures.filter((failure) => failure.code === 'ERR_LAC_REDIS_LEASE_LOST').length;
  console.info(
    `cluster failover (${how}): replica promoted ${((promotedAt - failedOverAt) / 1000).toFixed(0)} ms after ${how}; first grant ${firstStartAfter(workers, promotedAt).toFixed(0)} ms after the promotion (quarantine ${leaseMs} ms); ${spans} task runs, max ${max} at once, ${aboveUs} µs above the limit, ${failures.length} source failures (${lost} lease lost)`,
  );
  expect(aboveUs).toBe(0);
  expect(max).toBe(4);
}

describe.skipIf(!hasRedisCluster)(
  'worker processes sharing one limit on a Redis Cluster (2 on each client kind)',
  () => {
    it('never runs more than the limit across 6 processes (0 µs above it), and every task completes once', async () => {
      // No source may fail here: a lease long enough that a loaded machine's late renewals cannot lose it.
      const workers = mixedWorkers('cluster-bound', { tasks: 20, taskMs: 20, leaseMs: 15_000 });
      await withStateDump(workers, 'every worker is ready', startTogether(workers), 90_000);
      await expectAllFinished(workers, 20);
      const { max, aboveUs, spans } = overlap(workers, 4);
      console.info(`cluster bound: ${spans} task runs, max ${max} at once, ${aboveUs} µs above the limit`);
      expect(aboveUs).toBe(0);
      expect(max).toBe(4);
      expect(workers.flatMap((worker) => worker.of('failure'))).toEqual([]);
    }, 200_000);

    it('holds the bound across a CLUSTER FAILOVER of the master holding the limit (0 µs above it): holders fail, grants resume after the quarantine', async () => {
      await expectBoundAcrossFailover('cluster-failover', 'CLUSTER FAILOVER', async (replica) => {
        await replica.command('CLUSTER', 'FAILOVER');
        await waitUntil(async () => (await replica.role()) === 'master', 20, 30_000);
      });
    }, 200_000);

    it('holds the bound when the master holding the limit freezes (SIGSTOP) and its replica takes over', async () => {
      await expectBoundAcrossFailover('cluster-frozen', 'SIGSTOP', async (replica, master) => {
        master.signal('SIGSTOP');
        cluster.setDown(master, true);
        try {
          await waitUntil(async () => (await replica.role()) === 'master', 50, 30_000);
        } finally {
          master.signal('SIGCONT');
          cluster.setDown(master, false);
        }
      });
    }, 200_000);
  },
);

describe.skipIf(!hasRedisCluster)('a source closed while its subscriber connects, on a Redis Cluster', () => {
  it.each(clientKinds)(
    'regression: lets its process exit once the client is closed too (%s): node-redis cluster clients finished the connect they were told to stop, and a worker whose source failed over while subscribing never exited (the failover tests hung)',
    async (clientKind) => {
      await expectExitAfterClosingWhileSubscribing({
        key: `closing-${clientKind}`,
        clientKind,
        clusterPorts: cluster.nodes.map((node) => node.port),
      });
    },
    // Its two waits (start-up 90 s, exit 30 s) each dump the state when they time out.
    150_000,
  );
});

describe.skipIf(!hasRedisCluster)('a source closed while its subscriber subscribes, on a Redis Cluster', () => {
  it.each(clientKinds)(
    'regression: lets its process exit once the client is closed too (%s): a node-redis cluster closed while its SUBSCRIBE opened the connection to its node closed that connection midway, node-redis opened it anyway, and a failover test hung',
    async (clientKind) => {
      await expectExitAfterClosingWhileSubscribing({
        key: `closing-subscribe-${clientKind}`,
        clientKind,
        clusterPorts: cluster.nodes.map((node) => node.port),
        closeWhile: 'subscribing',
      });
    },
    // Its two waits (start-up 90 s, exit 30 s) each dump the state when they time out.
    150_000,
  );
});

describe.skipIf(!hasRedisCluster)('a master frozen past its failover that resumes with its old state', () => {
  it('may grant from it (Redis Cluster replicates asynchronously): that holder fails with ERR_LAC_REDIS_LEASE_LOST at its first renewal, and its fencing token is below every token of the new epoch', async () => {
    const key = 'cluster-zombie';
    const leaseMs = 3000;
    // No quarantine, so the new master grants at once: the overlap, which the quarantine normally covers, shows.
    const options = { key, limit: 1, leaseMs, quarantineMs: 0, handoffMs: 0, pollMs: 50 };
    const stale = cluster.client();
    let fresh: Cluster | undefined;
    const all: RedisSlots[] = [];
    const open = (c: Cluster) => {
      const slots = redisSlots({ ...options, client: c });
      all.push(slots);
      return slots;
    };
    const master = await cluster.masterOf(slotOf(keysOf(key).leases));
    try {
      // The stale client has used the limit, so it knows the slot is on this master.
      const warm = open(stale);
      await (await warm.acquire()).release();
      const replica = await cluster.replicaOf(master);
      master.signal('SIGSTOP');
      cluster.setDown(master, true);
      await waitUntil(async () => (await replica.role()) === 'master', 50);
      // A client that has the new map takes the only slot on the new master: every live node must
      // tell it so (ioredis keeps the map it loaded until it is redirected, and a frozen master redirects nothing).
      const slot = slotOf(keysOf(key).leases);
      const live = cluster.nodes.filter((node) => node !== master);
      await waitUntil(
        async () =>
          (await Promise.all(live.map((node) => cluster.masterOf(slot, node)))).every((owner) => owner === replica),
        50,
      );
      fresh = cluster.client({ without: [master] });
      const current = await open(fresh).acquire();
      // The stale client still sends to the frozen master; it resumes before the command times out.
      const zombie = open(stale);
      const granted = zombie.acquire();
      // Sent (the command is on the frozen master's socket): let it be written, then resume the master.
      await waitUntil(() => zombie.stats.commands > 0, 1);
      await new Promise((resolve) => setImmediate(resolve));
      master.signal('SIGCONT');
      cluster.setDown(master, false);
      const outcome = await Promise.race([
        granted,
        waitUntil(async () => (await fresh!.zcard(keysOf(key).queue)) === 1, 20).then(() => 'queued' as const),
      ]);
      if (outcome === 'queued') {
        // The resumed master knew it was demoted and redirected the script: it waits behind the current holder.
        await current.release();
        const lease = await granted;
        expect(lease.token).toBeGreaterThan(current.token);
        console.info('cluster zombie: the resumed master redirected the script (no stale grant this time)');
        return;
      }
      const lease = outcome;
      const grantedAt = performance.now();
      expect(lease.token).toBeLessThan(current.token);
      const error = await new Promise((resolve) =>
        zombie.signal.addEventListener('abort', () => resolve(zombie.signal.reason), { once: true }),
      );
      const caughtMs = performance.now() - grantedAt;
      expect(error).toMatchObject({ name: 'RedisSlotsError', code: 'ERR_LAC_REDIS_LEASE_LOST', key });
      // At its first renewal (due leaseMs / 3 after the grant, then one round trip and a redirection).
      expect(caughtMs).toBeLessThan(leaseMs);
      console.info(
        `cluster zombie: the resumed old master granted a lease (token ${lease.token} < ${current.token} of the new epoch); its holder failed with ERR_LAC_REDIS_LEASE_LOST ${caughtMs.toFixed(0)} ms after the grant`,
      );
    } finally {
      master.signal('SIGCONT');
      cluster.setDown(master, false);
      for (const slots of all) slots.close();
      stale.disconnect();
      fresh?.disconnect();
    }
  }, 60_000);
});
