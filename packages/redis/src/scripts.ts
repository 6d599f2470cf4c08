import { createHash } from 'node:crypto';

export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

// Every script reads the server's clock (TIME), so leases expire on one clock however skewed the clients' are.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * KEYS: leases (zset id -> expiry ms), queue (zset id -> arrival µs), waiting (zset id -> waiter expiry ms).
 * ARGV: id, limit, leaseMs, waiterTtlMs, channel, then lease ids to release first (a swap: one round trip
 * for a task's end and the next one's start).
 * Grants a lease when fewer than `limit` are live and no earlier waiter is entitled to the free
 * capacity (FIFO: a waiter may take a slot when fewer than `free` waiters are ahead of it).
 * Otherwise the caller joins (or stays in) the queue.
 * Returns {granted 1/0, ms until the earliest lease expires (or -1), waiters queued after this call,
 * leases released of those asked}.
 */
export const ACQUIRE = script(`${NOW}
local id = ARGV[1]
local released = 0
for i = 6, #ARGV do released = released + redis.call('ZREM', KEYS[1], ARGV[i]) end
if released > 0 and redis.call('ZCARD', KEYS[2]) > 0 then redis.call('PUBLISH', ARGV[5], '') end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for i = 1, #dead do redis.call('ZREM', KEYS[2], dead[i]) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
if free > 0 then
  local rank = redis.call('ZRANK', KEYS[2], id)
  local ahead = rank
  if not rank then ahead = redis.call('ZCARD', KEYS[2]) end
  if ahead < free then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)
    if rank then
      redis.call('ZREM', KEYS[2], id)
      redis.call('ZREM', KEYS[3], id)
      -- Capacity is left and others wait: let them look again now rather than at their next poll.
      if free > 1 and redis.call('ZCARD', KEYS[2]) > 0 then redis.call('PUBLISH', ARGV[5], '') end
    end
    return {1, 0, redis.call('ZCARD', KEYS[2]), released}
  end
end
if not redis.call('ZSCORE', KEYS[2], id) then
  -- A string: Lua would print a number this large with 14 digits and lose the microseconds.
  redis.call('ZADD', KEYS[2], t[1] .. string.format('%06d', tonumber(t[2])), id)
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), id)
local queued = redis.call('ZCARD', KEYS[2])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then return {0, tonumber(first[2]) - now, queued, released} end
return {0, -1, queued, released}
`);

/**
 * KEYS: leases, queue. ARGV: channel, id...
 * Returns {leases removed (fewer than asked: some had expired and been taken away), waiters queued}.
 */
export const RELEASE = script(`
local removed = 0
for i = 2, #ARGV do removed = removed + redis.call('ZREM', KEYS[1], ARGV[i]) end
local queued = redis.call('ZCARD', KEYS[2])
if removed > 0 and queued > 0 then redis.call('PUBLISH', ARGV[1], '') end
return {removed, queued}
`);

/** KEYS: queue, waiting. ARGV: id, channel. A waiter gives up its place. */
export const ABANDON = script(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then redis.call('PUBLISH', ARGV[2], '') end
return 1
`);

/**
 * KEYS: leases. ARGV: leaseMs, id...
 * Extends every live lease; returns the ids that are gone (expired and removed by someone's acquire).
 * A lease past its expiry that nobody removed yet is extended safely: its capacity was never reused.
 */
export const RENEW = script(`${NOW}
local lost = {}
local expiry = now + tonumber(ARGV[1])
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
`);
