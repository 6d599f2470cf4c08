// Key names on Redis Cluster: every key a limit's scripts touch must hash to one slot, or the
// cluster refuses the scripts (CROSSSLOT). The slot of a name is the hash of its first `{tag}`.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolveOptions } from '../src/options.ts';
import { slotOf } from './fixtures/redis-cluster.ts';

const client = {
  evalsha: () => Promise.resolve(0),
  eval: () => Promise.resolve(0),
  duplicate: () => {
    throw new Error('not used');
  },
};

/** Keys made of braces and a few other characters, so odd tags come up often. */
const keyArb = fc
  .array(fc.constantFrom('{', '}', 'a', 'b', ':'), { minLength: 1, maxLength: 8 })
  .map((chars) => chars.join(''));

describe('key names of a limit', () => {
  it('are all in one hash slot, whatever the key (a key that cannot be is refused with a TypeError)', () => {
    fc.assert(
      fc.property(keyArb, (key) => {
        let resolved: ReturnType<typeof resolveOptions>;
        try {
          resolved = resolveOptions({ client, key, limit: 1 });
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
          expect(key.startsWith('}')).toBe(true);
          return;
        }
        const { leases, queue, waiting, channel, epoch, token } = resolved;
        expect(new Set([leases, queue, waiting, channel, epoch, token].map(slotOf)).size).toBe(1);
      }),
      { numRuns: 500 },
    );
  });

  it('regression: a key starting with "}" would leave the tag `{}` empty and spread the names over slots; it is refused', () => {
    expect(() => resolveOptions({ client, key: '}jobs', limit: 1 })).toThrow(
      'Expected `options.key` to be a non-empty string not starting with `}` (on Redis Cluster its names would hash to different slots), got `"}jobs"` (string)',
    );
  });
});
