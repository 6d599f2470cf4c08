import { availableParallelism } from 'node:os';
import { adaptive, type AdaptiveLimit } from '@lac/core';
import { InvalidArgumentError } from 'commander';

/**
 * `-j N`: an integer >= 0; 0 means no limit. GNU parallel's `N%` (of the CPUs), `+N` and `-N` (more or fewer
 * than the CPUs) too. `-j auto`: an adaptive limit (see `autoJobs`).
 */
export function parseJobs(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const relative = /^(\d+(?:\.\d+)?)%$|^([+-])(\d+)$/.exec(value);
  if (relative !== null) {
    const cpus = availableParallelism();
    const jobs =
      relative[1] !== undefined
        ? Math.floor((cpus * Number(relative[1])) / 100)
        : relative[2] === '+'
          ? cpus + Number(relative[3])
          : cpus - Number(relative[3]);
    return Math.max(1, jobs);
  }
  if (!/^\d+$/.test(value))
    throw new InvalidArgumentError(
      `Expected an integer >= 0 (0 = unlimited), N% of the CPUs, +N, -N or \`auto\`, got \`${value}\`.`,
    );
  const jobs = Number(value);
  return jobs === 0 ? Number.POSITIVE_INFINITY : jobs;
}

/**
 * `--adaptive[=MIN:MAX]` (the bare flag arrives as ''): core's gradient limit from MIN to MAX
 * (default 1 to 256), starting at `initial` clamped into that range.
 */
export function parseAdaptive(value: string, initial: number): AdaptiveLimit {
  if (value === '') return adaptive({ initial: Math.min(256, initial) });
  const match = /^(\d+):(\d+)$/.exec(value);
  const min = Number(match?.[1]);
  const max = Number(match?.[2]);
  if (match === null || min < 1 || max < min) {
    throw new InvalidArgumentError(`Expected MIN:MAX with 1 <= MIN <= MAX (e.g. --adaptive=4:64), got \`${value}\`.`);
  }
  return adaptive({ min, max, initial: Math.min(max, Math.max(min, initial)) });
}

/** `-j auto` for commands: adapts to job durations, from 1 to 4 jobs per CPU, starting at one per CPU. */
export function autoJobs(cpus: number): AdaptiveLimit {
  return adaptive({ min: 1, max: 4 * cpus, initial: cpus });
}

export function defaultJobs(): number {
  return availableParallelism();
}

/** `--retries N`: an integer >= 0. */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`Expected an integer >= 0, got \`${value}\`.`);
  return Number(value);
}

/** `--timeout SECONDS`: a number > 0, returned in ms. */
export function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidArgumentError(`Expected a number of seconds > 0, got \`${value}\`.`);
  }
  return seconds * 1000;
}

/** A number of milliseconds >= 0. */
export function parseMilliseconds(value: string): number {
  const ms = Number(value);
  if (value.trim() === '' || !Number.isFinite(ms) || ms < 0)
    throw new InvalidArgumentError(`Expected a number of ms >= 0, got \`${value}\`.`);
  return ms;
}

export interface Rate {
  readonly limit: number;
  readonly interval: number;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** `--rate N/s` (also `/m`, `/h`, or a bare N per second): at most N job starts per unit, as core's `rate`. */
export function parseRate(value: string): Rate {
  const match = /^(\d+(?:\.\d+)?)(?:\/([smh]))?$/.exec(value.trim());
  const perUnit = match === null ? Number.NaN : Number(match[1]);
  if (match === null || !(perUnit > 0)) {
    throw new InvalidArgumentError(`Expected a rate like \`10/s\`, \`30/m\` or \`0.5/s\`, got \`${value}\`.`);
  }
  const unit = UNIT_MS[match[2] ?? 's']!;
  return Number.isInteger(perUnit) ? { limit: perUnit, interval: unit } : { limit: 1, interval: unit / perUnit };
}

export type Halt =
  | { readonly when: 'never' }
  | {
      readonly when: 'now' | 'soon';
      /** What is counted: failed jobs, successful jobs, or all finished jobs. */
      readonly kind: 'fail' | 'success' | 'done';
      /** How many (or what percentage, with `isPercent`) of the jobs trigger the halt. */
      readonly count: number;
      readonly isPercent: boolean;
    };

// GNU parallel's short forms.
const HALT_SHORT: Record<string, string> = {
  '0': 'never',
  '1': 'soon,fail=1',
  '2': 'now,fail=1',
  '-1': 'soon,success=1',
  '-2': 'now,success=1',
};

/** `--halt never|now,fail=N|soon,success=N%|...`, and GNU parallel's short forms `0`, `1`, `2`, `-1`, `-2`, `N%`. */
export function parseHalt(value: string): Halt {
  const long = (HALT_SHORT[value] ?? value).replace(/^(\d+)%$/, 'soon,fail=$1%');
  if (long === 'never') return { when: 'never' };
  const match = /^(now|soon),(fail|success|done)=(\d+)(%?)$/.exec(long);
  if (match === null || Number(match[3]) < 1 || (match[4] === '%' && Number(match[3]) > 100)) {
    throw new InvalidArgumentError(
      `Expected \`never\` or \`now|soon,fail|success|done=N\` or \`...=N%\` (N >= 1, a percentage <= 100), got \`${value}\`.`,
    );
  }
  return {
    when: match[1] as 'now' | 'soon',
    kind: match[2] as 'fail' | 'success' | 'done',
    count: Number(match[3]),
    isPercent: match[4] === '%',
  };
}
