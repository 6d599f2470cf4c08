// The public option and result types of `RedisSlots`, and their validation (once, at construction).
import { describe } from '@lac/shared';
import { fromNodeRedis, isNodeRedisClient, type NodeRedisClient, type NodeRedisCluster } from './node-redis.js';

/**
 * The part of a Redis client this package uses. An `ioredis` client (`new Redis(...)`, v5 or v6)
 * fits as it is; a node-redis client (`NodeRedisClient`) is wrapped into this shape.
 */
export interface RedisClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** A new connection with the same settings; used for the pub/sub subscription while anyone waits. */
  duplicate(): RedisSubscriber;
  /**
   * ioredis emits connection errors as events and prints those nobody listens to. When the client
   * has no `error` listener, the source adds one (removed by `close()`) so a Redis restart prints
   * nothing: the outage reaches runs through failed or timed-out commands instead.
   */
  on?(event: 'error', listener: (error: Error) => void): unknown;
  off?(event: 'error', listener: (error: Error) => void): unknown;
  listenerCount?(event: 'error'): number;
}

/** The subscriber connection `duplicate()` returns. */
export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

export interface RedisSlotsOptions {
  /**
   * A connected Redis client: ioredis (`new Redis()`, v5 or v6) or node-redis (`redis` on npm, v4
   * or v5: `await createClient().connect()`), told apart by their methods; or any object with the
   * methods of `RedisClient`. A Redis Cluster client works too: ioredis `new Cluster(nodes)` or
   * node-redis `await createCluster({ rootNodes }).connect()`. It stays yours: `close()` does not quit it.
   */
  readonly client: RedisClient | NodeRedisClient | NodeRedisCluster;
  /**
   * Names the shared limit: every process that uses the same key (and Redis) shares one limit.
   * The state lives in `{key}:leases`, `{key}:queue`, `{key}:waiting`, `{key}:epoch` and
   * `{key}:token`; releases are announced on `{key}:released`. One hash tag: on Redis Cluster every
   * key of a limit is in one slot, so each script runs on the one master that owns it (so a key
   * may not start with `}`: the tag would be empty).
   */
  readonly key: string;
  /** Slots held at once across all processes. An integer >= 1. */
  readonly limit: number;
  /**
   * How long a slot stays taken without renewal, in milliseconds. Held slots are renewed every
   * `leaseMs / 3`; a process that dies (even `kill -9`) gives its slots back at most `leaseMs` later.
   * Shorter: crashed capacity comes back sooner, but a process stalled for longer than that (GC, a
   * blocked event loop, a slow network) loses its slots and fails its runs. An integer >= 100.
   * @default 30000
   */
  readonly leaseMs?: number;
  /**
   * The longest a waiter goes without asking again, in milliseconds (it is woken at once by a
   * release, and also when the earliest lease is due to expire), so it bounds the cost of a missed
   * wake-up. An integer >= 10.
   * @default 250
   */
  readonly pollMs?: number;
  /**
   * How long one Redis command may take before the source gives up and fails, in milliseconds.
   * At most `leaseMs / 3`, so a renewal either lands before its lease expires or fails loudly.
   * @default leaseMs / 3
   */
  readonly timeoutMs?: number;
  /**
   * For how long after Redis last reported nobody waiting a process may pass a slot its finished
   * task released straight to its own next task, with no round trip, in milliseconds. The slot's
   * lease stays in Redis throughout, so the limit holds; what it trades is fairness: a process that
   * starts waiting meanwhile is served up to this much later than strict arrival order. Besides, a
   * released slot passes to a waiter here that FIFO entitles to it (its place at the head of the
   * queue, with only this process's waiters ahead). 0 sends every slot back through Redis, so every
   * task gets a grant and a fencing token of its own (the release and the next acquire then share
   * one round trip).
   * @default 50
   */
  readonly handoffMs?: number;
  /**
   * How long before a lease's deadline its renewal must be confirmed, in milliseconds. Each process
   * tracks every lease's deadline on its monotonic clock (the send time of the last grant or renewal
   * Redis confirmed, plus `leaseMs`); once a lease is within `safetyMs` of it, the source fails with
   * `ERR_LAC_REDIS_LEASE_LOST` and the tasks are aborted, before the lease can expire in Redis and
   * be taken by another process. Larger: more room for a late timer (a loaded machine) between the
   * abort and the expiry. An integer >= 1 and < `leaseMs / 3`.
   * @default leaseMs / 5
   */
  readonly safetyMs?: number;
  /**
   * How long a new epoch of the limit grants nothing, in milliseconds. An epoch starts when Redis
   * restarted, lost the limit's data or failed over (the server's run id changed): leases handed out
   * before were lost with it, and their holders, which abort by their own deadline at the latest,
   * must be gone before anyone else gets a slot. Use the longest `leaseMs` of any process sharing
   * the limit. A key never used before on a Redis master that has been up for longer than this (and
   * was never a replica) starts at once. An integer >= 0.
   * @default leaseMs
   */
  readonly quarantineMs?: number;
}

/**
 * A slot handed out by `RedisSlots`: a lease in Redis, renewed while held. A task reads it as
 * `context.slot`.
 */
