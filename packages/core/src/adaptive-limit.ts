import type { AdaptiveLimit } from './adaptive.js';
import { validateLimit } from './validate.js';

/**
 * What `adaptive()` made carries its controller's factory under this registered symbol (so the ESM
 * and CommonJS copies agree): the engine, the limiter and the shared limit reach the controller only
 * through it, so an app that never imports `adaptive` does not bundle the algorithms.
 */
export const kController = Symbol.for('@lac/core.adaptive');

/** An adaptive limit's state, as its users see it (see `AdaptiveController`). */
export interface LimitController {
  /** The limit now. */
  readonly limit: number;
  /** The controller's clock, in ms. */
  now(): number;
  /** A task settled; may change the limit (through the `apply` the controller was made with). */
  sample(startedAt: number, inFlight: number, isFailed: boolean, error?: unknown): void;
}

type ControllerFactory = (apply: (limit: number) => void) => LimitController;

export function isAdaptive(value: unknown): value is AdaptiveLimit {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { [kController]?: unknown })[kController] === 'function'
  );
}

/** A new controller for `spec`, handing each new limit to `apply`. */
export function createController(spec: AdaptiveLimit, apply: (limit: number) => void): LimitController {
  return (spec as unknown as { [kController]: ControllerFactory })[kController](apply);
}

/** A `limit` argument: validates it and gives the limit to start with (`initial` for an adaptive one). */
export function initialLimit(limit: unknown, name = 'limit'): number {
  // Anything else gets the number's message (the one every adapter's tests know).
  return isAdaptive(limit) ? limit.initial : validateLimit(limit, name);
}
