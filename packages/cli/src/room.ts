import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';

// GNU parallel's size suffixes: lower case are powers of 1000, upper case of 1024.
const SUFFIXES = 'kmgtp';

/** `--memfree SIZE`: bytes, with GNU parallel's suffixes (`500M`, `1G`, `2g`...). */
export function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmgtpKMGTP]?)$/.exec(value.trim());
  const unit = match?.[2] ?? '';
  const size =
    match === null
      ? Number.NaN
      : Number(match[1]) *
        (unit === '' ? 1 : (unit === unit.toLowerCase() ? 1000 : 1024) ** (SUFFIXES.indexOf(unit.toLowerCase()) + 1));
  if (match === null || !(size >= 1))
    throw new InvalidArgumentError(
      `Expected a size in bytes >= 1, optionally with k, m, g (1000s) or K, M, G (1024s), got \`${value}\`.`,
    );
  return Math.floor(size);
}

/** `--load N` (a load average) or `--load N%` (N% of the CPUs): returned as a load average. */
export function parseLoad(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(value.trim());
  const load =
    match === null
      ? Number.NaN
      : match[2] === '%'
        ? (Number(match[1]) * availableParallelism()) / 100
        : Number(match[1]);
  if (match === null || !(load > 0))
    throw new InvalidArgumentError(
      `Expected a load average > 0 or a percentage of the CPUs like \`80%\`, got \`${value}\`.`,
    );
  return load;
}

/** MemAvailable in bytes from the text of /proc/meminfo; undefined if it has none. */
export function memAvailable(meminfo: string): number | undefined {
  const match = /^MemAvailable:\s+(\d+)\s*kB/m.exec(meminfo);
  return match === null ? undefined : Number(match[1]) * 1024;
}

/** The 1-minute load average from the text of /proc/loadavg; undefined if unreadable. */
export function loadAverage(loadavg: string): number | undefined {
  const value = Number.parseFloat(loadavg);
  return Number.isFinite(value) ? value : undefined;
}

/** How often a job waiting for room looks again. */
const POLL_MS = 1000;

/**
 * `--memfree` and `--load` (Linux only): a job starts only when /proc/meminfo shows at least
 * `memfree` bytes available and /proc/loadavg a 1-minute load below `load`; otherwise it waits,
 * looking again every second, until there is room or the run stops.
 */
export class RoomGate {
  readonly #memfree: number | undefined;
  readonly #load: number | undefined;
  readonly #proc: string;
  readonly #waiters = new Set<() => void>();
  #isClosed = false;

  /** `proc`: where meminfo and loadavg are read (/proc; a test points it elsewhere). */
  constructor(memfree: number | undefined, load: number | undefined, proc = '/proc') {
    this.#memfree = memfree;
    this.#load = load;
    this.#proc = proc;
  }

  /** True when there is room now (unreadable files count as room: lac does not stall on them). */
  hasRoom(): boolean {
    if (this.#memfree !== undefined) {
      const available = memAvailable(read(`${this.#proc}/meminfo`));
      if (available !== undefined && available < this.#memfree) return false;
    }
    if (this.#load !== undefined) {
      const load = loadAverage(read(`${this.#proc}/loadavg`));
      if (load !== undefined && load >= this.#load) return false;
    }
    return true;
  }

  /** Resolves true once there is room, false if the gate is closed first. */
  async pass(): Promise<boolean> {
    while (!this.#isClosed) {
      if (this.hasRoom()) return true;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, POLL_MS);
        this.#waiters.add(wake);
      });
    }
    return false;
  }

  /** Nothing more starts: every waiting job gives up at once. */
  close(): void {
    this.#isClosed = true;
    for (const wake of [...this.#waiters]) wake();
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
