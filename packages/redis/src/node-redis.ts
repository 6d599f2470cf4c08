// node-redis (`redis` on npm, v4 and v5) behind the ioredis-shaped `RedisClient` the source uses.
import type { RedisClient, RedisSubscriber } from './options.js';

function ignore(): void {}

/**
 * How long a cluster subscriber told to close while it subscribed waits for its subscribe to settle
 * before it is closed anyway (node-redis's default connect timeout).
 */
const CLOSE_ANYWAY_MS = 5000;

/**
 * The part of a node-redis client (`redis` on npm, v4 or v5: `await createClient().connect()`)
 * this package uses. Commands go through `sendCommand`, so the client's typings, modules and RESP
 * version do not matter.
 */
export interface NodeRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
  /** An unconnected copy with the same settings; connected for the pub/sub subscription while anyone waits. */
  duplicate(): NodeRedisConnection;
  on(event: 'error', listener: (error: Error) => void): unknown;
  listenerCount?(event: 'error'): number;
}

/**
 * The part of a node-redis cluster client (`await createCluster({ rootNodes }).connect()`, v4 or v5)
 * this package uses. Its `sendCommand` routes by the first key it is given: every key of one limit
 * shares one hash tag, so each script runs on the master that owns the limit's slot.
 */
export interface NodeRedisCluster {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  /** Only told apart from a single client by this (a cluster's `sendCommand` takes a key first). */
  getSlotMaster(slot: number): unknown;
  /** An unconnected copy with the same settings; connected for the pub/sub subscription while anyone waits. */
  duplicate(): NodeRedisConnection;
  on(event: 'error', listener: (error: Error) => void): unknown;
  listenerCount?(event: 'error'): number;
}

/** The subscriber connection a node-redis `duplicate()` returns (of a client or of a cluster). */
export interface NodeRedisConnection {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  /** False while a connection that was open reconnects (its socket dropped); a cluster client has none. */
  readonly isReady?: boolean;
  /** v5: closes the connection at once. */
  destroy?(): void;
  /** v4 (deprecated in v5 for `destroy`). */
  disconnect?(): Promise<unknown>;
}

/** A node-redis client or cluster has `sendCommand` and no lowercase `evalsha` (ioredis has both). */
export function isNodeRedisClient(client: object): client is NodeRedisClient | NodeRedisCluster {
  const candidate = client as Partial<Record<'evalsha' | 'sendCommand' | 'duplicate' | 'on', unknown>>;
  return (
    typeof candidate.evalsha !== 'function' &&
    typeof candidate.sendCommand === 'function' &&
    typeof candidate.duplicate === 'function' &&
    typeof candidate.on === 'function'
  );
}

function command(name: string, first: string, numKeys: number, args: (string | number)[]): string[] {
  // node-redis sends only strings (and buffers); ioredis stringifies numbers itself.
  return [name, first, String(numKeys), ...args.map(String)];
}

function isCluster(client: NodeRedisClient | NodeRedisCluster): client is NodeRedisCluster {
  return typeof (client as Partial<NodeRedisCluster>).getSlotMaster === 'function';
}

/** Wraps a node-redis client or cluster so it reads like the ioredis client the source was written for. */
export function fromNodeRedis(client: NodeRedisClient | NodeRedisCluster): RedisClient {
  // A cluster is sent each script with its first key (every script has one), to route it by its slot.
  const send = isCluster(client)
    ? (args: string[]) => client.sendCommand(args[3], false, args)
    : (args: string[]) => client.sendCommand(args);
  return {
    evalsha: (sha, numKeys, ...args) => send(command('EVALSHA', sha, numKeys, args)),
    eval: (script, numKeys, ...args) => send(command('EVAL', script, numKeys, args)),
    duplicate: () => new NodeRedisSubscriber(client.duplicate()),
    on: (event, listener) => client.on(event, listener),
    // No `off`: node-redis throws an error event nobody hears (crashing the process), so the listener a
    // source adds to a client without one stays with the client after the source closes.
    listenerCount: (event) => client.listenerCount?.(event) ?? 0,
  };
}

