// The node-redis adapter's subscriber connection, against a fake connection that behaves as
// node-redis does where it matters (no Redis needed).
import { deferred } from '@lac/test-tools/deferred';
import { describe, expect, it, vi } from 'vitest';
import { fromNodeRedis, type NodeRedisConnection } from '../src/node-redis.ts';

/**
 * A connection that behaves like node-redis's: told to close while it opens a socket, it opens it
 * anyway and counts itself closed, so that a close afterwards does nothing (cluster clients, v4 and
 * v5, finish such a connect too). Between two attempts (Redis down: it retries for ever, its connect
 * never ends) it reports the failed one as an `error` event, and a close then stops it. The same
 * holds for a reconnect (its socket dropped: Redis restarted): `isReady` is false meanwhile, and a
 * reconnect that succeeds is reported as `ready`, even by a connection counted closed.
 */
function nodeRedisLikeConnection(close: 'destroy' | 'disconnect') {
  const connected = deferred<void>();
  const onError: ((error: Error) => void)[] = [];
  const onReady: (() => void)[] = [];
  const state = {
    phase: 'idle' as 'idle' | 'opening a socket' | 'between attempts' | 'open',
    isCountedClosed: false,
    isSocketOpen: false,
    closes: 0,
    subscribed: [] as string[],
  };
  const closeNow = () => {
    state.closes++;
    if (state.isCountedClosed) return;
    state.isCountedClosed = true;
    if (state.phase === 'open') state.isSocketOpen = false;
  };
  const connection: NodeRedisConnection = {
    connect: () => {
      state.phase = 'opening a socket';
      return connected.promise.then(() => {
        state.phase = 'open';
        state.isSocketOpen = true;
      });
    },
    subscribe: async (channel) => {
      state.subscribed.push(channel);
    },
    on: (event: string, listener: (error: Error) => void) => {
      if (event === 'error') onError.push(listener);
      if (event === 'ready') onReady.push(listener as () => void);
      return connection;
    },
    get isReady() {
      return state.phase === 'open';
    },
    ...(close === 'destroy' ? { destroy: closeNow } : { disconnect: async () => closeNow() }),
  };
  const client = fromNodeRedis({ sendCommand: async () => 'OK', duplicate: () => connection, on: () => undefined });
  const failAttempt = () => {
    state.phase = 'between attempts';
    for (const listener of onError) listener(new Error('connect ECONNREFUSED'));
  };
  /** The socket dropped (Redis restarted): node-redis reconnects on its own, opening a new socket. */
  const dropSocket = () => {
    state.phase = 'opening a socket';
    state.isSocketOpen = false;
  };
  /** The reconnect's socket opened: node-redis keeps it, and says `ready`, even if told to close meanwhile. */
  const reconnect = () => {
    state.phase = 'open';
    state.isSocketOpen = true;
    for (const listener of onReady) listener();
  };
  return { subscriber: client.duplicate(), state, connected, failAttempt, dropSocket, reconnect };
}

/**
 * A cluster connection that behaves like node-redis's (v5): it has no `isReady`; its connect finds the
 * nodes, and its SUBSCRIBE opens a connection of its own to one node. Closed while that connection
 * opens its socket, the cluster closes the node's client, which opens the socket anyway and counts
 * itself closed: it stays open, subscribed, and nothing can close it.
 */
function nodeRedisLikeCluster() {
  const nodeConnected = deferred<void>();
  const state = {
    phase: 'idle' as 'idle' | 'open' | 'opening the node connection' | 'subscribed',
    isNodeSocketOpen: false,
    closes: 0,
  };
  const connection: NodeRedisConnection = {
    connect: async () => {
      state.phase = 'open';
    },
    subscribe: async () => {
      state.phase = 'opening the node connection';
      await nodeConnected.promise;
      // Told to close meanwhile or not, the node's socket opened.
      state.isNodeSocketOpen = true;
      if (state.closes === 0) state.phase = 'subscribed';
    },
    on: () => connection,
    destroy: () => {
      state.closes++;
      // Closed once subscribed, the node's socket goes with the cluster; midway, it opens anyway.
      if (state.phase === 'subscribed') state.isNodeSocketOpen = false;
    },
  };
  const client = fromNodeRedis({
    sendCommand: async () => 'OK',
    getSlotMaster: () => undefined,
    duplicate: () => connection,
    on: () => undefined,
  } as never);
  return { subscriber: client.duplicate(), state, nodeConnected };
}

