import { RedisSlotsError } from './errors.js';
import type { RedisClient } from './options.js';
import type { Script } from './scripts.js';

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Runs the slot scripts and other commands with a deadline, counting the round trips. */
export class ScriptRunner {
  readonly #client: RedisClient;
  readonly #key: string;
  readonly #timeoutMs: number;
  /** Redis round trips made (scripts run, including renewals and NOSCRIPT reloads). */
  commands = 0;

  constructor(client: RedisClient, key: string, timeoutMs: number) {
    this.#client = client;
    this.#key = key;
    this.#timeoutMs = timeoutMs;
  }

  /** Runs a script by its hash (one round trip), loading it when the server does not know it yet. */
  run(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    this.commands++;
    const call = this.#client.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      this.commands++;
      return this.#client.eval(script.source, keys.length, ...keys, ...args);
    });
    return this.withTimeout(call, 'a slot script');
  }

  /**
   * Runs a script by its source (one round trip, whether or not the server has it): for what must
   * land before the caller quits the client, where a NOSCRIPT reload would come too late.
   */
  runSource(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    this.commands++;
    return this.withTimeout(this.#client.eval(script.source, keys.length, ...keys, ...args), 'a slot script');
  }

  /** Settles like `promise`, or rejects with `ERR_LAC_REDIS_UNAVAILABLE` once `timeoutMs` passes first. */
  withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
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
}
