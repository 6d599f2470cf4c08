import { randomUUID } from 'node:crypto';
import type { SlotSource } from '@lac/core';
import { RedisSlotsError } from './errors.js';
import { ABANDON, ACQUIRE, RELEASE, RENEW, type Script } from './scripts.js';

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

/** A released lease kept until the end of the tick, for a same-tick acquire to take over or swap. */
interface Returning {
  readonly id: string;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
}

interface Waiter {
  readonly id: string;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (lease: RedisLease) => void;
  readonly reject: (reason: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** A lease to release in the same round trip as this waiter's first attempt. */
  swap: Returning | undefined;
  isTrying: boolean;
  wantsRetry: boolean;
  isSettled: boolean;
  onAbort: (() => void) | undefined;
}

function describe(value: unknown): string {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value);
  else if (typeof value === 'function') shown = value.name ? `[Function ${value.name}]` : '[Function]';
  else if (value !== null && typeof value === 'object')
    shown = Array.isArray(value) ? '[Array]' : Object.prototype.toString.call(value);
  else shown = String(value);
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `\`${shown}\` (${type})`;
}

function ignore(): void {}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * A `SlotSource` for `@lac/core` (`options.slots`) that keeps one concurrency limit in Redis, shared
 * by every process and machine using the same `key`. Each slot is a lease with a server-side expiry,
 * renewed while its task runs, so a crashed process cannot leak slots. Waiters queue in Redis in
 * arrival order and are woken by pub/sub when a slot frees, with a bounded fallback poll. While
 * nobody waits, a slot released by a finished task passes to the same process's next task without a
 * round trip (see `handoffMs`).
 *
 * Failure policy: the client's own reconnection absorbs short blips; a command that fails or takes
 * longer than `timeoutMs`, or a lease that expired before its renewal, makes the source fail for
 * good: its `signal` aborts with a `RedisSlotsError`, so every run using it fails fast (aborting its
 * tasks) instead of running over the limit. Make a new `RedisSlots` to try again.
 */
export class RedisSlots implements SlotSource<RedisLease> {
  readonly #client: RedisClient;
  readonly #key: string;
  readonly #limit: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #timeoutMs: number;
  readonly #waiterTtlMs: number;
  readonly #handoffMs: number;
  readonly #leases: string;
  readonly #queue: string;
  readonly #waiting: string;
  readonly #channel: string;
  readonly #prefix = randomUUID();
  #nextId = 0;

  readonly #controller = new AbortController();
  #error: RedisSlotsError | undefined;
  #isClosed = false;

  /** Lease ids held by this process. */
  readonly #held = new Set<string>();
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  #isRenewing = false;
  /** Released this tick: a same-tick acquire takes one over (handoff) or releases it with its own attempt (swap). */
  #returning: Returning[] = [];
  #isFlushScheduled = false;
  /** Leases no task holds, kept (at most `handoffMs`, while nobody waits) for this process's next acquire. */
  #spares: string[] = [];
  #spareTimer: ReturnType<typeof setTimeout> | undefined;
  /** When (local clock, at sending) Redis last reported an empty queue: handoffs are allowed for `handoffMs` after. */
  #queueEmptyAt = Number.NEGATIVE_INFINITY;

  readonly #waiters = new Set<Waiter>();
  #subscriber: RedisSubscriber | undefined;
  #subscribed: Promise<void> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  #commands = 0;
  #acquired = 0;
  #handoffs = 0;
  #polls = 0;

  constructor(options: RedisSlotsOptions) {
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
    this.#client = client;
    this.#key = key;
    this.#limit = limit;
    this.#leaseMs = leaseMs;
    this.#pollMs = pollMs;
    this.#timeoutMs = timeoutMs;
    this.#handoffMs = handoffMs;
    // A live waiter asks again at least every pollMs; one that stops (its process died) loses its place.
    this.#waiterTtlMs = 3 * pollMs + timeoutMs;
    const tag = `{${key}}`;
    this.#leases = `${tag}:leases`;
    this.#queue = `${tag}:queue`;
    this.#waiting = `${tag}:waiting`;
    this.#channel = `${tag}:released`;
  }