export interface RedisLease {
  /** The lease's member in `{key}:leases`. */
  readonly id: string;
  /**
   * The fencing token of the grant: it increases with every grant of the limit (across restarts of
   * Redis too, as it restarts from the server clock in µs). A protected resource that rejects a
   * write carrying a token lower than the highest it has seen cannot be written by a holder that
   * stalled past its lease after a newer holder wrote. A slot passed to the next task in the same
   * process without a round trip keeps its token.
   */
  readonly token: number;
  /**
   * When the lease may expire in Redis, as a `performance.now()` time of this process: at most
   * `leaseMs` after the send of the last grant or renewal Redis confirmed (so the round trip is
   * counted against the holder). Renewals move it on. The source aborts the task `safetyMs` before.
   */
  readonly deadline: number;
  /**
   * Gives the lease back, the same as `slots.release(lease)` (the governor shape: `acquire()`
   * resolves to a token with `release()`; `[Symbol.dispose]()` releases it too, for `using`).
   * Releasing twice does nothing.
   */
  release(): Promise<void>;
}

/** Counters of a `RedisSlots`, for monitoring and benchmarks. */
export interface RedisSlotsStats {
  /** Redis round trips made (scripts run, including renewals and NOSCRIPT reloads). */
  readonly commands: number;
  /** Leases granted so far. */
  readonly acquired: number;
  /** Leases held now by this process. */
  readonly held: number;
  /** Acquires waiting now in this process. */
  readonly waiting: number;
  /** Slots passed from a finished task to the next one in this process without a round trip. */
  readonly handoffs: number;
  /** Attempts made by the fallback poll rather than a wake-up (many means wake-ups are being missed). */
  readonly polls: number;
}

/** The options after validation, with defaults applied and the Redis key names derived. */
export interface ResolvedOptions {
  readonly client: RedisClient;
  readonly key: string;
  readonly limit: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly timeoutMs: number;
  readonly handoffMs: number;
  readonly safetyMs: number;
  readonly quarantineMs: number;
  /** How long a waiter keeps its place in the queue without asking again. */
  readonly waiterTtlMs: number;
  readonly leases: string;
  readonly queue: string;
  readonly waiting: string;
  readonly channel: string;
  readonly epoch: string;
  readonly token: string;
}

function badClient(client: unknown): TypeError {
  return new TypeError(
    `Expected \`options.client\` to be a Redis client (ioredis with evalsha, eval and duplicate, or node-redis with sendCommand, duplicate and on), got ${describe(client)}`,
  );
}

/** Validates the options of `new RedisSlots(options)`, throwing a `TypeError` that names the bad one. */
export function resolveOptions(options: RedisSlotsOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`Expected \`options\` to be an object { client, key, limit }, got ${describe(options)}`);
  }
  const { client, key, limit, leaseMs = 30_000, pollMs = 250, handoffMs = 50 } = options;
  if (client === null || typeof client !== 'object') throw badClient(client);
  const adapted = isNodeRedisClient(client) ? fromNodeRedis(client) : client;
  if (
    typeof adapted.evalsha !== 'function' ||
    typeof adapted.eval !== 'function' ||
    typeof adapted.duplicate !== 'function'
  ) {
    throw badClient(client);
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`Expected \`options.key\` to be a non-empty string, got ${describe(key)}`);
  }
  // The names are `{key}:...`; with a leading `}` their hash tag would be the empty `{}`, which Redis
  // Cluster ignores, hashing each whole name to its own slot (the scripts would fail with CROSSSLOT).
  if (key.startsWith('}')) {
    throw new TypeError(
      `Expected \`options.key\` to be a non-empty string not starting with \`}\` (on Redis Cluster its names would hash to different slots), got ${describe(key)}`,
    );
  }
  if (!(Number.isInteger(limit) && limit >= 1)) {
    throw new TypeError(`Expected \`options.limit\` to be an integer >= 1, got ${describe(limit)}`);
  }
  if (!(Number.isInteger(leaseMs) && leaseMs >= 100)) {
    throw new TypeError(`Expected \`options.leaseMs\` to be an integer >= 100, got ${describe(leaseMs)}`);
  }
  if (!(Number.isInteger(pollMs) && pollMs >= 10)) {
    throw new TypeError(`Expected \`options.pollMs\` to be an integer >= 10, got ${describe(pollMs)}`);
  }
  if (!(Number.isInteger(handoffMs) && handoffMs >= 0)) {
    throw new TypeError(`Expected \`options.handoffMs\` to be an integer >= 0, got ${describe(handoffMs)}`);
  }
  const timeoutMs = options.timeoutMs ?? Math.floor(leaseMs / 3);
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= leaseMs / 3)) {
    throw new TypeError(
      `Expected \`options.timeoutMs\` to be a number > 0 and <= leaseMs / 3 (${leaseMs / 3}), got ${describe(timeoutMs)}`,
    );
  }
  const safetyMs = options.safetyMs ?? Math.floor(leaseMs / 5);
  if (!(Number.isInteger(safetyMs) && safetyMs >= 1 && safetyMs < leaseMs / 3)) {
    throw new TypeError(
      `Expected \`options.safetyMs\` to be an integer >= 1 and < leaseMs / 3 (${leaseMs / 3}), got ${describe(safetyMs)}`,
    );
  }
  const quarantineMs = options.quarantineMs ?? leaseMs;
  if (!(Number.isInteger(quarantineMs) && quarantineMs >= 0)) {
    throw new TypeError(`Expected \`options.quarantineMs\` to be an integer >= 0, got ${describe(quarantineMs)}`);
  }
  const tag = `{${key}}`;
  return {
    client: adapted,
    key,
    limit,
    leaseMs,
    pollMs,
    timeoutMs,
    handoffMs,
    safetyMs,
    quarantineMs,
    // A live waiter asks again at least every pollMs; one that stops (its process died) loses its place.
    waiterTtlMs: 3 * pollMs + timeoutMs,
    leases: `${tag}:leases`,
    queue: `${tag}:queue`,
    waiting: `${tag}:waiting`,
    channel: `${tag}:released`,
    epoch: `${tag}:epoch`,
    token: `${tag}:token`,
  };
}
