import type { ScriptRunner } from './script-runner.js';
import { RENEW } from './scripts.js';

function ignore(): void {}

/**
 * A lease this process holds, with its deadline on this process's monotonic clock. It is also the
 * governor token of `slots.acquire()`: `release()` and `[Symbol.dispose]()` give it back.
 */
export class HeldLease {
  readonly id: string;
  readonly token: number;
  /**
   * `performance.now()` by which the lease may have expired in Redis: the send time of the attempt
   * (grant or renewal) Redis last confirmed, plus `leaseMs`. The server set the expiry after that send,
   * so this is never later than the real expiry (the round trip is counted against the holder).
   */
  deadline: number;
  readonly #release: (lease: HeldLease) => Promise<void>;

  constructor(id: string, token: number, deadline: number, release: (lease: HeldLease) => Promise<void>) {
    this.id = id;
    this.token = token;
    this.deadline = deadline;
    this.#release = release;
  }

  /** Gives the lease back (the same as `slots.release(lease)`); releasing twice does nothing. */
  release(): Promise<void> {
    const released = this.#release(this);
    // A failure also fails the source (its signal aborts): a caller that does not await is not left an unhandled rejection.
    released.catch(ignore);
    return released;
  }

  [Symbol.dispose](): void {
    void this.release();
  }
}

export interface LeaseRenewalHooks {
  /** Whether the source has failed (renewals stop). */
  readonly hasFailed: () => boolean;
  /** A renewal reply: the epoch Redis is in now, and how many held leases were gone. */
  readonly onRenewed: (epoch: string, lost: number) => void;
  /** A lease's renewal was not confirmed by `deadline - safetyMs`. */
  readonly onDeadline: (lease: HeldLease, lateByMs: number) => void;
  /** The renewal command failed or timed out. */
  readonly onError: (error: unknown) => void;
}

export interface LeaseTimes {
  readonly leaseMs: number;
  readonly safetyMs: number;
  readonly quarantineMs: number;
}

/**
 * Keeps this process's leases: renews them all in one round trip every `leaseMs / 3`, and watches
 * their deadlines on the monotonic clock with a short tick, so a lease whose renewal was not
 * confirmed by `deadline - safetyMs` is given up (its tasks aborted) before it can expire in Redis.
 * The tick is short so that after a stall (SIGSTOP, a frozen VM, a long GC) it is among the first
 * timers due, and the deadlines are checked before the tasks' own timers run, where their expiry
 * is later than the tick's.
 */
export class LeaseRenewal {
  readonly #runner: ScriptRunner;
  readonly #keys: string[];
  readonly #times: LeaseTimes;
  readonly #held: ReadonlyMap<string, HeldLease>;
  readonly #hooks: LeaseRenewalHooks;
  readonly #tickMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #isRenewing = false;
  #renewedAt = Number.NEGATIVE_INFINITY;

  constructor(
    runner: ScriptRunner,
    keys: string[],
    times: LeaseTimes,
    held: ReadonlyMap<string, HeldLease>,
    hooks: LeaseRenewalHooks,
  ) {
    this.#runner = runner;
    this.#keys = keys;
    this.#times = times;
    this.#held = held;
    this.#hooks = hooks;
    this.#tickMs = Math.min(50, Math.max(5, Math.floor(times.safetyMs / 20)));
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#renewedAt = performance.now();
    this.#timer = setInterval(this.#tick, this.#tickMs);
    // Leases alone must not keep a process alive: if it exits, they expire.
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Deadlines first: after a stall this is the first thing the source does. */
  readonly #tick = (): void => {
    if (this.#hooks.hasFailed()) return;
    if (this.checkDeadlines()) return;
    if (performance.now() - this.#renewedAt >= this.#times.leaseMs / 3) this.#renew();
  };

  /** Gives up the source when a held lease is within `safetyMs` of its deadline; true if so. */
  checkDeadlines(): boolean {
    const now = performance.now() + this.#times.safetyMs;
    for (const lease of this.#held.values()) {
      if (lease.deadline <= now) {
        this.#hooks.onDeadline(lease, now - lease.deadline);
        return true;
      }
    }
    return false;
  }

  #renew(): void {
    if (this.#isRenewing || this.#held.size === 0) return;
    this.#isRenewing = true;
    const sentAt = performance.now();
    this.#renewedAt = sentAt;
    const leases = [...this.#held.values()];
    this.#runner
      .run(RENEW, this.#keys, [this.#times.quarantineMs, this.#times.leaseMs, ...leases.map((lease) => lease.id)])
      .then(
        (reply) => {
          this.#isRenewing = false;
          const [epoch, ...lost] = reply as [string, ...string[]];
          const gone = new Set(lost);
          const deadline = sentAt + this.#times.leaseMs;
          for (const lease of leases) {
            if (!gone.has(lease.id) && lease.deadline < deadline) lease.deadline = deadline;
          }
          // A lease released while the renewal was on the wire is not lost, just gone.
          const stillHeld = lost.filter((id) => this.#held.has(id)).length;
          this.#hooks.onRenewed(epoch, stillHeld);
        },
        (error: unknown) => {
          this.#isRenewing = false;
          this.#hooks.onError(error);
        },
      );
  }
}
