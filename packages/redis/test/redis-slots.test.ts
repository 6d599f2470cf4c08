import type { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { deferred } from '@lac/test-tools/deferred';
import { allOf, createSharedLimit, limitedAsCompleted, type TaskContext } from '@lac/core';
import {
  type NodeRedisClient,
  type RedisClient,
  type RedisSlots,
  RedisSlotsError,
  redisSlots,
  type RedisLease,
  type RedisSubscriber,
} from '../src/index.ts';
import { ABANDON, ACQUIRE } from '../src/scripts.ts';
import {
  clientKinds,
  hasRedisServer,
  keysOf,
  RedisServer,
  type TestClient,
  waitUntil,
} from './fixtures/redis-server.ts';
import { holdingTasks, newMeter } from './fixtures/holding-tasks.ts';

let server: RedisServer;
/** ioredis, to look at what the source left in Redis. */
let client: Redis;
/** The client the sources of the current suite run on (one per client kind). */
let slotClient: RedisClient | NodeRedisClient;
const opened: RedisSlots[] = [];
let nextKey = 0;

beforeAll(async () => {
  server = await RedisServer.start();
  client = server.client();
});

afterAll(async () => {
  for (const slots of opened) slots.close();
  client?.disconnect();
  await server?.stop();
});

function makeSlots(
  key: string,
  limit: number,
  options: {
    leaseMs?: number;
    timeoutMs?: number;
    pollMs?: number;
    handoffMs?: number;
    client?: RedisClient | NodeRedisClient;
  } = {},
): RedisSlots {
  const slots = redisSlots({
    client: options.client ?? slotClient,
    key,
    limit,
    leaseMs: options.leaseMs ?? 3000,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    pollMs: options.pollMs ?? 100,
    handoffMs: options.handoffMs ?? 50,
    // The test servers are young: a first use would otherwise wait out the quarantine (tested on its own).
    quarantineMs: 0,
  });
  opened.push(slots);
  return slots;
}

describe.skipIf(!hasRedisServer)('redisSlots options', () => {
  it('rejects bad options with a TypeError naming the option and showing the value', () => {
    expect(() => redisSlots(undefined as never)).toThrow(
      'Expected `options` to be an object { client, key, limit }, got `undefined` (undefined)',
    );
    expect(() => redisSlots({ client: {} as never, key: 'k', limit: 1 })).toThrow(
      /Expected `options.client` to be a Redis client .* got `\[object Object\]` \(object\)/,
    );
    expect(() => redisSlots({ client: { sendCommand: async () => 'OK' } as never, key: 'k', limit: 1 })).toThrow(
      /Expected `options.client` to be a Redis client \(ioredis with evalsha, eval and duplicate, or node-redis with sendCommand, duplicate and on\)/,
    );
    expect(() => redisSlots({ client, key: '', limit: 1 })).toThrow(
      'Expected `options.key` to be a non-empty string, got `""` (string)',
    );
    expect(() => redisSlots({ client, key: 'k', limit: 0 })).toThrow(
      'Expected `options.limit` to be an integer >= 1, got `0` (number)',
    );
    expect(() => redisSlots({ client, key: 'k', limit: 2.5 })).toThrow(TypeError);
    expect(() => redisSlots({ client, key: 'k', limit: 1, leaseMs: 50 })).toThrow(
      'Expected `options.leaseMs` to be an integer >= 100, got `50` (number)',
    );
    expect(() => redisSlots({ client, key: 'k', limit: 1, pollMs: '1' as never })).toThrow(
      'Expected `options.pollMs` to be an integer >= 10, got `"1"` (string)',
    );
    expect(() => redisSlots({ client, key: 'k', limit: 1, leaseMs: 300, timeoutMs: 200 })).toThrow(
      'Expected `options.timeoutMs` to be a number > 0 and <= leaseMs / 3 (100), got `200` (number)',
    );
  });
});

/** Runs the suite's sources on a client of `kind`, closing them and it after the suite. */
function onClient(kind: (typeof clientKinds)[number]): void {
  let own: TestClient;
  beforeAll(async () => {
    own = await server.connect(kind);
    slotClient = own.client;
  });
  afterAll(() => {
    for (const slots of opened.splice(0)) slots.close();
    own?.close();
  });
}

describe.skipIf(!hasRedisServer).each(clientKinds)('RedisSlots against a real redis-server (%s)', (kind) => {
  onClient(kind);

  it('serves waiters first come, first served (strictly, with handoffMs 0)', async () => {
    const key = `fifo-${nextKey++}`;
    const keys = keysOf(key);
    const holder = makeSlots(key, 1, { handoffMs: 0 });
    const first = await holder.acquire();
    const order: string[] = [];
    const pending: Promise<RedisLease>[] = [];
    for (const name of ['b', 'c', 'd']) {
      const slots = makeSlots(key, 1, { handoffMs: 0 });
      const queued = (await client.zcard(keys.queue)) + 1;
      pending.push(
        slots.acquire().then((lease) => {
          order.push(name);
          return lease;
        }),
      );
      // Each joins the queue before the next one asks.
      await waitUntil(async () => (await client.zcard(keys.queue)) === queued);
    }
    // A newcomer does not jump the queue either.
    const late = makeSlots(key, 1, { handoffMs: 0 }).acquire();
    await waitUntil(async () => (await client.zcard(keys.queue)) === 4);
    await holder.release(first);
    for (let i = 0; i < 3; i++) {
      const lease = await pending[i]!;
      expect(order).toEqual(['b', 'c', 'd'].slice(0, i + 1));
      expect(await client.zcard(keys.leases)).toBe(1);
      await opened.at(-4 + i)!.release(lease);
    }
    const lastLease = await late;
    expect(await client.zrange(keys.leases, '0', '-1')).toEqual([lastLease.id]);
    await opened.at(-1)!.release(lastLease);
    expect(await client.zcard(keys.leases)).toBe(0);
    expect(await client.zcard(keys.queue)).toBe(0);
  });

  it('costs at most one round trip per task uncontended: release and next acquire share one, a local handoff none', async () => {
    const tasks = () => Array.from({ length: 50 }, (_, i) => () => i);
    for (const handoffMs of [0, 50]) {
      // A lease whose renewal (every leaseMs / 3, one round trip) cannot fall within the run, however slow.
      const slots = redisSlots({
        client,
        key: `rt-${nextKey++}`,
        limit: 100,
        leaseMs: 60_000,
        handoffMs,
        quarantineMs: 0,
      });
      opened.push(slots);
      let count = 0;
      for await (const _ of limitedAsCompleted(tasks(), 4, { slots })) count++;
      expect(count).toBe(50);
      await waitUntil(() => slots.stats.held === 0);
      // 51 slots were asked for (one found the source done): each took at most one round trip or was
      // handed over, plus one round trip for the last release (asks made in one tick share one).
      const { commands, handoffs } = slots.stats;
      expect(commands + handoffs).toBeLessThanOrEqual(52);
      if (handoffMs === 0) expect(handoffs).toBe(0);
      else expect(handoffs).toBeGreaterThan(0);
    }
  });

  it('keeps a released slot at most handoffMs for its next acquire, then gives it back to Redis', async () => {
    const key = `spare-${nextKey++}`;
    const keys = keysOf(key);
    // A long window, so a stalled machine cannot close it between the two steps below.
    const slots = makeSlots(key, 2, { handoffMs: 1000 });
    const lease = await slots.acquire();
    await slots.release(lease);
    // Kept: the next acquire gets it with no round trip.
    const commands = slots.stats.commands;
    const again = await slots.acquire();
    expect(again.id).toBe(lease.id);
    expect(slots.stats.commands).toBe(commands);
    await slots.release(again);
    // Unused, it goes back by itself.
    await waitUntil(async () => (await client.zcard(keys.leases)) === 0);
    expect(slots.stats.held).toBe(0);
  });

  it('hands no slot over locally while another process waits (fairness over handoffs)', async () => {
    const key = `handoff-fair-${nextKey++}`;
    const keys = keysOf(key);
    const a = makeSlots(key, 1);
    const b = makeSlots(key, 1);
    const lease = await a.acquire();
    const bWaits = b.acquire();
    await waitUntil(async () => (await client.zcard(keys.queue)) === 1);
    // A last saw an empty queue when it acquired; once handoffMs (50) has passed since, its release
    // and next acquire go through Redis, where B is ahead. (Waiting longer only makes this surer.)
    await new Promise((resolve) => setTimeout(resolve, 60));
    const release = a.release(lease);
    const aAgain = a.acquire();
    await release;
    const bLease = await bWaits;
    expect(await client.zrange(keys.leases, '0', '-1')).toEqual([bLease.id]);
    expect(a.stats.handoffs).toBe(0);
    await b.release(bLease);
    await a.release(await aAgain);
    await waitUntil(async () => (await client.zcard(keys.leases)) === 0 && (await client.zcard(keys.queue)) === 0);
  });

  it('early exit in one run releases its slots, and another run sharing the limit gets them', async () => {
    const key = `exit-${nextKey++}`;
    const keys = keysOf(key);
    const meterA = newMeter();
    const meterB = newMeter();
    const a = limitedAsCompleted(holdingTasks(10, meterA), 8, { slots: makeSlots(key, 4) });
    void a.next().catch(() => {});
    await waitUntil(() => meterA.started === 4);
    const b = limitedAsCompleted(holdingTasks(10, meterB), 8, { slots: makeSlots(key, 4) });
    void b.next().catch(() => {});
    // A holds all 4 slots and waits for more in the queue (4 places: as many as it could start, up to
    // the shared limit); B waits in the queue too (4 places).
    await waitUntil(async () => (await client.zcard(keys.queue)) === 8);
    expect(meterB.started).toBe(0);

    await a.return();
    expect(meterA.aborted).toBe(4);
    await waitUntil(() => meterB.started === 4);
    expect(meterA.max + meterB.max).toBeLessThanOrEqual(8);
    expect(meterA.running + meterB.running).toBe(4);
    // A's pending places in the queue were given up: only B waits now (for the 4 it could start besides).
    await waitUntil(async () => (await client.zcard(keys.queue)) === 4);
    await b.return();
    await waitUntil(async () => (await client.zcard(keys.leases)) === 0 && (await client.zcard(keys.queue)) === 0);
  });

  it('options.signal abort and fail fast release every slot of the run', async () => {
    const key = `abort-${nextKey++}`;
    const keys = keysOf(key);
    const slots = makeSlots(key, 3);
    const controller = new AbortController();
    const meter = newMeter();
    const run = limitedAsCompleted(holdingTasks(5, meter), 5, { slots, signal: controller.signal });
    const next = run.next();
    await waitUntil(() => meter.started === 3);
    // The two tasks beyond the shared limit wait in the queue (one place each).
    await waitUntil(async () => (await client.zcard(keys.queue)) === 2);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(next).rejects.toBe(reason);
    await waitUntil(async () => (await client.zcard(keys.leases)) === 0 && (await client.zcard(keys.queue)) === 0);
    expect(slots.stats).toMatchObject({ held: 0, waiting: 0 });

    const boom = new Error('boom');
    const failing = [...holdingTasks(2, newMeter()), () => new Promise((_, reject) => setTimeout(reject, 20, boom))];
    await expect(limitedAsCompleted(failing, 3, { slots }).next()).rejects.toBe(boom);
    await waitUntil(async () => (await client.zcard(keys.leases)) === 0);
    expect(slots.stats.held).toBe(0);
  });

  it('an acquire aborted while waiting gives up its place and takes no slot', async () => {
    const key = `wait-abort-${nextKey++}`;
    const keys = keysOf(key);
    const slots = makeSlots(key, 1);
    const held = await slots.acquire();
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    await waitUntil(async () => (await client.zcard(keys.queue)) === 1);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    await waitUntil(async () => (await client.zcard(keys.queue)) === 0);
    await slots.release(held);
    expect(await client.zcard(keys.leases)).toBe(0);
    expect(slots.stats).toMatchObject({ held: 0, waiting: 0 });
  });

  it('wakes a waiter of another source through the release channel (its pub/sub connection), not the fallback poll', async () => {
    const key = `wake-${nextKey++}`;
    // A waiter also looks again when the earliest lease is due to expire: the holder's lease is long, so
    // that a test a loaded machine slows down past it cannot see a poll (with 3 s it could).
    const holder = makeSlots(key, 1, { handoffMs: 0, leaseMs: 180_000 });
    // A poll 60 s away: the test would time out if only the poll could wake the waiter.
    const waiter = makeSlots(key, 1, { handoffMs: 0, leaseMs: 180_000, pollMs: 60_000 });
    const lease = await holder.acquire();
    const waiting = waiter.acquire();
    await waitUntil(async () => (await client.zcard(keysOf(key).queue)) === 1);
    // Subscribed: the release is announced on a channel someone listens to.
    await waitUntil(async () => Number((await client.pubsub('NUMSUB', keysOf(key).channel))[1]) === 1);
    await holder.release(lease);
    const taken = await waiting;
    expect(waiter.stats).toMatchObject({ held: 1, waiting: 0, polls: 0 });
    await waiter.release(taken);
    expect(await client.zcard(keysOf(key).leases)).toBe(0);
  });

  it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT) without failing', async () => {
    const slots = makeSlots(`flush-${nextKey++}`, 2, { handoffMs: 0 });
    await slots.release(await slots.acquire());
    await client.script('FLUSH');
    const before = slots.stats.commands;
    await slots.release(await slots.acquire());
    // The acquire's script is reloaded (NOSCRIPT, then EVAL: 2); the release runs the same script (1).
    expect(slots.stats.commands - before).toBe(3);
  });

  it('fails every run with ERR_LAC_REDIS_LEASE_LOST when a lease vanishes from Redis while its task runs', async () => {
    const key = `lost-${nextKey++}`;
    // The default 3 s lease: with 300 ms (a 100 ms timeout), a renewal a loaded machine answers late
    // fails the source with ERR_LAC_REDIS_UNAVAILABLE instead, before the renewal that finds the lease gone.
    const slots = makeSlots(key, 2);
    const meter = newMeter();
    const run = limitedAsCompleted(holdingTasks(2, meter), 2, { slots });
    const next = run.next();
    await waitUntil(() => meter.started === 2);
    await client.del(keysOf(key).leases);
    const error = await next.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RedisSlotsError);
    expect(error).toMatchObject({ name: 'RedisSlotsError', code: 'ERR_LAC_REDIS_LEASE_LOST', key });
    expect(meter.aborted).toBe(2);
    expect(slots.signal.aborted).toBe(true);
    await expect(slots.acquire()).rejects.toBe(error);
  });

  it('works as a governor: acquire() resolves to a lease with release() and Symbol.dispose, each giving the slot back once', async () => {
    const key = `governor-${nextKey++}`;
    const keys = keysOf(key);
    const slots = makeSlots(key, 2, { handoffMs: 0 });
    const first = await slots.acquire();
    const second = await slots.acquire();
    expect(second.token).toBeGreaterThan(first.token);
    expect(await client.zcard(keys.leases)).toBe(2);
    await first.release();
    await first.release();
    (second as unknown as Disposable)[Symbol.dispose]();
    await waitUntil(async () => (await client.zcard(keys.leases)) === 0);
    expect(slots.stats.held).toBe(0);
  });

  it('combines with a local limit through allOf: never more than either bound, each task holds a lease of each', async () => {
    const key = `all-of-${nextKey++}`;
    const local = createSharedLimit(2);
    const shared = makeSlots(key, 3);
    const meter = { running: 0, max: 0 };
    const tokens = new Set<number>();
    const tasks = Array.from({ length: 12 }, (_, i) => async ({ slot }: TaskContext) => {
      const [, lease] = slot as [unknown, RedisLease];
      tokens.add(lease.token);
      meter.running++;
      meter.max = Math.max(meter.max, meter.running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      meter.running--;
      return i;
    });
    const other = makeSlots(key, 3);
    const otherMeter = newMeter();
    const otherRun = limitedAsCompleted(holdingTasks(2, otherMeter), 2, { slots: other });
    void otherRun.next().catch(() => {});
    await waitUntil(() => otherMeter.started === 2);
    const results: number[] = [];
    for await (const i of limitedAsCompleted(tasks, 8, { slots: allOf(local, shared) })) results.push(i);
    expect(results.sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    // The other process holds 2 of the 3 shared slots: only one is left here, below the local 2.
    expect(meter.max).toBe(1);
    expect(tokens.size).toBeGreaterThan(0);
    expect(local.running).toBe(0);
    await otherRun.return();
    await waitUntil(async () => (await client.zcard(keysOf(key).leases)) === 0);
  });

  it('close() gives up the queue places of its waiters at once, so other processes are not held up until they lapse', async () => {
    const key = `close-places-${nextKey++}`;
    const keys = keysOf(key);
    const other = await server.connect(kind);
    try {
      const holder = makeSlots(key, 1);
      const lease = await holder.acquire();
      const leaving = makeSlots(key, 1, { client: other.client });
      const waiting = leaving.acquire();
      await waitUntil(async () => (await client.zcard(keys.queue)) === 1);
      // Loaded, in case an earlier test flushed the scripts: a NOSCRIPT reload would go after the ping below.
      await client.script('LOAD', ABANDON.source);
      leaving.close();
      await expect(waiting).rejects.toThrow('was closed');
      // Whatever close() sent went before this on the same connection.
      await other.ping();
      expect(await client.zcard(keys.queue)).toBe(0);
      await holder.release(lease);
    } finally {
      other.close();
    }
  });

  it('close() rejects pending acquires and stops waiting', async () => {
    const key = `close-${nextKey++}`;
    const slots = makeSlots(key, 1);
    const lease = await slots.acquire();
    const waiting = slots.acquire();
    await waitUntil(() => slots.stats.waiting === 1);
    slots.close();
    await expect(waiting).rejects.toThrow('was closed');
    await expect(slots.acquire()).rejects.toThrow('is closed');
    await slots.release(lease);
    expect(await client.zcard(keysOf(key).leases)).toBe(0);
  });
});

