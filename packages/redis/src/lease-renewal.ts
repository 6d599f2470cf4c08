import type { ScriptRunner } from './script-runner.js';
import { RENEW } from './scripts.js';

export interface LeaseRenewalHooks {
  /** Whether the source has failed (renewals stop). */
  readonly hasFailed: () => boolean;
  /** Some held leases were gone from Redis when renewed. */
  readonly onLost: (count: number) => void;
  /** The renewal command failed or timed out. */
  readonly onError: (error: unknown) => void;
}

/** Extends every lease this process holds every `leaseMs / 3`, in one round trip, while any is held. */
export class LeaseRenewal {
  readonly #runner: ScriptRunner;
  readonly #leasesKey: string;
  readonly #leaseMs: number;
  readonly #held: ReadonlySet<string>;
  readonly #hooks: LeaseRenewalHooks;
  #timer: ReturnType<typeof setInterval> | undefined;
  #isRenewing = false;

  constructor(
    runner: ScriptRunner,
    leasesKey: string,
    leaseMs: number,
    held: ReadonlySet<string>,
    hooks: LeaseRenewalHooks,
  ) {
    this.#runner = runner;
    this.#leasesKey = leasesKey;
    this.#leaseMs = leaseMs;
    this.#held = held;
    this.#hooks = hooks;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(this.#renew, Math.max(1, Math.floor(this.#leaseMs / 3)));
    // Leases alone must not keep a process alive: if it exits, they expire.
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  readonly #renew = (): void => {
    if (this.#isRenewing || this.#held.size === 0 || this.#hooks.hasFailed()) return;
    this.#isRenewing = true;
    this.#runner.run(RENEW, [this.#leasesKey], [this.#leaseMs, ...this.#held]).then(
      (lost) => {
        this.#isRenewing = false;
        // A lease released while the renewal was on the wire is not lost, just gone.
        const stillHeld = (lost as string[]).filter((id) => this.#held.has(id));
        if (stillHeld.length > 0) this.#hooks.onLost(stillHeld.length);
      },
      (error: unknown) => {
        this.#isRenewing = false;
        this.#hooks.onError(error);
      },
    );
  };
}
