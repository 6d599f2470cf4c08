import { randomUUID } from 'node:crypto';
import type { SlotSource } from '@lac/core';
import { RedisSlotsError } from './errors.js';
import { HeldLease, LeaseRenewal } from './lease-renewal.js';
import {
  type RedisClient,
  type RedisLease,
  type RedisSlotsOptions,
  type RedisSlotsStats,
  resolveOptions,
} from './options.js';
import { ReleaseChannel } from './release-channel.js';
import { ScriptRunner } from './script-runner.js';
import { ABANDON, ACQUIRE, RELEASE } from './scripts.js';

/** A released lease kept until the end of the tick, for a same-tick acquire to take over or swap. */
interface Returning {
  readonly lease: HeldLease;
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
  readonly #safetyMs: number;
  readonly #quarantineMs: number;
  readonly #leases: string;
  readonly #queue: string;
  readonly #waiting: string;
  readonly #channel: string;
  /** The keys every acquire and renewal touches: leases, queue, waiting, epoch, token. */
  readonly #keys: string[];
  /** The epoch of the limit this source's leases belong to ('' until Redis first answers). */
  #epoch = '';
  readonly #client: RedisClient;
  readonly #runner: ScriptRunner;
  readonly #renewal: LeaseRenewal;
  readonly #releases: ReleaseChannel;
  readonly #prefix = randomUUID();
  #nextId = 0;

  readonly #controller = new AbortController();
  #error: RedisSlotsError | undefined;
  #isClosed = false;

  /** Leases held by this process (by tasks, kept as spares, or being released), by id. */
  readonly #held = new Map<string, HeldLease>();
  /** Released this tick: a same-tick acquire takes one over (handoff) or releases it with its own attempt (swap). */
  #returning: Returning[] = [];
  #isFlushScheduled = false;
  /** Leases no task holds, kept (at most `handoffMs`, while nobody waits) for this process's next acquire. */
  #spares: HeldLease[] = [];
  #spareTimer: ReturnType<typeof setTimeout> | undefined;
  /** When (local clock, at sending) Redis last reported an empty queue: handoffs are allowed for `handoffMs` after. */
  #queueEmptyAt = Number.NEGATIVE_INFINITY;

  readonly #waiters = new Set<Waiter>();
  /**
   * Ids of waiters that an attempt may have put in the Redis queue and that have neither been
   * granted nor given their place up yet. `close()` gives them all up at once: a place left behind
   * would hold up every other process's waiters until it lapses (`waiterTtlMs`, seconds).
   */
  readonly #placed = new Set<string>();