describe.skipIf(!hasRedisServer)('the release channel (its pub/sub connection)', () => {
  it('regression: a subscription it drops itself while SUBSCRIBE is on the wire (nobody waits any more) does not fail the source (node-redis v4 rejects it with "Disconnects client")', async () => {
    const subscribing = deferred<void>();
    const dropped = deferred<void>();
    // ioredis, but its subscriber answers SUBSCRIBE only by rejecting it once disconnected, as node-redis v4 does.
    const subscriber: RedisSubscriber = {
      subscribe: () => {
        subscribing.resolve();
        return dropped.promise.then(() => Promise.reject(new Error('Disconnects client')));
      },
      on: () => subscriber,
      disconnect: () => dropped.resolve(),
    };
    const wrapped: RedisClient = {
      evalsha: (...args) => client.evalsha(...args),
      eval: (...args) => client.eval(...args),
      duplicate: () => subscriber,
    };
    const key = `dropped-subscription-${nextKey++}`;
    const slots = makeSlots(key, 1, { client: wrapped, pollMs: 10, handoffMs: 0 });
    const lease = await slots.acquire();
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    await subscribing.promise;
    // Nobody waits any more: pollMs later the channel closes its connection, SUBSCRIBE still unanswered.
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    await dropped.promise;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(slots.signal.aborted).toBe(false);
    await slots.release(lease);
    await slots.release(await slots.acquire());
    expect(await client.zcard(keysOf(key).leases)).toBe(0);
  });
});

