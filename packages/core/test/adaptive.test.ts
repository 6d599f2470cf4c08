/**
 * The adaptive controllers on their own: a fake clock and scripted latencies and errors, or a small
 * discrete-event model of a service with a hidden capacity C (C requests at a time take the base
 * latency, the rest queue, past 2C in the service it answers 503 at once). No wall clock.
 */
import { describe, expect, it } from 'vitest';
import {
  AdaptiveController,
  adaptive,
  isOverloadError,
  type AdaptiveOptions,
  type LimitChangeReason,
} from '../src/adaptive.js';
import { TimeoutError } from '../src/errors.js';

const overload = Object.assign(new Error('Service Unavailable'), { status: 503 });

interface Phase {
  readonly capacity: number;
  readonly duration: number;
}

interface Request {
  readonly startedAt: number;
}

interface Event {
  readonly at: number;
  readonly request: Request;
  readonly isOverloaded: boolean;
  readonly isServerDone: boolean;
}

/** Runs a closed loop of `controller.limit` clients against the model service; returns the limit over time. */
function simulate(options: AdaptiveOptions, phases: readonly Phase[], base = 20) {
  let t = 0;
  let seed = 1;
  const jitter = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return 0.9 + (0.2 * seed) / 2 ** 31;
  };
  const changes: { at: number; limit: number; reason: LimitChangeReason }[] = [];
  const controller = new AdaptiveController(
    adaptive({ ...options, now: () => t, onLimitChange: (limit, reason) => changes.push({ at: t, limit, reason }) }),
    () => {},
  );
  const events: Event[] = [];
  const schedule = (event: Event): void => {
    let i = events.length;
    while (i > 0 && events[i - 1]!.at > event.at) i--;
    events.splice(i, 0, event);
  };
  let capacity = phases[0]!.capacity;
  let inFlight = 0;
  let active = 0;
  const queue: Request[] = [];
  let served = 0;
  let rejected = 0;
  let peakInFlight = 0;
  const fill = (): void => {
    while (inFlight < controller.limit) {
      inFlight++;
      if (inFlight > peakInFlight) peakInFlight = inFlight;
      const request = { startedAt: t };
      if (active + queue.length >= 2 * capacity) {
        schedule({ at: t + 0.2, request, isOverloaded: true, isServerDone: false });
      } else if (active < capacity) {
        active++;
        schedule({ at: t + base * jitter(), request, isOverloaded: false, isServerDone: true });
      } else {
        queue.push(request);
      }
    }
  };
  const limitAt: { at: number; limit: number }[] = [];
  let phaseEnd = 0;
  for (const phase of phases) {
    capacity = phase.capacity;
    phaseEnd += phase.duration;
    fill();
    while (events.length > 0 && events[0]!.at <= phaseEnd) {
      const event = events.shift()!;
      t = event.at;
      if (event.isServerDone) {
        active--;
        while (active < capacity && queue.length > 0) {
          active++;
          schedule({ at: t + base * jitter(), request: queue.shift()!, isOverloaded: false, isServerDone: true });
        }
      }
      if (event.isOverloaded) rejected++;
      else served++;
      controller.sample(
        event.request.startedAt,
        inFlight,
        event.isOverloaded,
        event.isOverloaded ? overload : undefined,
      );
      inFlight--;
      limitAt.push({ at: t, limit: controller.limit });
      fill();
    }
    t = phaseEnd;
  }
  /** The lowest and highest limit between `from` and `to` ms. */
  const range = (from: number, to: number): [number, number] => {
    const inside = limitAt.filter((point) => point.at >= from && point.at <= to).map((point) => point.limit);
    return [Math.min(...inside), Math.max(...inside)];
  };
  return { controller, changes, range, served, rejected, peakInFlight };
}

