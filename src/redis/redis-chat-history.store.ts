import type { Redis } from 'ioredis';
import type { ChatHistoryBounds, ChatHistoryStore, ChatMessage } from '../chat/chat-history.store.js';
import { LuaScript } from './lua-script.js';
import type { RedisConnection } from './redis-connection.js';

export interface RedisChatHistoryOptions {
  readonly connection: RedisConnection;
  readonly bounds: ChatHistoryBounds;
  /** Clock for message age (the same one that stamps ChatMessage.timestamp). */
  readonly now?: () => number;
}

/**
 * Stored entries are `<epoch ms>|<ChatMessage JSON>`, so Lua can tell a message's age
 * without decoding JSON or parsing dates. Lists hold the oldest message at the head.
 */
const TRIM_EXPIRED_HEAD = `
local function trim(key, cutoff)
  while true do
    local head = redis.call('LINDEX', key, 0)
    if not head then return end
    local ts = tonumber(string.match(head, '^(%-?%d+)|'))
    if ts ~= nil and ts > cutoff then return end
    redis.call('LPOP', key)
  end
end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`;

/**
 * Append, bound the list, touch the LRU index and evict past the commodity cap, in one
 * step so concurrent nodes cannot overshoot the cap. LRU scores are Redis' clock in µs.
 * KEYS[1] chat:<id>, KEYS[2] chat:index; ARGV: entry, size, ttlMs, maxCommodities,
 * member (<id>), list key prefix (for evicted commodities).
 */
const APPEND = new LuaScript(`${TRIM_EXPIRED_HEAD}
local member = ARGV[5]
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], clock(), member)
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if excess > 0 then
  -- one candidate more than needed, in case the one just touched ties for least recent
  local candidates = redis.call('ZRANGE', KEYS[2], 0, excess)
  for _, victim in ipairs(candidates) do
    if excess == 0 then break end
    if victim ~= member then
      redis.call('ZREM', KEYS[2], victim)
      redis.call('DEL', ARGV[6] .. victim)
      excess = excess - 1
    end
  end
end
return 1
`);

/**
 * Drop expired messages, forget the commodity if nothing is left, else mark it used and
 * return the newest `limit` entries. KEYS[1] chat:<id>, KEYS[2] chat:index;
 * ARGV: cutoff ms, limit, member.
 */
const RECENT = new LuaScript(`${TRIM_EXPIRED_HEAD}
trim(KEYS[1], tonumber(ARGV[1]))
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return {}
end
redis.call('ZADD', KEYS[2], 'XX', clock(), ARGV[3])
return redis.call('LRANGE', KEYS[1], -tonumber(ARGV[2]), -1)
`);

/** KEYS[1] chat:index; ARGV: cutoff ms, list key prefix, members... Returns commodities dropped. */
const SWEEP = new LuaScript(`${TRIM_EXPIRED_HEAD}
local dropped = 0
for i = 3, #ARGV do
  local key = ARGV[2] .. ARGV[i]
  trim(key, tonumber(ARGV[1]))
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', KEYS[1], ARGV[i])
    dropped = dropped + 1
  end
end
return dropped
`);

/** Commodities handled per script call / pipeline, so a sweep never blocks Redis for long. */
const BATCH = 200;

/**
 * Chat history shared by every node: a list per commodity (`chat:<id>`, RPUSH + LTRIM to
 * `size`, PEXPIRE `ttlMs` on each append) and an LRU index (`chat:index`, score = last
 * use) capping the number of commodities with history. Same semantics as
 * InMemoryChatHistoryStore: both `append` and `recent` count as use.
 *
 * Scripts build list keys from the prefix, so this targets a standalone Redis (or one
 * primary), not Redis Cluster.
 */
export class RedisChatHistoryStore implements ChatHistoryStore {
  private readonly now: () => number;
  private readonly listPrefix: string;
  private readonly indexKey: string;

  constructor(private readonly options: RedisChatHistoryOptions) {
    this.now = options.now ?? Date.now;
    this.listPrefix = options.connection.key('chat:');
    this.indexKey = options.connection.key('chat:index');
  }

  async append(message: ChatMessage): Promise<void> {
    const { size, ttlMs, maxCommodities } = this.options.bounds;
    if (size === 0) return;
    const sentAt = Date.parse(message.timestamp);
    const entry = `${Number.isFinite(sentAt) ? sentAt : this.now()}|${JSON.stringify(message)}`;
    const member = String(message.commodityId);
    await APPEND.run(this.client, [this.listPrefix + member, this.indexKey], [entry, size, ttlMs, maxCommodities, member, this.listPrefix]);
  }

  async recent(commodityId: number, limit: number): Promise<ChatMessage[]> {
    if (limit <= 0) return [];
    const cutoff = this.cutoff();
    const member = String(commodityId);
    const entries = await RECENT.run(this.client, [this.listPrefix + member, this.indexKey], [cutoff, limit, member]);
    const messages: ChatMessage[] = [];
    for (const entry of asStrings(entries)) {
      // Nodes append with their own clocks, so a later entry can be older than the head.
      const decoded = decodeEntry(entry);
      if (decoded && decoded.sentAt > cutoff) messages.push(decoded.message);
    }
    return messages;
  }

  async sweep(): Promise<void> {
    const members = await this.client.zrange(this.indexKey, 0, -1);
    const cutoff = this.cutoff();
    for (let start = 0; start < members.length; start += BATCH) {
      await SWEEP.run(this.client, [this.indexKey], [cutoff, this.listPrefix, ...members.slice(start, start + BATCH)]);
    }
  }

  /** Commodities that still have messages in Redis, and those messages (expired-but-unswept included, like in memory). */
  async sizes(): Promise<{ commodities: number; messages: number }> {
    const members = await this.client.zrange(this.indexKey, 0, -1);
    let commodities = 0;
    let messages = 0;
    for (let start = 0; start < members.length; start += BATCH) {
      const pipeline = this.client.pipeline();
      for (const member of members.slice(start, start + BATCH)) pipeline.llen(this.listPrefix + member);
      for (const [error, length] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
        if (typeof length === 'number' && length > 0) {
          commodities += 1;
          messages += length;
        }
      }
    }
    return { commodities, messages };
  }

  private get client(): Redis {
    return this.options.connection.command;
  }

  private cutoff(): number {
    return this.now() - this.options.bounds.ttlMs;
  }
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function decodeEntry(entry: string): { sentAt: number; message: ChatMessage } | undefined {
  const bar = entry.indexOf('|');
  if (bar < 0) return undefined;
  try {
    return { sentAt: Number(entry.slice(0, bar)), message: JSON.parse(entry.slice(bar + 1)) as ChatMessage };
  } catch {
    return undefined;
  }
}
