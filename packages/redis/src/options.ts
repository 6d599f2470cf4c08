// The public option and result types of `RedisSlots`, and their validation (once, at construction).
import { describe } from '@lac/shared';

/**
 * The part of a Redis client this package uses. An `ioredis` client (`new Redis(...)`, v5 or v6)
 * fits as it is.
 */
export interface RedisClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** A new connection with the same settings; used for the pub/sub subscription while anyone waits. */
  duplicate(): RedisSubscriber;
}

/** The subscriber connection `duplicate()` returns. */
export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

export interface RedisSlotsOptions {
  /** A connected Redis client (ioredis). It stays yours: `close()` does not quit it. */
  readonly client: RedisClient;
  /**
   * Names the shared limit: every process that uses the same key (and Redis) shares one limit.
   * The state lives in `{key}:leases`, `{key}:queue` and `{key}:waiting`; releases are announced on
   * `{key}:released` (one hash tag, so the scripts also fit Redis Cluster).
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
   * starts waiting meanwhile is served up to this much later than strict arrival order. 0 sends
   * every slot back through Redis (the release and the next acquire then share one round trip).
   * @default 50
   */
  readonly handoffMs?: number;
}

/** A slot handed out by `RedisSlots`: a lease in Redis, renewed while held. */
export interface RedisLease {
  /** The lease's member in `{key}:leases`. */
  readonly id: string;
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
  /** How long a waiter keeps its place in the queue without asking again. */
  readonly waiterTtlMs: number;
  readonly leases: string;
  readonly queue: string;
  readonly waiting: string;
  readonly channel: string;
}

/** Validates the options of `new RedisSlots(options)`, throwing a `TypeError` that names the bad one. */
export function resolveOptions(options: RedisSlotsOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`Expected \`options\` to be an object { client, key, limit }, got ${describe(options)}`);
  }
  const { client, key, limit, leaseMs = 30_000, pollMs = 250, handoffMs = 50 } = options;
  if (
    client === null ||
    typeof client !== 'object' ||
    typeof client.evalsha !== 'function' ||
    typeof client.eval !== 'function' ||
    typeof client.duplicate !== 'function'
  ) {
    throw new TypeError(
      `Expected \`options.client\` to be a Redis client (ioredis) with evalsha, eval and duplicate, got ${describe(client)}`,
    );
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`Expected \`options.key\` to be a non-empty string, got ${describe(key)}`);
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
  const tag = `{${key}}`;
  return {
    client,
    key,
    limit,
    leaseMs,
    pollMs,
    timeoutMs,
    handoffMs,
    // A live waiter asks again at least every pollMs; one that stops (its process died) loses its place.
    waiterTtlMs: 3 * pollMs + timeoutMs,
    leases: `${tag}:leases`,
    queue: `${tag}:queue`,
    waiting: `${tag}:waiting`,
    channel: `${tag}:released`,
  };
}