describe('adaptive(): gradient', () => {
  it('converges up from the initial limit to the hidden capacity, and settles at most tolerance times above it', () => {
    const run = simulate({ algorithm: 'gradient', initial: 4 }, [{ capacity: 32, duration: 4000 }]);
    const [low, high] = run.range(2000, 4000);
    expect(low).toBeGreaterThanOrEqual(28);
    expect(high).toBeLessThanOrEqual(48);
    expect(run.rejected).toBe(0);
  });

  it('converges down within 2 s when the capacity drops, and up again when it rises', () => {
    const run = simulate({ algorithm: 'gradient' }, [
      { capacity: 32, duration: 3000 },
      { capacity: 8, duration: 3000 },
      { capacity: 24, duration: 3000 },
    ]);
    const [downLow, downHigh] = run.range(5000, 6000);
    expect(downLow).toBeGreaterThanOrEqual(6);
    // tolerance (1.25) times C, plus one growth step (its square root): below 2C, so no 503.
    expect(downHigh).toBeLessThanOrEqual(14);
    const [upLow, upHigh] = run.range(8000, 9000);
    expect(upLow).toBeGreaterThanOrEqual(20);
    expect(upHigh).toBeLessThanOrEqual(36);
  });

  it('keeps the latency baseline at the service latency while overload drags the latency up', () => {
    const run = simulate({ algorithm: 'gradient', initial: 64 }, [{ capacity: 8, duration: 3000 }]);
    // Started 8 times over capacity: latency 8x the base at first, yet the baseline stays the base (20 ms +-10%).
    expect(run.controller.baseline).toBeGreaterThanOrEqual(18);
    expect(run.controller.baseline).toBeLessThanOrEqual(22);
    expect(run.controller.limit).toBeLessThanOrEqual(14);
  });

  it('does not move the baseline up when windows over it shrink the limit, and moves it only at min', () => {
    let t = 0;
    const controller = new AdaptiveController(
      adaptive({ algorithm: 'gradient', initial: 16, min: 2, now: () => t }),
      () => {},
    );
    const window = (latency: number): void => {
      const count = Math.max(8, controller.limit);
      const startedAt = t;
      t += latency;
      for (let i = 0; i < count; i++) controller.sample(startedAt, controller.limit, false);
    };
    window(10);
    expect(controller.baseline).toBe(10);
    for (let i = 0; i < 3; i++) window(40);
    expect(controller.baseline).toBe(10);
    // The service itself became slower: at min the baseline is re-measured, and the limit can grow again.
    for (let i = 0; i < 30 && controller.limit <= 2; i++) window(40);
    expect(controller.baseline).toBeGreaterThan(30);
    for (let i = 0; i < 5; i++) window(40);
    expect(controller.limit).toBeGreaterThan(2);
  });
});

describe('adaptive(): aimd', () => {
  it('converges up until the service answers 503, and stays between backoff times 2C and 2C + 1', () => {
    const run = simulate({ algorithm: 'aimd', initial: 4 }, [{ capacity: 16, duration: 6000 }]);
    const [low, high] = run.range(4000, 6000);
    expect(low).toBeGreaterThanOrEqual(Math.floor(0.75 * 16 * 2) - 1);
    expect(high).toBeLessThanOrEqual(33);
    expect(run.changes.some((change) => change.reason === 'overload')).toBe(true);
  });

  it('converges down within 2 s when the capacity drops', () => {
    const run = simulate({ algorithm: 'aimd' }, [
      { capacity: 32, duration: 3000 },
      { capacity: 8, duration: 3000 },
    ]);
    const [low, high] = run.range(5000, 6000);
    expect(low).toBeGreaterThanOrEqual(8);
    expect(high).toBeLessThanOrEqual(17);
  });

  it('ignores latency: slow successes that use the whole limit grow it (doubling, until the first overload)', () => {
    let t = 0;
    const controller = new AdaptiveController(adaptive({ algorithm: 'aimd', initial: 4, now: () => t }), () => {});
    for (let i = 0; i < 8; i++) {
      t += 1000 * (i + 1);
      controller.sample(t - 1000 * (i + 1), 4, false);
    }
    expect(controller.limit).toBe(8);
    t += 10;
    controller.sample(t - 5, 8, true, overload);
    expect(controller.limit).toBe(6);
    for (let i = 0; i < 8; i++) {
      t += 10;
      controller.sample(t - 5, 6, false);
    }
    expect(controller.limit).toBe(7);
  });
});

describe.each(['aimd', 'gradient'] as const)('adaptive({ algorithm: %s })', (algorithm) => {
  it('shrinks once, not to min, for one burst of correlated overload errors', () => {
    let t = 0;
    const controller = new AdaptiveController(adaptive({ algorithm, initial: 32, now: () => t }), () => {});
    // 64 requests started together and all fail together (the service restarted, say).
    t = 50;
    for (let i = 0; i < 64; i++) controller.sample(0, 64 - i, true, overload);
    expect(controller.limit).toBe(24);
  });

  it('does not grow while the tasks do not use the whole limit', () => {
    let t = 0;
    const controller = new AdaptiveController(adaptive({ algorithm, initial: 8, now: () => t }), () => {});
    for (let i = 0; i < 1000; i++) {
      const startedAt = t;
      t += 10;
      controller.sample(startedAt, 7, false);
    }
    expect(controller.limit).toBe(8);
  });

  it('grows while the whole limit is used and all goes well, but never above max', () => {
    let t = 0;
    const limits: number[] = [];
    const controller = new AdaptiveController(adaptive({ algorithm, initial: 2, max: 10, now: () => t }), (limit) =>
      limits.push(limit),
    );
    for (let i = 0; i < 1000; i++) {
      const startedAt = t;
      t += 10;
      controller.sample(startedAt, controller.limit, false);
    }
    expect(controller.limit).toBe(10);
    expect(Math.max(...limits)).toBe(10);
    expect(limits.length).toBeGreaterThan(1);
  });

  it('shrinks under overload, but never below min', () => {
    let t = 0;
    const controller = new AdaptiveController(adaptive({ algorithm, initial: 40, min: 3, now: () => t }), () => {});
    for (let i = 0; i < 1000; i++) {
      const startedAt = t;
      t += 10;
      controller.sample(startedAt, controller.limit, true, new TimeoutError(i, 5));
    }
    expect(controller.limit).toBe(3);
  });

  it('is not shrunk by failures that are not overload', () => {
    let t = 0;
    const changes: number[] = [];
    const controller = new AdaptiveController(adaptive({ algorithm, initial: 8, now: () => t }), (limit) =>
      changes.push(limit),
    );
    for (let i = 0; i < 200; i++) {
      const startedAt = t;
      t += 10;
      controller.sample(startedAt, 8, true, Object.assign(new Error('Not Found'), { status: 404 }));
    }
    expect(changes).toEqual([]);
    expect(controller.limit).toBe(8);
  });

  it('asks isOverload about each failure with its latency, and reports each change to apply and onLimitChange', () => {
    let t = 0;
    const seen: [unknown, number][] = [];
    const applied: number[] = [];
    const reported: [number, LimitChangeReason][] = [];
    const spec = adaptive({
      algorithm,
      initial: 8,
      samples: 8,
      now: () => t,
      isOverload: (error, latency) => {
        seen.push([error, latency]);
        return (error as Error).message === 'slow down';
      },
      onLimitChange: (limit, reason) => reported.push([limit, reason]),
    });
    const controller = new AdaptiveController(spec, (limit) => applied.push(limit));
    t = 30;
    for (let i = 0; i < 8; i++) controller.sample(0, 8, true, new Error('slow down'));
    // The first overload ends the window; the seven others started before the change and are not asked about.
    expect(seen).toHaveLength(1);
    expect(seen[0]![1]).toBe(30);
    expect(applied).toEqual([6]);
    expect(reported).toEqual([[6, 'overload']]);
  });
});

