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
 * The epoch of the limit (KEYS[1] leases, KEYS[2] queue, KEYS[3] waiting, KEYS[4] epoch hash, KEYS[5]
 * token; ARGV[1] quarantineMs). A limit's state is trusted only on the server process that created
 * its epoch: a Redis that restarted (with its data lost, or restored from an older snapshot) or a
 * replica promoted in a failover has another run_id, so a new epoch starts: the old leases and queue
 * are dropped (their holders abort when they see the epoch change, or by their own deadline) and
 * nothing is granted for `quarantineMs`, by which time every lease of the old epoch has expired.
 * A key never seen before on a master up for longer than the quarantine, and never a replica, needs
 * no quarantine: no lease of it can be live. Tokens restart from the server's clock in µs, above any
 * token the old epoch handed out (unless it granted more than one lease per µs on average).
 */
const EPOCH = `
local info = redis.call('INFO', 'server')
local run = string.match(info, 'run_id:(%x+)')
local ep = redis.call('HMGET', KEYS[4], 'id', 'run', 'until')
local epoch = ep[1]
local quarantined = tonumber(ep[3]) or 0
if not epoch or ep[2] ~= run then
  local q = tonumber(ARGV[1])
  if not epoch then
    -- uptime_in_seconds counts whole seconds of the wall clock since the start, truncated: it reads 1
    -- as soon as the first second boundary passes, a moment after the start. So the uptime is only
    -- known to be at least (n - 1) s.
    local up = (tonumber(string.match(info, 'uptime_in_seconds:(%d+)')) - 1) * 1000
    local promoted = string.match(redis.call('INFO', 'replication'), 'second_repl_offset:(%-?%d+)') ~= '-1'
    if up >= q and not promoted then q = 0 end
  end
  -- Kept only for a key new on a healthy master (leases of an older version of this package).
  if epoch or q > 0 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end
  local micros = t[1] .. string.format('%06d', tonumber(t[2]))
  epoch = run .. ':' .. micros
  quarantined = now + q
  redis.call('HSET', KEYS[4], 'id', epoch, 'run', run, 'until', quarantined)
  if tonumber(redis.call('GET', KEYS[5]) or '0') < tonumber(micros) then redis.call('SET', KEYS[5], micros) end
end
`;

/**
 * One round trip of a process: releases, gives up places and asks for slots, all at once.
 * KEYS: leases (zset id -> expiry ms), queue (zset id -> arrival µs), waiting (zset id -> waiter expiry ms),
 * epoch (hash), token (the fencing counter).
 * ARGV: quarantineMs, limit, leaseMs, waiterTtlMs, channel, prefix (of this process's ids), scan
 * (how many of the queue's first places to look at for this process's), releases r, abandons a,
 * then r lease ids to release, a waiter ids whose places go, then the ids asking for a slot (a block:
 * each granted one gets a lease of its own, with its own token).
 * Each asking id, in order, is granted a lease when fewer than `limit` are live, no earlier waiter is
 * entitled to the free capacity (FIFO: a waiter may take a slot when fewer than `free` waiters are
 * ahead of it; one not queued yet counts every queued waiter as ahead), and the epoch is out of
 * quarantine. Otherwise it joins (or keeps) its place in the queue. When capacity freed by this
 * call is left while others wait, the release is announced with the ids entitled to it.
 * Returns {epoch, waiters queued after this call, ms until the earliest lease expires or the
 * quarantine ends (-1: none), leases released of those asked, {ids of this process's at the head of
 * the queue, in order}, {fencing token per asking id, 0 when not granted}}.
 */
export const ACQUIRE = script(`${NOW}${EPOCH}
local r = tonumber(ARGV[8])
local a = tonumber(ARGV[9])
local released = 0
for i = 10, 9 + r do released = released + redis.call('ZREM', KEYS[1], ARGV[i]) end
local abandoned = 0
for i = 10 + r, 9 + r + a do
  abandoned = abandoned + redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[3], ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for i = 1, #dead do redis.call('ZREM', KEYS[2], dead[i]) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
local isOpen = now >= quarantined
local expiry = now + tonumber(ARGV[3])
-- A string: Lua would print a number this large with 14 digits and lose the microseconds.
local arrival = t[1] .. string.format('%06d', tonumber(t[2]))
local tokens = {}
local missed = 0
local dequeued = 0
for i = 10 + r + a, #ARGV do
  local id = ARGV[i]
  local token = 0
  if free > 0 and isOpen then
    local rank = redis.call('ZRANK', KEYS[2], id)
    local ahead = rank
    if not rank then ahead = redis.call('ZCARD', KEYS[2]) end
    if ahead < free then
      redis.call('ZADD', KEYS[1], expiry, id)
      token = redis.call('INCR', KEYS[5])
      free = free - 1
      if rank then
        redis.call('ZREM', KEYS[2], id)
        redis.call('ZREM', KEYS[3], id)
        dequeued = dequeued + 1
      end
    end
  end
  if token == 0 then
    missed = missed + 1
    if not redis.call('ZSCORE', KEYS[2], id) then redis.call('ZADD', KEYS[2], arrival, id) end
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), id)
  end
  tokens[#tokens + 1] = token
end
local queued = redis.call('ZCARD', KEYS[2])
-- Capacity freed or left over while others wait: let them look again now rather than at their next poll.
-- Named: the waiters entitled to the free slots (the first free places), so only their processes ask.
if queued > 0 and free > 0 and isOpen and (released > 0 or abandoned > 0 or dequeued > 0) then
  redis.call('PUBLISH', ARGV[5], table.concat(redis.call('ZRANGE', KEYS[2], 0, free - 1), ','))
end
local head = {}
local scan = tonumber(ARGV[7])
if scan > 0 and queued > 0 then
  local prefix = ARGV[6]
  local front = redis.call('ZRANGE', KEYS[2], 0, scan - 1)
  for i = 1, #front do
    if string.sub(front[i], 1, #prefix) ~= prefix then break end
    head[#head + 1] = front[i]
  end
end
local untilExpiry = -1
if missed > 0 then
  if not isOpen then
    untilExpiry = quarantined - now
  else
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    if first[2] then untilExpiry = tonumber(first[2]) - now end
  end
end
return {epoch, queued, untilExpiry, released, head, tokens}
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

/**
 * KEYS: queue, waiting, and optionally leases. ARGV: channel, id... Waiters give up their places;
 * with the leases key (a source closing), also a lease granted to one of them by an attempt whose
 * answer the source will no longer act on. Returns the places given up.
 */
export const ABANDON = script(`
local removed = 0
local freed = 0
for i = 2, #ARGV do
  removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
  if KEYS[3] then freed = freed + redis.call('ZREM', KEYS[3], ARGV[i]) end
end
-- A place given up lets the next waiters in; a lease given back frees a slot for them.
if (removed > 0 or freed > 0) and redis.call('ZCARD', KEYS[1]) > 0 then redis.call('PUBLISH', ARGV[1], '') end
return removed
`);

/**
 * KEYS: leases, queue, waiting, epoch, token. ARGV: quarantineMs, leaseMs, id...
 * Extends every live lease; returns {epoch, ids that are gone (expired and removed by someone's
 * acquire)...}. A lease past its expiry that nobody removed yet is extended safely: its capacity was
 * never reused. A changed epoch means every lease of the caller is gone.
 */
export const RENEW = script(`${NOW}${EPOCH}
local reply = {epoch}
local expiry = now + tonumber(ARGV[2])
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
  else
    reply[#reply + 1] = ARGV[i]
  end
end
return reply
`);