  /** Aborts with a `RedisSlotsError` once the source failed; runs using it fail fast with that error. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get stats(): RedisSlotsStats {
    return {
      commands: this.#commands,
      acquired: this.#acquired,
      held: this.#held.size,
      waiting: this.#waiters.size,
      handoffs: this.#handoffs,
      polls: this.#polls,
    };
  }

  /**
   * Resolves with a lease once fewer than `limit` are held across all processes and no earlier
   * waiter is owed the slot. Rejects with `signal.reason` when `signal` aborts (giving up its place
   * in the queue), or with a `RedisSlotsError` when the source failed.
   */
  acquire(signal?: AbortSignal): Promise<RedisLease> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#isClosed) return Promise.reject(new Error(`RedisSlots for key ${JSON.stringify(this.#key)} is closed`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    let swap: Returning | undefined;
    if (this.#returning.length > 0) {
      swap = this.#returning.pop()!;
      if (this.#mayHandOff()) {
        // Nobody waited a moment ago: the finished task's lease goes on to the next one as it is.
        this.#held.add(swap.id);
        this.#handoffs++;
        swap.resolve();
        return Promise.resolve({ id: swap.id });
      }
    }
    if (swap === undefined && this.#spares.length > 0) {
      if (this.#mayHandOff()) {
        this.#handoffs++;
        return Promise.resolve({ id: this.#spares.pop()! });
      }
      this.#releaseSpares();
    }
    return new Promise<RedisLease>((resolve, reject) => {
      const waiter: Waiter = {
        id: `${this.#prefix}:${this.#nextId++}`,
        signal,
        resolve,
        reject,
        timer: undefined,
        swap,
        isTrying: false,
        wantsRetry: false,
        isSettled: false,
        onAbort: undefined,
      };
      if (signal !== undefined) {
        waiter.onAbort = () => this.#onWaiterAbort(waiter);
        signal.addEventListener('abort', waiter.onAbort);
      }
      this.#waiters.add(waiter);
      this.#try(waiter);
    });
  }

  /**
   * Gives a lease back and wakes waiters. Rejects with a `RedisSlotsError` (and fails the source) when
   * Redis cannot be reached or the lease had already expired.
   */
  release(lease: RedisLease): Promise<void> {
    if (!this.#held.delete(lease.id)) return Promise.resolve();
    if (this.#error !== undefined) {
      if (this.#held.size === 0) this.#stopRenewing();
      return Promise.reject(this.#error);
    }
    // Kept to the end of the tick: the run usually asks for its next slot right after releasing one.
    return new Promise<void>((resolve, reject) => {
      this.#returning.push({ id: lease.id, resolve, reject });
      if (!this.#isFlushScheduled) {
        this.#isFlushScheduled = true;
        queueMicrotask(this.#flush);
      }
    });
  }

  /** Sends back, in one round trip, the leases released this tick that no acquire took over. */
  readonly #flush = (): void => {
    this.#isFlushScheduled = false;
    const returning = this.#returning;
    if (returning.length === 0) return;
    this.#returning = [];
    // A waiter of this process takes a released lease over, if nobody waited in Redis a moment ago.
    while (returning.length > 0 && this.#waiters.size > 0 && this.#mayHandOff()) {
      const waiter = this.#waiters.values().next().value!;
      const entry = returning.shift()!;
      this.#held.add(entry.id);
      this.#handoffs++;
      entry.resolve();
      const wasTrying = waiter.isTrying;
      this.#settle(waiter, undefined, false, entry.id);
      // Its own attempt, if on the wire, brings a spare lease or a place to give up when it answers.
      if (!wasTrying) this.#abandon(waiter.id);
    }
    if (returning.length > 0 && this.#mayHandOff() && this.#error === undefined && !this.#isClosed) {
      // Nobody waited a moment ago: keep them a little for this process's next acquire.
      for (const entry of returning) {
        this.#held.add(entry.id);
        this.#spares.push(entry.id);
        entry.resolve();
      }
      returning.length = 0;
      if (this.#spareTimer === undefined) {
        this.#spareTimer = setTimeout(this.#releaseSpares, this.#handoffMs);
        this.#spareTimer.unref?.();
      }
    }
    if (this.#held.size === 0) this.#stopRenewing();
    if (returning.length === 0) return;
    const sentAt = performance.now();
    this.#run(RELEASE, [this.#leases, this.#queue], [this.#channel, ...returning.map((entry) => entry.id)]).then(
      (reply) => {
        const [removed, queued] = reply as [number, number];
        this.#noteQueue(queued, sentAt);
        if (removed === returning.length) {
          for (const entry of returning) entry.resolve();
          return;
        }
        const error = this.#fail(
          'ERR_LAC_REDIS_LEASE_LOST',
          `${returning.length - removed} lease(s) had expired before they were released`,
        );
        for (const entry of returning) entry.reject(error);
      },
      (error: unknown) => {
        const failure = this.#failWith(error);
        for (const entry of returning) entry.reject(failure);
      },
    );
  };

  /** Gives the kept spare leases back to Redis (their time is up, someone waits, or the source closes). */
  readonly #releaseSpares = (): void => {
    if (this.#spareTimer !== undefined) {
      clearTimeout(this.#spareTimer);
      this.#spareTimer = undefined;
    }
    if (this.#spares.length === 0) return;
    const spares = this.#spares;
    this.#spares = [];
    for (const id of spares) this.#held.delete(id);
    if (this.#held.size === 0) this.#stopRenewing();
    if (this.#error !== undefined) return;
    void this.#run(RELEASE, [this.#leases, this.#queue], [this.#channel, ...spares]).then(
      (reply) => {
        const [removed] = reply as [number, number];
        if (removed < spares.length)
          this.#fail(
            'ERR_LAC_REDIS_LEASE_LOST',
            `${spares.length - removed} lease(s) had expired before they were released`,
          );
      },
      (error: unknown) => {
        this.#failWith(error);
      },
    );
  };

  #mayHandOff(): boolean {
    return performance.now() - this.#queueEmptyAt < this.#handoffMs;
  }

  /** Passes on a lease nobody in this process asked for (yet): to a same-tick acquire or a waiter, else back to Redis. */
  #returnSpare(id: string): void {
    this.#returning.push({ id, resolve: ignore, reject: ignore });
    if (!this.#isFlushScheduled) {
      this.#isFlushScheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  #noteQueue(queued: number, sentAt: number): void {
    if (queued > 0) {
      this.#queueEmptyAt = Number.NEGATIVE_INFINITY;
      this.#releaseSpares();
    } else if (sentAt > this.#queueEmptyAt) this.#queueEmptyAt = sentAt;
  }

  /**
   * Stops waiting (pending acquires reject), stops renewing and closes the subscriber connection.
   * Leases still held are left to expire; release them first for a prompt hand-back. The client
   * passed in stays open.
   */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    const error = new Error(`RedisSlots for key ${JSON.stringify(this.#key)} was closed`);
    for (const waiter of this.#waiters) this.#settle(waiter, error);
    this.#releaseSpares();
    this.#stopRenewing();
    this.#disconnect();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** One attempt for a waiter; a wake-up that arrives meanwhile makes it try again right after. */
  #try(waiter: Waiter): void {
    if (waiter.isSettled) return;
    if (waiter.isTrying) {
      waiter.wantsRetry = true;
      return;
    }
    if (waiter.timer !== undefined) {
      clearTimeout(waiter.timer);
      waiter.timer = undefined;
    }
    waiter.isTrying = true;
    const swap = waiter.swap;
    waiter.swap = undefined;
    const args: (string | number)[] = [waiter.id, this.#limit, this.#leaseMs, this.#waiterTtlMs, this.#channel];
    if (swap !== undefined) args.push(swap.id);
    const sentAt = performance.now();
    this.#run(ACQUIRE, [this.#leases, this.#queue, this.#waiting], args).then(
      (reply) => {
        const [isGranted, untilExpiry, queued, released] = reply as [number, number, number, number];
        this.#noteQueue(queued, sentAt);
        if (swap !== undefined) {
          if (released === 1) swap.resolve();
          else
            swap.reject(this.#fail('ERR_LAC_REDIS_LEASE_LOST', `lease ${swap.id} had expired before it was released`));
        }
        this.#onTried(waiter, isGranted, untilExpiry);
      },
      (error: unknown) => {
        waiter.isTrying = false;
        const failure = this.#failWith(error);
        swap?.reject(failure);
      },
    );
  }

  #onTried(waiter: Waiter, isGranted: number, untilExpiry: number): void {
    waiter.isTrying = false;
    if (isGranted === 1) {
      this.#acquired++;
      if (waiter.isSettled) {
        // Served by a handoff or aborted while this attempt was on the wire: the lease is spare.
        if (this.#error === undefined && !this.#isClosed) this.#returnSpare(waiter.id);
        else void this.#run(RELEASE, [this.#leases, this.#queue], [this.#channel, waiter.id]).catch(ignore);
        return;
      }
      this.#held.add(waiter.id);
      this.#startRenewing();
      this.#settle(waiter, undefined);
      return;
    }
    if (waiter.isSettled) {
      this.#abandon(waiter.id);
      return;
    }
    if (this.#subscribed === undefined) {
      // First wait: subscribe, then look again (a release between the attempt and the subscription was not heard).
      this.#subscribe().then(() => this.#try(waiter), ignore);
      return;
    }
    if (waiter.wantsRetry) {
      waiter.wantsRetry = false;
      this.#try(waiter);
      return;
    }
    // Sleep until woken, the earliest lease is due to expire, or pollMs passes; never less than 1 ms.
    const delay = untilExpiry >= 0 ? Math.min(this.#pollMs, untilExpiry + 1) : this.#pollMs;
    waiter.timer = setTimeout(
      () => {
        waiter.timer = undefined;
        this.#polls++;
        this.#try(waiter);
      },
      Math.max(1, delay),
    );
  }

  #onWaiterAbort(waiter: Waiter): void {
    if (waiter.isSettled) return;
    const wasTrying = waiter.isTrying;
    this.#settle(waiter, waiter.signal!.reason, true);
    // An attempt on the wire gives the place up (or the slot back) when it answers.
    if (!wasTrying) this.#abandon(waiter.id);
  }

  /** Resolves (reason undefined) or rejects a waiter, dropping its timer and listener. */
  #settle(waiter: Waiter, reason: unknown, isRejection = reason !== undefined, leaseId = waiter.id): void {
    if (waiter.isSettled) return;
    waiter.isSettled = true;
    this.#waiters.delete(waiter);
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort);
    if (isRejection) waiter.reject(reason);
    else waiter.resolve({ id: leaseId });
    if (this.#waiters.size === 0) this.#scheduleIdle();
  }

  #abandon(id: string): void {
    if (this.#error !== undefined) return;
    void this.#run(ABANDON, [this.#queue, this.#waiting], [id, this.#channel]).catch(ignore);
  }

  #subscribe(): Promise<void> {
    if (this.#subscribed !== undefined) return this.#subscribed;
    const subscriber = this.#client.duplicate();
    this.#subscriber = subscriber;
    // The connection reports errors as events; failures reach runs through command timeouts instead.
    subscriber.on('error', ignore);
    subscriber.on('message', (channel) => {
      if (channel !== this.#channel) return;
      // Releases are announced only while someone waits.
      this.#queueEmptyAt = Number.NEGATIVE_INFINITY;
      this.#releaseSpares();
      for (const waiter of this.#waiters) this.#try(waiter);
    });
    const subscribed = this.#withTimeout(subscriber.subscribe(this.#channel), 'SUBSCRIBE').then(
      ignore,
      (error: unknown) => {
        throw this.#failWith(error);
      },
    );
    this.#subscribed = subscribed;
    return subscribed;
  }

  /** With nobody waiting for a while, the subscriber connection closes so it does not keep the process alive. */
  #scheduleIdle(): void {
    if (this.#subscriber === undefined || this.#idleTimer !== undefined) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#waiters.size === 0) this.#disconnect();
    }, this.#pollMs);
  }

  #disconnect(): void {
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    const subscriber = this.#subscriber;
    if (subscriber === undefined) return;
    this.#subscriber = undefined;
    this.#subscribed = undefined;
    subscriber.disconnect();
  }

  #startRenewing(): void {
    if (this.#renewTimer !== undefined) return;
    this.#renewTimer = setInterval(this.#renew, Math.max(1, Math.floor(this.#leaseMs / 3)));
    // Leases alone must not keep a process alive: if it exits, they expire.
    this.#renewTimer.unref?.();
  }

  #stopRenewing(): void {
    if (this.#renewTimer === undefined) return;
    clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
  }

  /** Extends every lease this process holds, in one round trip. */
  readonly #renew = (): void => {
    if (this.#isRenewing || this.#held.size === 0 || this.#error !== undefined) return;
    this.#isRenewing = true;
    this.#run(RENEW, [this.#leases], [this.#leaseMs, ...this.#held]).then(
      (lost) => {
        this.#isRenewing = false;
        // A lease released while the renewal was on the wire is not lost, just gone.
        const stillHeld = (lost as string[]).filter((id) => this.#held.has(id));
        if (stillHeld.length > 0) {
          this.#fail(
            'ERR_LAC_REDIS_LEASE_LOST',
            `${stillHeld.length} lease(s) expired before they were renewed (did the process stall for over ${this.#leaseMs} ms, or Redis lose its data?)`,
          );
        }
      },
      (error: unknown) => {
        this.#isRenewing = false;
        this.#failWith(error);
      },
    );
  };

  /** Runs a script by its hash (one round trip), loading it when the server does not know it yet. */
  #run(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    this.#commands++;
    const call = this.#client.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      this.#commands++;
      return this.#client.eval(script.source, keys.length, ...keys, ...args);
    });
    return this.#withTimeout(call, 'a slot script');
  }

  #withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new RedisSlotsError(
            'ERR_LAC_REDIS_UNAVAILABLE',
            this.#key,
            `Shared limit ${JSON.stringify(this.#key)}: Redis did not answer ${what} within ${this.#timeoutMs} ms`,
          ),
        );
      }, this.#timeoutMs);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #failWith(error: unknown): RedisSlotsError {
    if (error instanceof RedisSlotsError) return this.#failed(error);
    const message = error instanceof Error ? error.message : String(error);
    return this.#fail('ERR_LAC_REDIS_UNAVAILABLE', `a Redis command failed: ${message}`, error);
  }

  #fail(code: RedisSlotsError['code'], message: string, cause?: unknown): RedisSlotsError {
    return this.#failed(
      new RedisSlotsError(
        code,
        this.#key,
        `Shared limit ${JSON.stringify(this.#key)}: ${message}`,
        cause === undefined ? undefined : { cause },
      ),
    );
  }

  /** The source fails for good: waiters reject, runs using it fail fast through `signal`. */
  #failed(error: RedisSlotsError): RedisSlotsError {
    if (this.#error !== undefined) return this.#error;
    this.#error = error;
    for (const waiter of this.#waiters) this.#settle(waiter, error);
    if (this.#spareTimer !== undefined) clearTimeout(this.#spareTimer);
    this.#spareTimer = undefined;
    this.#spares = [];
    this.#stopRenewing();
    this.#disconnect();
    this.#controller.abort(error);
    return error;
  }
}

/**
 * Creates a `RedisSlots`: pass it as `options.slots` to any `@lac/core` function to share one limit
 * across processes.
 *
 * @example
 * ```ts
 * const slots = redisSlots({ client: new Redis(), key: 'partner-api', limit: 50 });
 * for await (const r of limitedAsCompleted(tasks, 8, { slots })) console.log(r);
 * ```
 */
export function redisSlots(options: RedisSlotsOptions): RedisSlots {
  return new RedisSlots(options);
}