describe('isOverloadError (the default isOverload)', () => {
  it.each([
    [new TimeoutError(0, 10), true],
    [Object.assign(new Error('x'), { status: 429 }), true],
    [Object.assign(new Error('x'), { status: 503 }), true],
    [Object.assign(new Error('x'), { retryAfter: 1000 }), true],
    [Object.assign(new Error('x'), { status: 500 }), false],
    [Object.assign(new Error('x'), { status: 404 }), false],
    [new Error('ECONNRESET'), false],
    ['503', false],
    [undefined, false],
  ])('%s -> %s', (error, expected) => {
    expect(isOverloadError(error)).toBe(expected);
  });
});

describe('adaptive() validation', () => {
  it.each([
    [
      { algorithm: 'vegas' },
      TypeError,
      "Expected `options.algorithm` to be 'aimd' or 'gradient', got `\"vegas\"` (string)",
    ],
    [{ min: 0 }, RangeError, 'Expected `options.min` to be an integer from 1 to'],
    [{ min: '2' }, TypeError, 'Expected `options.min` to be an integer, got `"2"` (string)'],
    [{ min: 10, max: 5 }, RangeError, 'Expected `options.max` to be an integer from 10 to'],
    [{ max: 2.5 }, RangeError, 'got `2.5` (number)'],
    [{ max: Number.POSITIVE_INFINITY }, RangeError, 'Expected `options.max` to be an integer from 1 to'],
    [
      { min: 2, max: 4, initial: 5 },
      RangeError,
      'Expected `options.initial` to be an integer from 2 to 4, got `5` (number)',
    ],
    [{ samples: 0 }, RangeError, 'Expected `options.samples` to be an integer from 1 to'],
    [{ backoff: 1 }, RangeError, 'Expected `options.backoff` to be a number > 0 and < 1, got `1` (number)'],
    [{ backoff: null }, TypeError, 'Expected `options.backoff` to be a number > 0 and < 1, got `null` (null)'],
    [{ tolerance: 1 }, RangeError, 'Expected `options.tolerance` to be a number > 1, got `1` (number)'],
    [{ tolerance: Number.NaN }, RangeError, 'got `NaN` (number)'],
    [{ isOverload: true }, TypeError, 'Expected `options.isOverload` to be a function, got `true` (boolean)'],
    [{ onLimitChange: 'log' }, TypeError, 'Expected `options.onLimitChange` to be a function, got `"log"` (string)'],
    [{ now: 1 }, TypeError, 'Expected `options.now` to be a function, got `1` (number)'],
  ])('%o throws %s', (options, type, message) => {
    expect(() => adaptive(options as AdaptiveOptions)).toThrow(type);
    expect(() => adaptive(options as AdaptiveOptions)).toThrow(message);
  });

  it('rejects options that are not an object', () => {
    expect(() => adaptive(5 as never)).toThrow('Expected `options` to be an object, got `5` (number)');
  });

  it('defaults: gradient, 1 to 256 starting at 8, clamped into min..max', () => {
    expect(adaptive()).toMatchObject({
      algorithm: 'gradient',
      min: 1,
      max: 256,
      initial: 8,
      samples: 8,
      backoff: 0.75,
      tolerance: 1.25,
    });
    expect(adaptive({ max: 4 }).initial).toBe(4);
    expect(adaptive({ min: 300 })).toMatchObject({ min: 300, max: 300, initial: 300 });
  });
});