  #acquired = 0;
  #ownsErrorListener = false;
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
    this.#safetyMs = resolved.safetyMs;
    this.#quarantineMs = resolved.quarantineMs;
    this.#leases = resolved.leases;
    this.#queue = resolved.queue;
    this.#waiting = resolved.waiting;
    this.#channel = resolved.channel;
    this.#keys = [resolved.leases, resolved.queue, resolved.waiting, resolved.epoch, resolved.token];
    this.#client = resolved.client;
    this.#runner = new ScriptRunner(resolved.client, resolved.key, resolved.timeoutMs);
    this.#renewal = new LeaseRenewal(this.#runner, this.#keys, resolved, this.#held, {
      hasFailed: () => this.#error !== undefined,
      onRenewed: (epoch, lost) => {
        if (this.#noteEpoch(epoch)) return;
        if (lost > 0) {
          this.#fail(
            'ERR_LAC_REDIS_LEASE_LOST',
            `${lost} lease(s) expired before they were renewed (did the process stall for over ${this.#leaseMs} ms, or Redis lose its data?)`,
          );
        }
      },
      onDeadline: (lease, lateByMs) => {
        this.#fail(
          'ERR_LAC_REDIS_LEASE_LOST',
          `the renewal of lease ${lease.id} was not confirmed ${this.#safetyMs} ms before its deadline${lateByMs > 1 ? ` (checked ${Math.round(lateByMs)} ms late: did the process stall?)` : ''}; its tasks are aborted before another process can take the slot`,
        );
      },
      onError: (error) => {
        this.#failWith(error);
      },
    });
    // ioredis prints an 'error' event nobody listens to as unhandled (ECONNREFUSED while Redis restarts).
    // Commands fail or time out on their own, so the source learns of an outage without the event.
    if (typeof this.#client.on === 'function' && this.#client.listenerCount?.('error') === 0) {
      this.#client.on('error', ignore);
      this.#ownsErrorListener = true;
    }
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
    // A stalled process must not start a task on a lease it may have lost meanwhile.
    if (this.#renewal.checkDeadlines()) return Promise.reject(this.#error);
    let swap: Returning | undefined;
    if (this.#returning.length > 0) {
      swap = this.#returning.pop()!;
      if (this.#mayHandOff(swap.lease)) {
        // Nobody waited a moment ago: the finished task's lease goes on to the next one as it is.
        this.#held.set(swap.lease.id, swap.lease);
        this.#handoffs++;
        swap.resolve();
        return Promise.resolve(swap.lease);
      }
    }
    if (swap === undefined && this.#spares.length > 0) {
      const spare = this.#spares[this.#spares.length - 1]!;
      if (this.#mayHandOff(spare)) {
        this.#handoffs++;
        this.#spares.pop();
        return Promise.resolve(spare);
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
    const held = this.#held.get(lease.id);
    if (held === undefined) return Promise.resolve();
    this.#held.delete(lease.id);
    if (this.#error !== undefined) {
      if (this.#held.size === 0) this.#renewal.stop();
      return Promise.reject(this.#error);
    }
    // Kept to the end of the tick: the run usually asks for its next slot right after releasing one.
    return new Promise<void>((resolve, reject) => {
      this.#returning.push({ lease: held, resolve, reject });
      if (!this.#isFlushScheduled) {
        this.#isFlushScheduled = true;
        queueMicrotask(this.#flush);
      }
    });
  }

  readonly #releaseLease = (lease: HeldLease): Promise<void> => this.release(lease);

  /** Sends back, in one round trip, the leases released this tick that no acquire took over. */
  readonly #flush = (): void => {
    this.#isFlushScheduled = false;
    const returning = this.#returning;
    if (returning.length === 0) return;
    this.#returning = [];
    // A waiter of this process takes a released lease over, if nobody waited in Redis a moment ago.
    while (returning.length > 0 && this.#waiters.size > 0 && this.#mayHandOff(returning[0]!.lease)) {
      const waiter = this.#waiters.values().next().value!;
      const entry = returning.shift()!;
      this.#held.set(entry.lease.id, entry.lease);
      this.#handoffs++;
      entry.resolve();
      this.#settle(waiter, undefined, false, entry.lease);
      // Its place goes at once, even with its attempt still on the wire: Redis runs the two in order,
      // and a place left until the attempt answers would hold up other processes' waiters meanwhile.
      // An attempt that was granted brings a spare lease.
      this.#abandon(waiter.id);
    }
    if (this.#error === undefined && !this.#isClosed) {
      // Nobody waited a moment ago: keep them a little for this process's next acquire.
      let kept = 0;
      for (let i = 0; i < returning.length; i++) {
        const entry = returning[i]!;
        if (this.#mayHandOff(entry.lease)) {
          this.#held.set(entry.lease.id, entry.lease);
          this.#spares.push(entry.lease);
          entry.resolve();
        } else returning[kept++] = entry;
      }
      returning.length = kept;
      if (this.#spares.length > 0 && this.#spareTimer === undefined) {
        this.#spareTimer = setTimeout(this.#releaseSpares, this.#handoffMs);
        this.#spareTimer.unref?.();
      }
    }
    if (this.#held.size === 0) this.#renewal.stop();
    if (returning.length === 0) return;
    const sentAt = performance.now();
    this.#runner
      .run(RELEASE, [this.#leases, this.#queue], [this.#channel, ...returning.map((entry) => entry.lease.id)])
      .then(
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
    for (const lease of spares) this.#held.delete(lease.id);
    if (this.#held.size === 0) this.#renewal.stop();
    if (this.#error !== undefined) return;
    void this.#runner
      .run(RELEASE, [this.#leases, this.#queue], [this.#channel, ...spares.map((lease) => lease.id)])
      .then(
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

  /**
   * A lease passes to another task in this process without a round trip only while nobody waited a
   * moment ago, and only with at least half its lease time left (a renewal is due every third): a
   * lease whose renewals are late is sent back rather than started on.
   */
  #mayHandOff(lease: HeldLease): boolean {
    const now = performance.now();
    return now - this.#queueEmptyAt < this.#handoffMs && lease.deadline - now > this.#leaseMs / 2;
  }

  /**
   * Redis answered in `epoch`. A change while leases are held means Redis lost them (a restart, a
   * failover to a replica without the latest writes): all are lost at once. True when the source failed.
   */
  #noteEpoch(epoch: string): boolean {
    if (epoch === this.#epoch) return false;
    if (this.#epoch !== '' && this.#held.size > 0) {
      this.#fail(
        'ERR_LAC_REDIS_LEASE_LOST',
        `Redis lost the limit's state (restarted, lost its data, or failed over): epoch ${this.#epoch} became ${epoch}, so all ${this.#held.size} lease(s) held here are lost`,
      );
      return true;
    }
    this.#epoch = epoch;
    return false;
  }

  /** Passes on a lease nobody in this process asked for (yet): to a same-tick acquire or a waiter, else back to Redis. */
  #returnSpare(lease: HeldLease): void {
    this.#returning.push({ lease, resolve: ignore, reject: ignore });
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
    if (this.#placed.size > 0 && this.#error === undefined) {
      // Sent before the caller can quit the client; an attempt still on the wire was sent before this, so it lands first.
      void this.#runner.run(ABANDON, [this.#queue, this.#waiting], [this.#channel, ...this.#placed]).catch(ignore);
    }
    this.#placed.clear();
    this.#releaseSpares();
    this.#renewal.stop();
    this.#releases.disconnect();
    this.#dropErrorListener();
  }

  #dropErrorListener(): void {
    if (!this.#ownsErrorListener) return;
    this.#ownsErrorListener = false;
    this.#client.off?.('error', ignore);
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
    const args: (string | number)[] = [
      this.#quarantineMs,
      waiter.id,
      this.#limit,
      this.#leaseMs,
      this.#waiterTtlMs,
      this.#channel,
    ];
    if (swap !== undefined) args.push(swap.lease.id);
    this.#placed.add(waiter.id);
    const sentAt = performance.now();
    this.#runner.run(ACQUIRE, this.#keys, args).then(
      (reply) => {
        const [isGranted, untilExpiry, queued, released, token, epoch] = reply as [
          number,
          number,
          number,
          number,
          number,
          string,
        ];
        if (this.#noteEpoch(epoch)) {
          waiter.isTrying = false;
          swap?.reject(this.#error);
          return;
        }
        this.#noteQueue(queued, sentAt);
        if (swap !== undefined) {
          if (released === 1) swap.resolve();
          else
            swap.reject(
              this.#fail('ERR_LAC_REDIS_LEASE_LOST', `lease ${swap.lease.id} had expired before it was released`),
            );
        }
        const lease: HeldLease | undefined =
          isGranted === 1 ? new HeldLease(waiter.id, token, sentAt + this.#leaseMs, this.#releaseLease) : undefined;
        this.#onTried(waiter, lease, untilExpiry);
      },
      (error: unknown) => {
        waiter.isTrying = false;
        const failure = this.#failWith(error);
        swap?.reject(failure);
      },
    );
  }

  #onTried(waiter: Waiter, lease: HeldLease | undefined, untilExpiry: number): void {
    waiter.isTrying = false;
    if (lease !== undefined) {
      this.#placed.delete(lease.id);
      this.#acquired++;
      if (waiter.isSettled) {
        // Served by a handoff or aborted while this attempt was on the wire: the lease is spare.
        if (this.#error === undefined && !this.#isClosed) this.#returnSpare(lease);
        else void this.#runner.run(RELEASE, [this.#leases, this.#queue], [this.#channel, lease.id]).catch(ignore);
        return;
      }
      this.#held.set(lease.id, lease);
      this.#renewal.start();
      this.#settle(waiter, undefined, false, lease);
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
    this.#settle(waiter, waiter.signal!.reason, true);
    // The place goes at once (see #flush); an attempt on the wire that was granted gives the slot back when it answers.
    this.#abandon(waiter.id);
  }

  /** Resolves (reason undefined) or rejects a waiter, dropping its timer and listener. */
  #settle(waiter: Waiter, reason: unknown, isRejection = reason !== undefined, lease?: HeldLease): void {
    if (waiter.isSettled) return;
    waiter.isSettled = true;
    this.#waiters.delete(waiter);
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort);
    if (isRejection) waiter.reject(reason);
    else waiter.resolve(lease!);
    if (this.#waiters.size === 0) this.#releases.scheduleIdle();
  }

  #abandon(id: string): void {
    // Not placed: never sent, or already given up by close().
    if (!this.#placed.delete(id) || this.#error !== undefined) return;
    void this.#runner.run(ABANDON, [this.#queue, this.#waiting], [this.#channel, id]).catch(ignore);
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
    this.#dropErrorListener();
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