describe('the node-redis subscriber connection', () => {
  it.each(['destroy', 'disconnect'] as const)(
    'regression: closed while it opens its socket, it is closed once the connect is over (with %s), and subscribes to nothing: closed at once, node-redis opened the socket anyway, and it kept the process alive',
    async (close) => {
      const { subscriber, state, connected } = nodeRedisLikeConnection(close);
      const subscribing = subscriber.subscribe('{limit}:released');
      expect(state.phase).toBe('opening a socket');
      subscriber.disconnect();
      expect(state.closes).toBe(0);
      connected.resolve();
      await expect(subscribing).rejects.toThrow('closed while it connected');
      expect(state).toMatchObject({ isCountedClosed: true, isSocketOpen: false, closes: 1, subscribed: [] });
    },
  );

  it('closed while it connects to a Redis that is down, it is closed at the next failed attempt (its connect would never end)', async () => {
    const { subscriber, state, failAttempt } = nodeRedisLikeConnection('destroy');
    const subscribing = subscriber.subscribe('{limit}:released');
    subscriber.disconnect();
    failAttempt();
    expect(state).toMatchObject({ isCountedClosed: true, closes: 1 });
    failAttempt();
    expect(state.closes).toBe(1);
    // The fake never connects: nothing waits for this.
    void subscribing.catch(() => {});
  });

  it.each(['destroy', 'disconnect'] as const)(
    'regression: closed while it reconnects (its socket dropped: Redis restarted), it is closed once the reconnect is over (with %s): closed at once, node-redis opened the new socket anyway, and it kept the process alive',
    async (close) => {
      const { subscriber, state, connected, dropSocket, reconnect } = nodeRedisLikeConnection(close);
      connected.resolve();
      await subscriber.subscribe('{limit}:released');
      dropSocket();
      subscriber.disconnect();
      reconnect();
      expect(state).toMatchObject({ phase: 'open', isCountedClosed: true, isSocketOpen: false, closes: 1 });
      subscriber.disconnect();
      expect(state.closes).toBe(1);
    },
  );

  it('closed while it reconnects to a Redis that is still down, it is closed at the next failed attempt', async () => {
    const { subscriber, state, connected, dropSocket, failAttempt } = nodeRedisLikeConnection('destroy');
    connected.resolve();
    await subscriber.subscribe('{limit}:released');
    dropSocket();
    subscriber.disconnect();
    failAttempt();
    expect(state).toMatchObject({ isCountedClosed: true, isSocketOpen: false, closes: 1 });
    failAttempt();
    expect(state.closes).toBe(1);
  });

  it('regression: a cluster subscriber closed while its SUBSCRIBE opens the connection to its node is closed once it subscribed: closed at once, the node connection opened anyway and kept the process alive (a failover test hung)', async () => {
    const { subscriber, state, nodeConnected } = nodeRedisLikeCluster();
    const subscribing = subscriber.subscribe('{limit}:released');
    await vi.waitFor(() => expect(state.phase).toBe('opening the node connection'));
    subscriber.disconnect();
    expect(state.closes).toBe(0);
    nodeConnected.resolve();
    await subscribing;
    expect(state).toMatchObject({ isNodeSocketOpen: false, closes: 1 });
    subscriber.disconnect();
    expect(state.closes).toBe(1);
  });

  it('a cluster subscriber closed while its SUBSCRIBE never settles (its node froze) is closed anyway after 5 s', async () => {
    vi.useFakeTimers();
    try {
      const { subscriber, state } = nodeRedisLikeCluster();
      void subscriber.subscribe('{limit}:released');
      await vi.waitFor(() => expect(state.phase).toBe('opening the node connection'));
      subscriber.disconnect();
      await vi.advanceTimersByTimeAsync(4999);
      expect(state.closes).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(state.closes).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('closed once open, it closes once; a second disconnect does nothing', async () => {
    const { subscriber, state, connected } = nodeRedisLikeConnection('destroy');
    connected.resolve();
    await subscriber.subscribe('{limit}:released');
    expect(state).toMatchObject({ isSocketOpen: true, subscribed: ['{limit}:released'] });
    subscriber.disconnect();
    subscriber.disconnect();
    expect(state).toMatchObject({ isSocketOpen: false, closes: 1 });
  });
});
