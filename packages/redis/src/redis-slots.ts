import { randomUUID } from 'node:crypto';
import type { SlotSource } from '@lac/core';
import { RedisSlotsError } from './errors.js';
import { LeaseRenewal } from './lease-renewal.js';
import { type RedisLease, type RedisSlotsOptions, type RedisSlotsStats, resolveOptions } from './options.js';
import { ReleaseChannel } from './release-channel.js';
import { ScriptRunner } from './script-runner.js';
import { ABANDON, ACQUIRE, RELEASE } from './scripts.js';

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

function ignore(): void {}

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
  readonly #key: string;
  readonly #limit: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #waiterTtlMs: number;
  readonly #handoffMs: number;
  readonly #leases: string;
  readonly #queue: string;
  readonly #waiting: string;
  readonly #channel: string;
  readonly #runner: ScriptRunner;
  readonly #renewal: LeaseRenewal;
  readonly #releases: ReleaseChannel;
  readonly #prefix = randomUUID();
  #nextId = 0;

  readonly #controller = new AbortController();
  #error: RedisSlotsError | undefined;
  #isClosed = false;

  /** Lease ids held by this process. */
  readonly #held = new Set<string>();
  /** Released this tick: a same-tick acquire takes one over (handoff) or releases it with its own attempt (swap). */
  #returning: Returning[] = [];
  #isFlushScheduled = false;
  /** Leases no task holds, kept (at most `handoffMs`, while nobody waits) for this process's next acquire. */
  #spares: string[] = [];
  #spareTimer: ReturnType<typeof setTimeout> | undefined;
  /** When (local clock, at sending) Redis last reported an empty queue: handoffs are allowed for `handoffMs` after. */
  #queueEmptyAt = Number.NEGATIVE_INFINITY;

  readonly #waiters = new Set<Waiter>();

  #acquired = 0;
  #handoffs = 0;
  #polls = 0;

  /**
   * @param options - `client` (an ioredis-style client), `key`, `limit`, and the lease timings (`leaseMs`, `timeoutMs`, ...).
   *
   * @throws TypeError when an option is invalid, naming it, the value and its type.
   *
   * @example
   * ```ts
   * const slots = new RedisSlots({ client: new Redis(), key: 'partner-api', limit: 50 });
   * ```
   */
  constructor(options: RedisSlotsOptions) {
    const resolved = resolveOptions(options);
    this.#key = resolved.key;
    this.#limit = resolved.limit;
    this.#leaseMs = resolved.leaseMs;
    this.#pollMs = resolved.pollMs;
    this.#handoffMs = resolved.handoffMs;
    this.#waiterTtlMs = resolved.waiterTtlMs;
    this.#leases = resolved.leases;
    this.#queue = resolved.queue;
    this.#waiting = resolved.waiting;
    this.#channel = resolved.channel;
    this.#runner = new ScriptRunner(resolved.client, resolved.key, resolved.timeoutMs);
    this.#renewal = new LeaseRenewal(this.#runner, this.#leases, this.#leaseMs, this.#held, {
      hasFailed: () => this.#error !== undefined,
      onLost: (count) => {
        this.#fail(
          'ERR_LAC_REDIS_LEASE_LOST',
          `${count} lease(s) expired before they were renewed (did the process stall for over ${this.#leaseMs} ms, or Redis lose its data?)`,
        );
      },
      onError: (error) => {
        this.#failWith(error);
      },
    });
    this.#releases = new ReleaseChannel(resolved.client, this.#channel, this.#pollMs, this.#runner, {
      onRelease: () => {
        // Releases are announced only while someone waits.
        this.#queueEmptyAt = Number.NEGATIVE_INFINITY;
        this.#releaseSpares();
        for (const waiter of this.#waiters) this.#try(waiter);
      },
      onError: (error) => this.#failWith(error),
      hasWaiters: () => this.#waiters.size > 0,
    });
  }

  /** Aborts with a `RedisSlotsError` once the source failed; runs using it fail fast with that error. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get stats(): RedisSlotsStats {
    return {
      commands: this.#runner.commands,
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
      if (this.#held.size === 0) this.#renewal.stop();
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
    if (this.#held.size === 0) this.#renewal.stop();
    if (returning.length === 0) return;
    const sentAt = performance.now();
    this.#runner.run(RELEASE, [this.#leases, this.#queue], [this.#channel, ...returning.map((entry) => entry.id)]).then(
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
    if (this.#held.size === 0) this.#renewal.stop();
    if (this.#error !== undefined) return;
    void this.#runner.run(RELEASE, [this.#leases, this.#queue], [this.#channel, ...spares]).then(
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
    this.#renewal.stop();
    this.#releases.disconnect();
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
    this.#runner.run(ACQUIRE, [this.#leases, this.#queue, this.#waiting], args).then(
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
        else void this.#runner.run(RELEASE, [this.#leases, this.#queue], [this.#channel, waiter.id]).catch(ignore);
        return;
      }
      this.#held.add(waiter.id);
      this.#renewal.start();
      this.#settle(waiter, undefined);
      return;
    }
    if (waiter.isSettled) {
      this.#abandon(waiter.id);
      return;
    }
    if (!this.#releases.isSubscribed) {
      // First wait: subscribe, then look again (a release between the attempt and the subscription was not heard).
      this.#releases.subscribe().then(() => this.#try(waiter), ignore);
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
    if (this.#waiters.size === 0) this.#releases.scheduleIdle();
  }

  #abandon(id: string): void {
    if (this.#error !== undefined) return;
    void this.#runner.run(ABANDON, [this.#queue, this.#waiting], [id, this.#channel]).catch(ignore);
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
    this.#renewal.stop();
    this.#releases.disconnect();
    this.#controller.abort(error);
    return error;
  }
}

/**
 * Creates a `RedisSlots`: pass it as `options.slots` to any `@lac/core` function to share one limit
 * across processes.
 *
 * @param options - `client` (an ioredis-style client), `key`, `limit`, and the lease timings (`leaseMs`, `timeoutMs`, ...).
 *
 * @returns A `RedisSlots` to pass as `options.slots`; `close()` it when done.
 *
 * @throws TypeError when an option is invalid, naming it, the value and its type. Runs using it fail with a `RedisSlotsError` when Redis is unreachable or a lease is lost.
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
