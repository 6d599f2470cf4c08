// The shared limit on a real Redis Cluster: three masters with a replica each, started on
// 127.0.0.1 by the test. Every key of a limit is in one slot (one hash tag), so its scripts run on
// the master that owns it; a failover to that master's replica starts a new epoch of the limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { createCluster as createClusterV4 } from 'redis-v4';
import { limitedAsCompleted, type TaskContext } from '@lac/core';
import { type NodeRedisCluster, type RedisClient, type RedisSlots, RedisSlotsError, redisSlots } from '../src/index.ts';
import { type ClusterNode, hasRedisCluster, RedisCluster, slotOf } from './fixtures/redis-cluster.ts';
import { type ClientKind, clientKinds, keysOf, waitUntil } from './fixtures/redis-server.ts';
import { fencedWorkerFile, overlap, startTogether, Worker, type WorkerEvent } from './fixtures/workers.ts';
import type { FencedWorkerConfig } from './fixtures/fenced-worker.ts';

const now = () => Number(process.hrtime.bigint() / 1000n);

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

/** The run id of a node (what a limit's epoch is tied to). */
async function runId(node: ClusterNode): Promise<string> {
  return /run_id:(\w+)/.exec(String(await node.command('INFO', 'server')))![1]!;
}

function holdingTasks(count: number, meter: { running: number; max: number; started: number; aborted: number }) {
  return Array.from({ length: count }, () => ({ signal }: TaskContext) => {
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

  it('keeps every key of a limit in one slot, on the master that owns it, with the epoch of that master; a waiter is woken by the release (no poll)', async () => {
    const key = `one-slot-${kind}`;
    const keys = keysOf(key);
    const slot = slotOf(keys.leases);
    for (const name of Object.values(keys)) expect(slotOf(name)).toBe(slot);
    const slots = redisSlots({
      client: own.client,
      key,
      limit: 1,
      leaseMs: 3000,
      pollMs: 5000,
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
    // Woken through the release channel: the fallback poll (5 s) never ran.
    expect(slots.stats.polls).toBe(0);
    const master = await cluster.masterOf(slot);
    expect(await master.command('EXISTS', keys.leases, keys.epoch, keys.token)).toBe(3);
    expect(await master.command('ZSCORE', keys.leases, lease.id)).not.toBeNull();
    const epoch = (await master.command('HGET', keys.epoch, 'run')) as string;
    expect(epoch).toBe(await runId(master));
    await slots.release(lease);
    expect(await client.zcard(keys.leases)).toBe(0);
  });

  it('a CLUSTER FAILOVER of the master holding the limit fails its holders with ERR_LAC_REDIS_LEASE_LOST; the promoted replica starts a new epoch in quarantine', async () => {
    const key = `failover-${kind}`;
    const keys = keysOf(key);
    // A manual failover pauses the master's clients until the replica took over: the renewal must outlast it.
    const leaseMs = 6000;
    const quarantineMs = 2000;
    const c = await connect(kind, { isQuiet: false });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    try {
      const slots = redisSlots({ client: c.client, key, limit: 2, leaseMs, pollMs: 50, quarantineMs });
      const meter = { running: 0, max: 0, started: 0, aborted: 0 };
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
