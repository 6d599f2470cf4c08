/**
 * @lac/redis: one concurrency limit shared by many processes and machines, kept in Redis. A slot
 * source for `@lac/core`'s `options.slots`, with leases that expire, so a crashed process cannot leak
 * slots.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { limitedAsCompleted } from '@lac/core';
 * import { redisSlots } from '@lac/redis';
 *
 * const slots = redisSlots({ client: new Redis(), key: 'partner-api', limit: 50 });
 * for await (const result of limitedAsCompleted(tasks, 8, { slots })) console.log(result);
 * ```
 *
 * @packageDocumentation
 */
export { RedisSlots, redisSlots } from './redis-slots.js';
export type { RedisClient, RedisLease, RedisSlotsOptions, RedisSlotsStats, RedisSubscriber } from './options.js';
export type { NodeRedisClient, NodeRedisCluster, NodeRedisConnection } from './node-redis.js';
export { RedisSlotsError } from './errors.js';
