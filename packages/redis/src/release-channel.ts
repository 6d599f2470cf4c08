import type { RedisClient, RedisSubscriber } from './options.js';
import type { ScriptRunner } from './script-runner.js';

function ignore(): void {}

export interface ReleaseChannelHooks {
  /** A release was announced (announcements are made only while someone waits), naming the waiters entitled to the free slots or '' (anyone may look). */
  readonly onRelease: (message: string) => void;
  /** Turns a failed or timed-out SUBSCRIBE into the source's failure, which the subscription rejects with. */
  readonly onError: (error: unknown) => unknown;
  /** Whether anyone in this process still waits. */
  readonly hasWaiters: () => boolean;
}

/**
 * The pub/sub subscription to `{key}:released` that wakes waiters: opened (on a duplicate of the
 * client) by the first wait, closed after `pollMs` with nobody waiting, so it does not keep the
 * process alive.
 */
export class ReleaseChannel {
  readonly #client: RedisClient;
  readonly #channel: string;
  readonly #idleMs: number;
  readonly #runner: ScriptRunner;
  readonly #hooks: ReleaseChannelHooks;
  #subscriber: RedisSubscriber | undefined;
  #subscribed: Promise<void> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(client: RedisClient, channel: string, idleMs: number, runner: ScriptRunner, hooks: ReleaseChannelHooks) {
    this.#client = client;
    this.#channel = channel;
    this.#idleMs = idleMs;
    this.#runner = runner;
    this.#hooks = hooks;
  }

  /** Whether a subscription was asked for (and not closed since). */
  get isSubscribed(): boolean {
    return this.#subscribed !== undefined;
  }

  subscribe(): Promise<void> {
    if (this.#subscribed !== undefined) return this.#subscribed;
    const subscriber = this.#client.duplicate();
    this.#subscriber = subscriber;
    // The connection reports errors as events; failures reach runs through command timeouts instead.
    subscriber.on('error', ignore);
    subscriber.on('message', (channel, message) => {
      if (channel !== this.#channel) return;
      this.#hooks.onRelease(String(message));
    });
    const subscribed = this.#runner
      .withTimeout(subscriber.subscribe(this.#channel), 'SUBSCRIBE')
      .then(ignore, (error: unknown) => {
        // A subscriber this channel closed itself (nobody waited, or the source closed or failed) is no
        // failure of Redis: node-redis v4 rejects its SUBSCRIBE with "Disconnects client" then.
        if (this.#subscriber !== subscriber) return;
        throw this.#hooks.onError(error);
      });
    this.#subscribed = subscribed;
    return subscribed;
  }

  /** With nobody waiting for a while, the subscriber connection closes. */
  scheduleIdle(): void {
    if (this.#subscriber === undefined || this.#idleTimer !== undefined) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (!this.#hooks.hasWaiters()) this.disconnect();
    }, this.#idleMs);
  }

  disconnect(): void {
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
}