/**
 * A node-redis connection that subscribes like ioredis: connects on `subscribe`, and reports
 * messages through `on('message')` with the channel first.
 */
class NodeRedisSubscriber implements RedisSubscriber {
  readonly #connection: NodeRedisConnection;
  readonly #listeners: ((channel: string, message: string) => void)[] = [];
  /** 'closed' from `disconnect()` on, even while a connect still runs; the connection itself is closed once (`#isClosedNow`). */
  #state: 'idle' | 'connecting' | 'subscribing' | 'open' | 'closed' = 'idle';
  #isClosedNow = false;
  /** Closes a connection told to close while it subscribed, if its subscribe has not settled by then. */
  #closeAnyway: ReturnType<typeof setTimeout> | undefined;

  constructor(connection: NodeRedisConnection) {
    this.#connection = connection;
  }

  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'message' | 'error', listener: (...args: never[]) => void): unknown {
    if (event === 'error') return this.#connection.on('error', listener as (error: Error) => void);
    this.#listeners.push(listener as (channel: string, message: string) => void);
    return this;
  }

  async subscribe(channel: string): Promise<unknown> {
    this.#state = 'connecting';
    try {
      await this.#connection.connect();
    } finally {
      if (this.#isClosed) this.#close();
    }
    if (this.#isClosed) throw new Error('The subscriber connection was closed while it connected');
    this.#state = 'subscribing';
    try {
      return await this.#connection.subscribe(channel, (message, from) => {
        // A connection closed while it reconnected resubscribes before it can be closed: not heard any more.
        if (this.#isClosed) return;
        for (const listener of this.#listeners) listener(from, message);
      });
    } finally {
      if (this.#isClosed) this.#close();
      else this.#state = 'open';
    }
  }

  /** Read through a getter: `disconnect()` may set it while `subscribe()` awaits. */
  get #isClosed(): boolean {
    return this.#state === 'closed';
  }

  disconnect(): void {
    if (this.#state === 'idle' || this.#state === 'closed') return;
    // Open but not ready: it reconnects on its own (its socket dropped: Redis restarted or failed over).
    // A cluster client (it has no `isReady`) subscribes on a connection of its own to one node, which
    // its SUBSCRIBE opens: closed then, the cluster closes that node's client midway through its connect.
    const isSubscribingOnANewConnection = this.#state === 'subscribing' && this.#connection.isReady === undefined;
    const isConnecting =
      this.#state === 'connecting' || isSubscribingOnANewConnection || this.#connection.isReady === false;
    this.#state = 'closed';
    if (!isConnecting) {
      this.#close();
      return;
    }
    if (isSubscribingOnANewConnection) {
      // Closed at once where its subscribe never settles (the node froze while its connect stood on its
      // handshake, where a close does stop it): a TCP connect longer than this fails anyway.
      this.#closeAnyway = setTimeout(() => this.#close(), CLOSE_ANYWAY_MS);
    }
    // node-redis does not stop a connect midway: told to while it opens a socket, it opens it anyway
    // and counts itself closed, so nothing can close that connection, which keeps the process alive.
    // This holds for the first connect and for a reconnect alike. So it is closed once its connect is
    // over (see subscribe; a reconnect says `ready`), or at a failed attempt, between two attempts,
    // where closing stops it retrying (Redis down: it would retry for ever).
    const closeNow = () => this.#close();
    this.#connection.on('error', closeNow);
    this.#connection.on('ready', closeNow);
    // A cluster client of v5 reports a node's failed attempts as `node-error`.
    (this.#connection as { on(event: string, listener: () => void): unknown }).on('node-error', closeNow);
  }

  #close(): void {
    if (this.#closeAnyway !== undefined) {
      clearTimeout(this.#closeAnyway);
      this.#closeAnyway = undefined;
    }
    if (this.#isClosedNow) return;
    this.#isClosedNow = true;
    try {
      if (typeof this.#connection.destroy === 'function') this.#connection.destroy();
      else void this.#connection.disconnect?.().catch(ignore);
    } catch {
      // Already closed (the connect failed for good): nothing to free.
    }
  }
}
