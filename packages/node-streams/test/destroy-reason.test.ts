import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { TaskContext } from '@lac/core';
import { limitedTransform } from '@lac/node-streams';
import { settle } from './helpers.js';

/** A mapper that records each call's signal and never settles on its own. */
function hanging(): { readonly signals: AbortSignal[]; mapper(item: number, context: TaskContext): Promise<number> } {
  const signals: AbortSignal[] = [];
  return {
    signals,
    mapper: (_item, { signal }) => {
      signals.push(signal);
      return new Promise<number>(() => {});
    },
  };
}

/** A real AbortSignal whose listeners are counted. */
function countedSignal(): { readonly controller: AbortController; readonly signal: AbortSignal; listeners(): number } {
  const controller = new AbortController();
  const { signal } = controller;
  const live = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: EventListener, options?: AddEventListenerOptions) => {
    live.add(listener);
    add(type, listener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListener, options?: EventListenerOptions) => {
    live.delete(listener);
    remove(type, listener, options);
  }) as typeof signal.removeEventListener;
  return { controller, signal, listeners: () => live.size };
}

describe('limitedTransform: the reason in-flight mappers see', () => {
  it('destroy(error) aborts in-flight mappers with that error, and the stage errors with it once', async () => {
    const { signals, mapper } = hanging();
    const stage = limitedTransform(2, mapper);
    stage.write(1);
    stage.write(2);
    await settle();
    expect(signals).toHaveLength(2);
    const errors: unknown[] = [];
    stage.on('error', (error) => errors.push(error));
    const closed = new Promise((resolve) => stage.on('close', resolve));
    const error = new Error('shutting down');
    stage.destroy(error);
    await closed;
    expect(signals.map((signal) => signal.reason)).toEqual([error, error]);
    expect(errors).toEqual([error]);
  });

  it('a downstream failure in pipeline() aborts in-flight mappers with that failure', async () => {
    const { signals, mapper } = hanging();
    const failure = new Error('the sink broke');
    let calls = 0;
    const sink = new Writable({
      objectMode: true,
      write: (_chunk, _encoding, callback) => callback(),
    });
    const stage = limitedTransform(3, (item: number, context: TaskContext) => {
      calls++;
      // The first result reaches the sink, which then fails; the other two mappers are in flight.
      if (item === 0) return Promise.resolve(0);
      if (calls === 3) queueMicrotask(() => sink.destroy(failure));
      return mapper(item, context);
    });
    await expect(pipeline(Readable.from([0, 1, 2]), stage, sink)).rejects.toBe(failure);
    expect(signals).toHaveLength(2);
    expect(signals.map((signal) => signal.reason)).toEqual([failure, failure]);
  });

  it('destroy() without an error still aborts them with an AbortError', async () => {
    const { signals, mapper } = hanging();
    const stage = limitedTransform(1, mapper);
    stage.write(1);
    await settle();
    const closed = new Promise((resolve) => stage.on('close', resolve));
    stage.destroy();
    await closed;
    expect(signals).toHaveLength(1);
    expect((signals[0]!.reason as Error).name).toBe('AbortError');
  });

  it("options.signal's reason reaches the mappers, and the stage is destroyed with it", async () => {
    const { signals, mapper } = hanging();
    const { controller, signal } = countedSignal();
    const stage = limitedTransform(2, mapper, { signal });
    const errors: unknown[] = [];
    stage.on('error', (error) => errors.push(error));
    stage.write(1);
    await settle();
    const reason = new Error('cancelled by the caller');
    controller.abort(reason);
    await settle();
    expect(signals.map((s) => s.reason)).toEqual([reason]);
    expect(errors).toEqual([reason]);
  });

  it('an already-aborted options.signal fails the stage with its reason before any mapper runs', async () => {
    const reason = new Error('too late');
    let calls = 0;
    const stage = limitedTransform(
      2,
      async (x: number) => {
        calls++;
        return x;
      },
      { signal: AbortSignal.abort(reason) },
    );
    await expect(
      pipeline(Readable.from([1, 2]), stage, new Writable({ objectMode: true, write: (_c, _e, cb) => cb() })),
    ).rejects.toBe(reason);
    expect(calls).toBe(0);
  });

  it('leaves no listener on a long-lived options.signal once a stage ends, fails or is destroyed', async () => {
    const { signal, listeners } = countedSignal();
    const sink = () => new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
    await pipeline(
      Readable.from([1, 2, 3]),
      limitedTransform(2, async (x: number) => x, { signal }),
      sink(),
    );
    const failure = new Error('mapper failed');
    await expect(
      pipeline(
        Readable.from([1, 2, 3]),
        limitedTransform(2, async () => Promise.reject(failure), { signal }),
        sink(),
      ),
    ).rejects.toBe(failure);
    const destroyed = limitedTransform(2, hanging().mapper, { signal });
    destroyed.write(1);
    const closed = new Promise((resolve) => destroyed.on('close', resolve));
    destroyed.destroy();
    await closed;
    expect(listeners()).toBe(0);
    expect(signal.aborted).toBe(false);
  });

  it('an options.signal that is not an AbortSignal is still a TypeError naming it', () => {
    expect(() => limitedTransform(2, async (x: number) => x, { signal: {} as AbortSignal })).toThrow(
      /Expected `options.signal` to be an AbortSignal, got/,
    );
  });
});
