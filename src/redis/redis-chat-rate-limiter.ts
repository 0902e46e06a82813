import type { ChatRateLimiter } from '../chat/chat-rate-limiter.js';
import { LuaScript } from './lua-script.js';
import type { RedisKeyspace } from './redis-keyspace.js';

export interface RedisChatRateLimiterOptions {
  readonly connection: RedisKeyspace;
  /** WS_CHAT_RATE_PER_SEC */
  readonly perSec: number;
  /** WS_CHAT_RATE_BURST */
  readonly burst: number;
}

/**
 * One token bucket per user, on Redis' clock (TIME) so nodes with skewed clocks agree. The key
 * expires once the bucket would be full again: an absent key is a full bucket, so idle users
 * cost nothing. KEYS[1] the user's bucket; ARGV: perSec, burst, key ttl ms. Returns 0 when a
 * token was taken, otherwise the milliseconds until one is available.
 */
const TAKE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil or at == nil then tokens, at = burst, now end
if now > at then
  tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
  at = now
end
if tokens < 1 then return math.max(1, math.ceil((1 - tokens) / rate * 1000)) end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens - 1), 'at', string.format('%.3f', at))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0
`);

/**
 * The chat rate counted cluster-wide (docs/protocol.md §11, finding R1): one script call per
 * `commodity.message`, one small hash per user who chatted within the refill time.
 */
export class RedisChatRateLimiter implements ChatRateLimiter {
  private readonly keyTtlMs: number;

  constructor(private readonly options: RedisChatRateLimiterOptions) {
    // An empty bucket is full again after burst / perSec seconds; a second more for rounding.
    this.keyTtlMs = Math.ceil((options.burst / options.perSec) * 1000) + 1000;
  }

  /** Throws when Redis is unreachable (the message is refused, not let through unlimited). */
  async take(userId: string): Promise<number> {
    const wait = await TAKE.run(this.options.connection.command, [this.options.connection.key(`chatrate:${userId}`)], [this.options.perSec, this.options.burst, this.keyTtlMs]);
    return Number(wait);
  }

  localUsers(): number {
    return 0;
  }
}
