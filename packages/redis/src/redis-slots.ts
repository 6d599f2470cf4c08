import { randomUUID } from 'node:crypto';
import { type SlotSource, type Slots, slotsFrom } from '@lac/core';
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

/** A released lease kept until the end of the tick: a same-tick acquire or a waiter takes it over, or it goes back in the tick's one round trip. */
interface Returning {
  readonly lease: HeldLease;
  /** Kept as a spare for this process's next acquire while nobody waits (not a grant nobody here asked for any more). */
  readonly isKept: boolean;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
}

interface Waiter {
  readonly id: string;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (lease: RedisLease) => void;
  readonly reject: (reason: unknown) => void;
  /** In the next round trip's block of asking ids. */
  isDue: boolean;
  isTrying: boolean;
  wantsRetry: boolean;
  /**
   * Redis reported this waiter's place among the first of the queue with only this process's ahead
   * of it: no other process's waiter can ever be ahead of it (newcomers queue behind), so FIFO lets
   * it take a slot released here without a round trip.
   */
  isEntitled: boolean;
  /**
   * Until when (monotonic clock) its place surely stays in the queue: the send time of its last
   * attempt plus `waiterTtlMs` (Redis set the place's expiry after that send).
   */
  placeUntil: number;
  isSettled: boolean;
}

/** The waiters of one signal: a run passes one signal to all its pending acquires, so one listener serves them all. */
interface SignalWaiters {
  readonly waiters: Set<Waiter>;
  readonly onAbort: () => void;
}

function ignore(): void {}

/**
 * A `SlotSource` for `@lac/core` (`options.slots`) that keeps one concurrency limit in Redis, shared
 * by every process and machine using the same `key`. Each slot is a lease with a server-side expiry,
 * renewed while its task runs, so a crashed process cannot leak slots. Waiters queue in Redis in
 * arrival order and are woken by pub/sub when a slot frees, with a bounded fallback poll. Each
 * process makes at most one round trip per tick for all it does: releases, places given up, and a
 * block of asks (a run keeps up to `limit - running` pending, see `maxPendingAcquires`). A slot
 * released by a finished task passes to a waiter of the same process without a round trip where
 * FIFO allows it (its place is at the head, with only this process's waiters ahead), or while
 * nobody waits (see `handoffMs`).
 *
 * Failure policy: the client's own reconnection absorbs short blips; a command that fails or takes
 * longer than `timeoutMs`, or a lease that expired before its renewal, makes the source fail for
 * good: its `signal` aborts with a `RedisSlotsError`, so every run using it fails fast (aborting its
 * tasks) instead of running over the limit. Make a new `RedisSlots` to try again.
 *
 * It is also a value for `options.slots` as it is (like `createSharedLimit()`'s): no `slotsFrom()` needed.
 */
export class RedisSlots implements SlotSource<RedisLease>, Slots {
  /** Marks it as a value for `options.slots`; the code a run uses it with is set in the constructor. */
  declare readonly '~lac': 'slots';
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
  /** Starts every id of this process (the scripts tell its places in the queue by it). */
  readonly #prefix = `${randomUUID()}:`;
  #nextId = 0;

  readonly #controller = new AbortController();
  #error: RedisSlotsError | undefined;
  #isClosed = false;

  /** Leases held by this process (by tasks, kept as spares, or being released), by id. */
  readonly #held = new Map<string, HeldLease>();
  /** Released this tick: a same-tick acquire takes one over (handoff) or releases it with its own attempt (swap). */
  #returning: Returning[] = [];
  /** Waiters to ask for in the tick's round trip, in arrival order. */
  #due: Waiter[] = [];
  /** Places to give up in the tick's round trip (waiters served locally or aborted). */
  #toAbandon: string[] = [];
  #isFlushScheduled = false;
  /** The fallback poll, one for all waiters of this process, and when it is due. */
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #pollAt = Number.POSITIVE_INFINITY;
  /** Leases no task holds, kept (at most `handoffMs`, while nobody waits) for this process's next acquire. */
  #spares: HeldLease[] = [];
  #spareTimer: ReturnType<typeof setTimeout> | undefined;
  /** When (local clock, at sending) Redis last reported an empty queue: handoffs are allowed for `handoffMs` after. */
  #queueEmptyAt = Number.NEGATIVE_INFINITY;