describe.skipIf(!hasRedisServer)(
  'a slot freed while another process waits goes to its head waiter without waiting for a poll',
  () => {
    it('regression: close() gives back a lease granted to an attempt whose answer it will not read, and wakes the head waiter (the slot came free silently: the waiter was left to its poll)', async () => {
      const key = `close-granted-${nextKey++}`;
      const keys = keysOf(key);
      // The leaving source's script answers are held back: its attempt is granted in Redis, its answer not read yet.
      const answers = deferred<void>();
      const held: RedisClient = {
        evalsha: (...args) => client.evalsha(...args).then((reply) => answers.promise.then(() => reply)),
        eval: (...args) => client.eval(...args),
        duplicate: () => client.duplicate(),
      };
      // A long lease: the waiter's look at its expiry cannot wake it within the test either.
      const leaving = makeSlots(key, 1, { client: held, handoffMs: 0, leaseMs: 180_000 });
      // A poll 60 s away: only the release channel can wake this one in time.
      const waiter = makeSlots(key, 1, { client, handoffMs: 0, pollMs: 60_000 });
      await client.script('LOAD', ACQUIRE.source);
      const granted = leaving.acquire();
      await waitUntil(async () => (await client.zcard(keys.leases)) === 1);
      const waiting = waiter.acquire();
      await waitUntil(async () => (await client.zcard(keys.queue)) === 1);
      await waitUntil(async () => Number((await client.pubsub('NUMSUB', keys.channel))[1]) === 1);
      leaving.close();
      await expect(granted).rejects.toThrow('was closed');
      const lease = await waiting;
      expect(waiter.stats).toMatchObject({ held: 1, waiting: 0, polls: 0 });
      answers.resolve();
      await waiter.release(lease);
      expect(await client.zcard(keys.leases)).toBe(0);
    });

    it('regression: waiters that went to sleep while the release channel was still subscribing look again once it is, even when the one that subscribed is gone (a release meanwhile was announced to nobody: the others were left to their poll)', async () => {
      const key = `subscribing-${nextKey++}`;
      const keys = keysOf(key);
      const subscribed = deferred<void>();
      const subscribing = deferred<void>();
      const late: RedisClient = {
        evalsha: (...args) => client.evalsha(...args),
        eval: (...args) => client.eval(...args),
        duplicate: () => {
          const subscriber = client.duplicate();
          return {
            subscribe: (channel) => {
              subscribing.resolve();
              return subscribed.promise.then(() => subscriber.subscribe(channel));
            },
            on: (event: 'message' | 'error', listener: (...args: never[]) => void) =>
              subscriber.on(event, listener as () => void),
            disconnect: () => subscriber.disconnect(),
          } as RedisSubscriber;
        },
      };
      // A long lease: the waiters' look at its expiry cannot wake them within the test either.
      const holder = makeSlots(key, 1, { client, handoffMs: 0, leaseMs: 180_000 });
      const lease = await holder.acquire();
      const waiters = makeSlots(key, 1, { client: late, handoffMs: 0, pollMs: 60_000 });
      const controller = new AbortController();
      // The first subscribes and then leaves; the second went to sleep meanwhile.
      const leaving = waiters.acquire(controller.signal);
      const staying = waiters.acquire();
      await subscribing.promise;
      await waitUntil(async () => (await client.zcard(keys.queue)) === 2);
      controller.abort(new Error('gave up'));
      await expect(leaving).rejects.toThrow('gave up');
      await waitUntil(async () => (await client.zcard(keys.queue)) === 1);
      // Announced while nobody in that process listens yet.
      await holder.release(lease);
      subscribed.resolve();
      const taken = await staying;
      expect(waiters.stats).toMatchObject({ held: 1, waiting: 0, polls: 0 });
      await waiters.release(taken);
      expect(await client.zcard(keys.leases)).toBe(0);
    });
  },
);

