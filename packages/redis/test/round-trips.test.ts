// Round trips per task, counted by the source (`stats.commands`: every script call, NOSCRIPT reloads
// included), with block grants, batched releases and FIFO-allowed local handoffs; and the fairness
// across processes that the handoffs must keep.
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { limitedAsCompleted, type TaskContext } from '@lac/core';
import { type RedisLease, type RedisSlots, redisSlots } from '../src/index.ts';
import { ACQUIRE } from '../src/scripts.ts';
import { hasRedisServer, keysOf, RedisServer, waitUntil } from './fixtures/redis-server.ts';

let server: RedisServer;
let client: Redis;
const opened: RedisSlots[] = [];
let nextKey = 0;

beforeAll(async () => {
  server = await RedisServer.start();
  client = server.client();
  // Loaded up front: a first call's NOSCRIPT reload would count as a second round trip.
  await client.script('LOAD', ACQUIRE.source);
});

afterAll(async () => {
  for (const slots of opened) slots.close();
  client?.disconnect();
  await server?.stop();
});

/** A source on a client of its own (a process of its own, as far as Redis can tell). */
function makeSlots(key: string, limit: number, options: { handoffMs?: number; pollMs?: number } = {}): RedisSlots {
  const own = server.client();
  const slots = redisSlots({
    client: own,
    key,
    limit,
    leaseMs: 5000,
    pollMs: options.pollMs ?? 100,
    handoffMs: options.handoffMs ?? 0,
    quarantineMs: 0,
  });
  opened.push(slots);
  const close = slots.close.bind(slots);
  slots.close = () => {
    close();
    own.disconnect();
  };
  return slots;
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

describe.skipIf(!hasRedisServer)('round trips (real redis-server)', () => {
  it('a run that could start 4 tasks gets its 4 slots in one round trip, each with a token of its own', async () => {
    const key = `block-${nextKey++}`;
    const slots = makeSlots(key, 10);
    const gates = Array.from({ length: 4 }, () => deferred());
    const tokens: number[] = [];
    const tasks = gates.map((gate) => async ({ slot }: TaskContext) => {
      tokens.push((slot as RedisLease).token);
      await gate.promise;
    });
    const run = limitedAsCompleted(tasks, 4, { slots });
    const done = (async () => {
      for await (const _ of run);
    })();
    await waitUntil(() => tokens.length === 4);
    expect(slots.stats.commands).toBe(1);
    expect(new Set(tokens).size).toBe(4);
    for (const gate of gates) gate.resolve();
    await done;
    await waitUntil(() => slots.stats.held === 0);
    await waitUntil(async () => (await client.zcard(keysOf(key).leases)) === 0);
  });

  it('releases made in one tick go back in one round trip', async () => {
    const key = `batch-${nextKey++}`;
    const slots = makeSlots(key, 10);
    const leases = await Promise.all([slots.acquire(), slots.acquire(), slots.acquire()]);
    expect(slots.stats.commands).toBe(1);
    expect(await client.zcard(keysOf(key).leases)).toBe(3);
    await Promise.all(leases.map((lease) => slots.release(lease)));
    expect(slots.stats.commands).toBe(2);
    expect(await client.zcard(keysOf(key).leases)).toBe(0);
  });

  it('wakes all of a process’s waiters with one round trip, and one abort listener serves all the acquires of one signal', async () => {
    const key = `wake-${nextKey++}`;
    const holder = makeSlots(key, 4);
    const held = await Promise.all([holder.acquire(), holder.acquire(), holder.acquire(), holder.acquire()]);
    // No fallback poll within the test (pollMs 60 s): with 100 ms, polls a loaded machine let fall
    // between the count below and the wake-up added round trips the wake-up did not make.
    const waiter = makeSlots(key, 4, { pollMs: 60_000 });
    const controller = new AbortController();
    const waiting = Array.from({ length: 16 }, () => waiter.acquire(controller.signal));
    await waitUntil(async () => (await client.zcard(keysOf(key).queue)) === 16);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    // Subscribed before the releases, so the wake-up is heard rather than polled for.
    await waitUntil(async () => Number((await client.pubsub('NUMSUB', keysOf(key).channel))[1]) === 1);
    const before = waiter.stats.commands;
    await Promise.all(held.map((lease) => holder.release(lease)));
    await waitUntil(() => waiter.stats.held === 4);
    // One round trip took the 4 freed slots for 4 waiters (a late wake-up may add one that finds none).
    expect(waiter.stats.commands - before).toBeLessThanOrEqual(2);
    controller.abort(new Error('enough'));
    await Promise.allSettled(waiting);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    const granted = (await Promise.allSettled(waiting)).filter((r) => r.status === 'fulfilled');
    expect(granted).toHaveLength(4);
    await Promise.all(granted.map((r) => waiter.release((r as PromiseFulfilledResult<RedisLease>).value)));
    await waitUntil(async () => (await client.zcard(keysOf(key).queue)) === 0);
    expect(await client.zcard(keysOf(key).leases)).toBe(0);
  });

  it('two processes contending for a shared limit: fewer than 2 round trips per task, never above the limit', async () => {
    const key = `contend-${nextKey++}`;
    // No fallback poll within the run (pollMs 60 s): every command is an ask, a release or a wake-up's ask,
    // so the count does not grow with the machine's load (with pollMs 100 it reached 1.91 per task at
    // load 10), and a wake-up that is lost shows as a run that never ends.
    const all = [makeSlots(key, 4, { pollMs: 60_000 }), makeSlots(key, 4, { pollMs: 60_000 })];
    let running = 0;
    let maxRunning = 0;
    const tasksOf = () =>
      Array.from({ length: 40 }, () => async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running--;
      });
    await Promise.all(
      all.map(async (slots) => {
        for await (const _ of limitedAsCompleted(tasksOf(), 4, { slots }));
      }),
    );
    await waitUntil(() => all.every((slots) => slots.stats.held === 0));
    expect(maxRunning).toBeLessThanOrEqual(4);
    const commands = all[0]!.stats.commands + all[1]!.stats.commands;
    // Fewer than one ask and one release per task: only block grants and batched releases get below 2. The
    // mean on a quiet machine is about 1.25 (BENCHMARKS.md); how ticks interleave under load moves it (up
    // to 1.73 seen at load 10), so the guard is the structural one, not the benchmark figure.
    expect(commands / 80).toBeLessThan(2);
    await waitUntil(async () => (await client.zcard(keysOf(key).leases)) === 0);
  });

  it('hands a released slot to a local waiter without a round trip only when no other process’s waiter is ahead of it (FIFO across processes)', async () => {
    const key = `fifo-handoff-${nextKey++}`;
    const keys = keysOf(key);
    // Once B waits, no handoff on the strength of an empty queue (handoffMs): only the FIFO rule can allow one.
    const a = makeSlots(key, 2, { handoffMs: 50 });
    const b = makeSlots(key, 2, { handoffMs: 50 });
    const [first, second] = await Promise.all([a.acquire(), a.acquire()]);
    const order: string[] = [];
    const note = (name: string) => (lease: RedisLease) => {
      order.push(name);
      return lease;
    };
    const a1 = a.acquire().then(note('a1'));
    await waitUntil(async () => (await client.zcard(keys.queue)) === 1);
    const b1 = b.acquire().then(note('b1'));
    await waitUntil(async () => (await client.zcard(keys.queue)) === 2);
    const a2 = a.acquire().then(note('a2'));
    await waitUntil(async () => (await client.zcard(keys.queue)) === 3);

    // a1 is at the head: the slot A releases is its by FIFO, and passes to it here.
    await a.release(first!);
    const a1Lease = await a1;
    expect(a1Lease.id).toBe(first!.id);
    expect(a.stats.handoffs).toBe(1);
    // b1 is ahead of a2: A's next release goes through Redis, to B.
    await a.release(second!);
    const b1Lease = await b1;
    expect(order).toEqual(['a1', 'b1']);
    expect(await client.zrange(keys.leases, '0', '-1')).toEqual(expect.arrayContaining([a1Lease.id, b1Lease.id]));
    expect(a.stats.handoffs).toBe(1);
    await b.release(b1Lease);
    const a2Lease = await a2;
    expect(order).toEqual(['a1', 'b1', 'a2']);
    await a.release(a1Lease);
    await a.release(a2Lease);
    await waitUntil(async () => (await client.zcard(keys.leases)) === 0 && (await client.zcard(keys.queue)) === 0);
  });
});