  /** The waiters by their acquire's signal (one abort listener per signal). */
  readonly #bySignal = new Map<AbortSignal, SignalWaiters>();
  /** Waiting acquires in arrival order, by id. */
  readonly #waiters = new Map<string, Waiter>();
  /**
   * Ids of waiters that an attempt may have put in the Redis queue and that have neither been
   * granted nor given their place up yet. `close()` gives them all up at once: a place left behind
   * would hold up every other process's waiters until it lapses (`waiterTtlMs`, seconds).
   */
  readonly #placed = new Set<string>();
  /** Ids whose attempt is on the wire: one may be granted a lease whose answer comes after `close()`. */
  readonly #asking = new Set<string>();

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
      onRelease: (message) => {
        // Releases are announced only while someone waits.
        this.#queueEmptyAt = Number.NEGATIVE_INFINITY;
        this.#releaseSpares();
        // The ids entitled to the free slots, when the announcement names them: only their process asks.
        if (message !== '' && !message.split(',').some((id) => this.#waiters.has(id))) return;
        // One round trip for all of this process's waiters, however many are woken.
        this.#tryAll();
      },
      onError: (error) => this.#failWith(error),
      hasWaiters: () => this.#waiters.size > 0,
    });
    // What a run and createLimiter use it with (the slots gate), so it goes to `options.slots` as it is.
    Object.assign(this, slotsFrom(this));
  }

  /**
   * A run may have up to `limit` acquires pending at once (`@lac/core` asks for as many as it could
   * start): the acquires made in one tick go to Redis in one round trip, granted as a block.
   */
  get maxPendingAcquires(): number {
    return this.#limit;
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
    if (this.#returning.length > 0) {
      const entry = this.#returning[this.#returning.length - 1]!;
      if (this.#mayHandOff(entry.lease)) {
        // Nobody waited a moment ago: the finished task's lease goes on to the next one as it is.
        this.#returning.pop();
        this.#held.set(entry.lease.id, entry.lease);
        this.#handoffs++;
        entry.resolve();
        return Promise.resolve(entry.lease);
      }
    }
    if (this.#returning.length === 0 && this.#spares.length > 0) {
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
        id: `${this.#prefix}${this.#nextId++}`,
        signal,
        resolve,
        reject,
        isDue: false,
        isTrying: false,
        wantsRetry: false,
        isEntitled: false,
        placeUntil: 0,
        isSettled: false,
      };
      if (signal !== undefined) this.#listen(signal, waiter);
      this.#waiters.set(waiter.id, waiter);
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
      this.#returning.push({ lease: held, isKept: true, resolve, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#isFlushScheduled) return;
    this.#isFlushScheduled = true;
    queueMicrotask(this.#flush);
  }

  readonly #releaseLease = (lease: HeldLease): Promise<void> => this.release(lease);

  /**
   * The tick's one round trip: the leases released this tick that no waiter here took over, the
   * places given up, and a block of asks for the waiters due, all in one script call.
   */
  readonly #flush = (): void => {
    this.#isFlushScheduled = false;
    const returning = this.#returning;
    this.#returning = [];
    // A waiter of this process takes a released lease over where FIFO across processes allows it.
    while (returning.length > 0 && this.#waiters.size > 0) {
      const lease = returning[0]!.lease;
      const waiter = this.#localTaker(lease);
      if (waiter === undefined) break;
      const entry = returning.shift()!;
      this.#held.set(lease.id, lease);
      this.#handoffs++;
      entry.resolve();
      this.#settle(waiter, undefined, false, lease);
      // Its place goes in this same round trip, even with an attempt of its still on the wire: Redis
      // runs the two in order, and a place left until the attempt answers would hold up other
      // processes' waiters meanwhile. An attempt that was granted brings a spare lease.
      this.#abandon(waiter.id);
    }
    if (this.#error === undefined && !this.#isClosed) {
      // Nobody waited a moment ago: keep them a little for this process's next acquire.
      let kept = 0;
      for (let i = 0; i < returning.length; i++) {
        const entry = returning[i]!;
        if (entry.isKept && this.#mayHandOff(entry.lease)) {
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
    const due = this.#due.filter((waiter) => !waiter.isSettled);
    this.#due = [];
    const abandons = this.#toAbandon;
    this.#toAbandon = [];
    if (this.#error !== undefined) {
      for (const entry of returning) entry.reject(this.#error);
      return;
    }
    if (returning.length === 0 && abandons.length === 0 && due.length === 0) return;
    this.#send(returning, abandons, due);
  };

  /**
   * Who here may take `lease` without a round trip (never with `handoffMs` 0): the oldest waiter that is entitled by FIFO
   * (Redis reported it at the head of the queue, with only this process's waiters ahead), or, while
   * nobody waited a moment ago (`handoffMs`), the oldest waiter. Never on a lease with less than
   * half its time left.
   */
  #localTaker(lease: HeldLease): Waiter | undefined {
    // handoffMs 0 promises every task a grant (and a fencing token) of its own.
    if (this.#handoffMs === 0 || lease.deadline - performance.now() <= this.#leaseMs / 2) return undefined;
    const isQueueEmpty = this.#mayHandOff(lease);
    for (const waiter of this.#waiters.values()) {
      if (waiter.isSettled) continue;
      // An entitled waiter whose place may have lapsed (a stall) could be behind others by now.
      if (isQueueEmpty || (waiter.isEntitled && performance.now() < waiter.placeUntil)) return waiter;
    }
    return undefined;
  }

  #send(returning: Returning[], abandons: string[], due: Waiter[]): void {
    for (const waiter of due) {
      waiter.isDue = false;
      waiter.isTrying = true;
      this.#placed.add(waiter.id);
      this.#asking.add(waiter.id);
    }
    const args: (string | number)[] = [
      this.#quarantineMs,
      this.#limit,
      this.#leaseMs,
      this.#waiterTtlMs,
      this.#channel,
      this.#prefix,
      this.#waiters.size,
      returning.length,
      abandons.length,
    ];
    for (const entry of returning) args.push(entry.lease.id);
    for (const id of abandons) args.push(id);
    for (const waiter of due) args.push(waiter.id);
    const sentAt = performance.now();
    this.#runner.run(ACQUIRE, this.#keys, args).then(
      (reply) => {
        for (const waiter of due) this.#asking.delete(waiter.id);
        const [epoch, queued, untilExpiry, released, head, tokens] = reply as [
          string,
          number,
          number,
          number,
          string[],
          number[],
        ];
        if (this.#noteEpoch(epoch)) {
          for (const waiter of due) waiter.isTrying = false;
          for (const entry of returning) entry.reject(this.#error);
          return;
        }
        // Places given up alone say nothing of what a release here may do next (as before blocks).
        if (due.length > 0 || returning.length > 0 || queued > 0) this.#noteQueue(queued, sentAt);
        if (released === returning.length) {
          for (const entry of returning) entry.resolve();
        } else {
          const error = this.#fail(
            'ERR_LAC_REDIS_LEASE_LOST',
            `${returning.length - released} lease(s) had expired before they were released`,
          );
          for (const entry of returning) entry.reject(error);
        }
        for (const id of head) {
          const waiter = this.#waiters.get(id);
          if (waiter !== undefined) waiter.isEntitled = true;
        }
        for (let i = 0; i < due.length; i++) {
          const waiter = due[i]!;
          const token = tokens[i]!;
          if (token === 0) waiter.placeUntil = sentAt + this.#waiterTtlMs;
          const lease =
            token > 0 ? new HeldLease(waiter.id, token, sentAt + this.#leaseMs, this.#releaseLease) : undefined;
          this.#onTried(waiter, lease, untilExpiry);
        }
      },
      (error: unknown) => {
        for (const waiter of due) {
          waiter.isTrying = false;
          this.#asking.delete(waiter.id);
        }
        const failure = this.#failWith(error);
        for (const entry of returning) entry.reject(failure);
      },
    );
  }

  /**
   * Gives the kept spare leases back to Redis (their time is up, someone waits, or the source closes:
   * then with the script's source, so that a NOSCRIPT reload cannot come after the client quits).
   */
  readonly #releaseSpares = (isClosing = false): void => {
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
    const args = [this.#channel, ...spares.map((lease) => lease.id)];
    void (
      isClosing
        ? this.#runner.runSource(RELEASE, [this.#leases, this.#queue], args)
        : this.#runner.run(RELEASE, [this.#leases, this.#queue], args)
    ).then(
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
    // A new epoch dropped the queue: no waiter here keeps a place at its head.
    for (const waiter of this.#waiters.values()) waiter.isEntitled = false;
    this.#epoch = epoch;
    return false;
  }

  /** Passes on a lease nobody in this process asked for (yet): to a same-tick acquire or a waiter, else back to Redis. */
  #returnSpare(lease: HeldLease): void {
    this.#returning.push({ lease, isKept: false, resolve: ignore, reject: ignore });
    this.#scheduleFlush();
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
    for (const waiter of [...this.#waiters.values()]) this.#settle(waiter, error);
    this.#stopPoll();
    // Every id that may still have a place, or a grant this source will not act on: not the leases held here.
    const gone = new Set([...this.#placed, ...this.#asking, ...this.#toAbandon]);
    this.#toAbandon = [];
    for (const id of this.#held.keys()) gone.delete(id);
    // What this tick released goes now, before the caller can quit the client (and before the places below).
    if (this.#isFlushScheduled) this.#flush();
    if (gone.size > 0 && this.#error === undefined) {
      // An attempt still on the wire was sent before this, so it lands first, and a lease it was
      // granted goes too (its answer may never be read).
      void this.#runner
        .runSource(ABANDON, [this.#queue, this.#waiting, this.#leases], [this.#channel, ...gone])
        .catch(ignore);
    }
    this.#placed.clear();
    this.#asking.clear();
    this.#releaseSpares(true);
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

  /**
   * Puts a waiter in the tick's round trip; a wake-up that arrives while its attempt is on the wire
   * makes it try again right after.
   */
  #try(waiter: Waiter): void {
    if (waiter.isSettled || waiter.isDue) return;
    if (waiter.isTrying) {
      waiter.wantsRetry = true;
      return;
    }
    waiter.isDue = true;
    this.#due.push(waiter);
    this.#scheduleFlush();
  }

  readonly #tryAll = (): void => {
    for (const waiter of this.#waiters.values()) this.#try(waiter);
  };

  /** Those with an attempt on the wire look at Redis anyway. */
  readonly #trySleeping = (): void => {
    for (const waiter of this.#waiters.values()) if (!waiter.isTrying) this.#try(waiter);
  };

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
      // First wait: subscribe, then look again (a release between the attempt and the subscription was not
      // heard): every waiter asleep, as those that went to sleep meanwhile missed it too, in one round trip.
      this.#releases.subscribe().then(this.#trySleeping, ignore);
      return;
    }
    if (waiter.wantsRetry) {
      waiter.wantsRetry = false;
      this.#try(waiter);
      return;
    }
    // Sleep until woken, the earliest lease is due to expire, or pollMs passes; never less than 1 ms.
    const delay = untilExpiry >= 0 ? Math.min(this.#pollMs, untilExpiry + 1) : this.#pollMs;
    this.#schedulePoll(Math.max(1, delay));
  }

  /** One fallback poll for every waiter of this process: due at the earliest any of them asked for. */
  #schedulePoll(delay: number): void {
    const at = performance.now() + delay;
    if (this.#pollTimer !== undefined && this.#pollAt <= at) return;
    this.#stopPoll();
    this.#pollAt = at;
    this.#pollTimer = setTimeout(this.#poll, delay);
  }

  readonly #poll = (): void => {
    this.#pollTimer = undefined;
    this.#pollAt = Number.POSITIVE_INFINITY;
    for (const waiter of this.#waiters.values()) {
      if (waiter.isTrying || waiter.isDue) continue;
      this.#polls++;
      this.#try(waiter);
    }
  };

  #stopPoll(): void {
    if (this.#pollTimer === undefined) return;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#pollAt = Number.POSITIVE_INFINITY;
  }

  #listen(signal: AbortSignal, waiter: Waiter): void {
    let entry = this.#bySignal.get(signal);
    if (entry === undefined) {
      const waiters = new Set<Waiter>();
      entry = {
        waiters,
        onAbort: () => {
          for (const each of [...waiters]) this.#onWaiterAbort(each);
        },
      };
      this.#bySignal.set(signal, entry);
      signal.addEventListener('abort', entry.onAbort);
    }
    entry.waiters.add(waiter);
  }

  #unlisten(signal: AbortSignal, waiter: Waiter): void {
    const entry = this.#bySignal.get(signal);
    if (entry === undefined || !entry.waiters.delete(waiter) || entry.waiters.size > 0) return;
    this.#bySignal.delete(signal);
    signal.removeEventListener('abort', entry.onAbort);
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
    this.#waiters.delete(waiter.id);
    if (waiter.signal !== undefined) this.#unlisten(waiter.signal, waiter);
    if (isRejection) waiter.reject(reason);
    else waiter.resolve(lease!);
    if (this.#waiters.size === 0) {
      this.#stopPoll();
      this.#releases.scheduleIdle();
    }
  }

  /** Gives up a waiter's place in the tick's round trip. */
  #abandon(id: string): void {
    // Not placed: never sent, or already given up by close().
    if (!this.#placed.delete(id) || this.#error !== undefined) return;
    this.#toAbandon.push(id);
    this.#scheduleFlush();
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
    for (const waiter of [...this.#waiters.values()]) this.#settle(waiter, error);
    this.#stopPoll();
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