describe.skipIf(!hasRedisServer).each(clientKinds)('Redis stopped mid-run (%s)', (kind) => {
  it('fails every run with a clear RedisSlotsError, aborts their tasks, never runs over the limit, and leaves no error event unheard', async () => {
    const own = await RedisServer.start();
    // No error listeners of their own: the sources add one (ioredis prints unheard errors, node-redis throws them).
    const clients = [await own.connect(kind, { isQuiet: false }), await own.connect(kind, { isQuiet: false })];
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    try {
      const meter = newMeter();
      // The commands fail (or time out) within pollMs + timeoutMs of the stop, well before any deadline
      // (a renewal up to leaseMs / 3 before the stop, plus leaseMs - safetyMs): the failure is
      // ERR_LAC_REDIS_UNAVAILABLE however late a loaded machine runs the timers. With a 600 ms lease (a
      // 200 ms timeout) the two were 30 ms apart, and a command answered late failed the run before the stop.
      const all = clients.map((c) =>
        makeSlots('down', 4, { client: c.client, leaseMs: 6000, timeoutMs: 1000, pollMs: 50 }),
      );
      const listeners = () => clients.map((c) => (c.client as unknown as EventEmitter).listenerCount('error'));
      expect(listeners()).toEqual([1, 1]);
      const reconnects = clients.map(() => 0);
      clients.forEach((c, i) => {
        (c.client as unknown as { on(event: 'reconnecting', listener: () => void): unknown }).on(
          'reconnecting',
          () => reconnects[i]!++,
        );
      });
      const runs = all.map((slots) => limitedAsCompleted(holdingTasks(6, meter), 3, { slots }));
      const outcomes = runs.map((run) =>
        run.next().then(
          () => new Error('expected a rejection'),
          (error: unknown) => error,
        ),
      );
      await waitUntil(() => meter.started === 4);
      await waitUntil(() => all.some((slots) => slots.stats.waiting > 0));
      await own.stop();
      const errors = await Promise.all(outcomes);
      for (const error of errors) {
        expect(error).toBeInstanceOf(RedisSlotsError);
        expect(error).toMatchObject({ name: 'RedisSlotsError', code: 'ERR_LAC_REDIS_UNAVAILABLE', key: 'down' });
        expect(String((error as Error).message)).toMatch(
          /Shared limit "down": (Redis did not answer|a Redis command failed)/,
        );
      }
      expect(meter.max).toBe(4);
      expect(meter.started).toBe(4);
      expect(meter.aborted).toBe(4);
      expect(meter.running).toBe(0);
      for (const slots of all) expect(slots.stats).toMatchObject({ waiting: 0 });
      expect(uncaught).toEqual([]);
      if (kind === 'ioredis') {
        // Failed, the sources give the clients back as they were: their errors print again (as the
        // 'Redis frozen' case checks, nothing is printed while the source is live).
        expect(listeners()).toEqual([0, 0]);
      } else {
        // node-redis throws an unheard error event (the process would crash): the listener stays with the client.
        expect(listeners()).toEqual([1, 1]);
        // The clients keep reconnecting to the dead server, each attempt after the first following an error event.
        await waitUntil(() => reconnects.every((count) => count >= 2) || uncaught.length > 0);
        expect(uncaught).toEqual([]);
      }
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
      for (const c of clients) c.close();
      await own.stop();
    }
  });
});
