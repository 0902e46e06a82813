import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from './redis-client-factory.js';
import type { ChatHistoryBounds, ChatHistorySizes, ChatHistoryStore, ChatMessage } from '../chat/chat-history.store.js';
import { MIN_SIGNING_KEY_BYTES } from './signed-envelope.js';
import { LuaScript } from './lua-script.js';
import type { RedisConnection } from './redis-connection.js';

export interface RedisChatHistoryOptions {
  readonly connection: RedisConnection;
  readonly bounds: ChatHistoryBounds;
  /** REDIS_SIGNING_KEY: entries are stored signed and checked on read (finding R6). */
  readonly signingKey: string | Buffer;
  /** Clock for message age (the same one that stamps ChatMessage.timestamp). */
  readonly now?: () => number;
}

/**
 * Stored entries are `<epoch ms>|<base64url hmac>|<ChatMessage JSON>`, so Lua can tell a
 * message's age without decoding JSON, and an entry's cost against the byte budget is its
 * length. Lists hold the oldest message at the head. Running counts live beside the lists
 * (`chat:counts`: `n:<id>` messages and `b:<id>` bytes per commodity; `chat:totals`: the sums),
 * so neither the budget nor a scrape ever walks the lists.
 *
 * Every script declares INDEX, COUNTS, TOTALS (and PREFIX, the list key prefix) before this.
 */
const HELPERS = `
local function account(member, messages, bytes)
  redis.call('HINCRBY', TOTALS, 'messages', messages)
  redis.call('HINCRBY', TOTALS, 'bytes', bytes)
  redis.call('HINCRBY', COUNTS, 'n:' .. member, messages)
  redis.call('HINCRBY', COUNTS, 'b:' .. member, bytes)
end
-- A whole commodity goes; its list may already have expired by PEXPIRE, its counts not.
local function forget(member)
  local n = tonumber(redis.call('HGET', COUNTS, 'n:' .. member) or '0')
  local b = tonumber(redis.call('HGET', COUNTS, 'b:' .. member) or '0')
  if n ~= 0 then redis.call('HINCRBY', TOTALS, 'messages', -n) end
  if b ~= 0 then redis.call('HINCRBY', TOTALS, 'bytes', -b) end
  redis.call('HDEL', COUNTS, 'n:' .. member, 'b:' .. member)
  redis.call('ZREM', INDEX, member)
  redis.call('DEL', PREFIX .. member)
  if tonumber(redis.call('HGET', TOTALS, 'messages') or '0') <= 0 then redis.call('DEL', TOTALS) end
end
local function trim(member, cutoff)
  local key = PREFIX .. member
  while true do
    local head = redis.call('LINDEX', key, 0)
    if not head then return end
    local ts = tonumber(string.match(head, '^(%-?%d+)|'))
    if ts ~= nil and ts > cutoff then return end
    redis.call('LPOP', key)
    account(member, -1, -#head)
  end
end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`;

/** KEYS: chat:<id>, chat:index, chat:counts, chat:totals. */
const LIST_KEYS = `local INDEX, COUNTS, TOTALS = KEYS[2], KEYS[3], KEYS[4]\n`;

/**
 * Append, bound the list, touch the LRU index, then evict least recently used commodities
 * until both the commodity cap and the byte budget hold, in one step so concurrent nodes
 * cannot overshoot either (finding R1). Each eviction step removes a commodity or a message,
 * so the loop ends. LRU scores are Redis' clock in µs.
 * ARGV: entry, size, ttlMs, maxCommodities, member (<id>), list key prefix, maxBytes.
 */
const APPEND = new LuaScript(`${LIST_KEYS}local PREFIX = ARGV[6]
${HELPERS}
local member = ARGV[5]
redis.call('RPUSH', KEYS[1], ARGV[1])
account(member, 1, #ARGV[1])
while redis.call('LLEN', KEYS[1]) > tonumber(ARGV[2]) do
  local head = redis.call('LPOP', KEYS[1])
  account(member, -1, -#head)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', INDEX, clock(), member)
-- Nothing outlives the newest list: a fleet that stops leaves no keys behind.
for _, key in ipairs({INDEX, COUNTS, TOTALS}) do redis.call('PEXPIRE', key, ARGV[3]) end
local maxCommodities, maxBytes = tonumber(ARGV[4]), tonumber(ARGV[7])
while tonumber(redis.call('HGET', TOTALS, 'bytes') or '0') > maxBytes or redis.call('ZCARD', INDEX) > maxCommodities do
  local oldest = redis.call('ZRANGE', INDEX, 0, 1)
  local victim = oldest[1]
  if victim == member then victim = oldest[2] end
  if victim then
    forget(victim)
  else
    -- this commodity alone is over the budget: its oldest messages go
    local head = redis.call('LPOP', KEYS[1])
    if not head then forget(member) break end
    account(member, -1, -#head)
  end
end
return 1
`);

/**
 * Drop expired messages, forget the commodity if nothing is left, else mark it used and
 * return the newest `limit` entries. ARGV: cutoff ms, limit, member, list key prefix.
 */
const RECENT = new LuaScript(`${LIST_KEYS}local PREFIX = ARGV[4]
${HELPERS}
trim(ARGV[3], tonumber(ARGV[1]))
if redis.call('EXISTS', KEYS[1]) == 0 then
  forget(ARGV[3])
  return {}
end
redis.call('ZADD', INDEX, 'XX', clock(), ARGV[3])
return redis.call('LRANGE', KEYS[1], -tonumber(ARGV[2]), -1)
`);

/** KEYS: chat:index, chat:counts, chat:totals; ARGV: cutoff ms, list key prefix, members... Returns commodities dropped. */
const SWEEP = new LuaScript(`local INDEX, COUNTS, TOTALS, PREFIX = KEYS[1], KEYS[2], KEYS[3], ARGV[2]
${HELPERS}
local dropped = 0
for i = 3, #ARGV do
  trim(ARGV[i], tonumber(ARGV[1]))
  if redis.call('EXISTS', PREFIX .. ARGV[i]) == 0 then
    forget(ARGV[i])
    dropped = dropped + 1
  end
end
return dropped
`);

/** Commodities handled per script call / pipeline, so a sweep never blocks Redis for long. */
const BATCH = 200;

/**
 * Chat history shared by every node: a list per commodity (`chat:<id>`, bounded to `size`,
 * PEXPIRE `ttlMs` on each append), an LRU index (`chat:index`, score = last use) capping the
 * number of commodities with history, and running byte and message counts holding all of it
 * under `maxBytes`. Same semantics as InMemoryChatHistoryStore: both `append` and `recent`
 * count as use.
 *
 * Entries are signed with REDIS_SIGNING_KEY over the list key and the entry, so whoever can
 * write to our Redis can neither inject a message nor move one to another commodity or
 * prefix; an entry that fails the check is skipped and counted (`rejectedEntries`).
 *
 * Scripts build list keys from the prefix, so this targets a standalone Redis (or one
 * primary), not Redis Cluster.
 */
export class RedisChatHistoryStore implements ChatHistoryStore {
  private readonly now: () => number;
  private readonly listPrefix: string;
  private readonly indexKey: string;
  private readonly countsKey: string;
  private readonly totalsKey: string;
  private readonly key: Buffer;
  private rejected = 0;

  constructor(private readonly options: RedisChatHistoryOptions) {
    this.now = options.now ?? Date.now;
    this.listPrefix = options.connection.key('chat:');
    this.indexKey = options.connection.key('chat:index');
    this.countsKey = options.connection.key('chat:counts');
    this.totalsKey = options.connection.key('chat:totals');
    this.key = typeof options.signingKey === 'string' ? Buffer.from(options.signingKey, 'utf8') : Buffer.from(options.signingKey);
    if (this.key.length < MIN_SIGNING_KEY_BYTES) throw new RangeError(`signingKey must be at least ${MIN_SIGNING_KEY_BYTES} bytes`);
  }

  async append(message: ChatMessage): Promise<void> {
    const { size, ttlMs, maxCommodities, maxBytes } = this.options.bounds;
    if (size === 0) return;
    const sentAt = Date.parse(message.timestamp);
    const member = String(message.commodityId);
    const listKey = this.listPrefix + member;
    const body = `${Number.isFinite(sentAt) ? sentAt : this.now()}|${JSON.stringify(message)}`;
    const bar = body.indexOf('|');
    const entry = `${body.slice(0, bar)}|${this.mac(listKey, body)}${body.slice(bar)}`;
    await APPEND.run(this.client, this.keys(member), [entry, size, ttlMs, maxCommodities, member, this.listPrefix, maxBytes]);
  }

  async recent(commodityId: number, limit: number): Promise<ChatMessage[]> {
    if (limit <= 0) return [];
    const cutoff = this.cutoff();
    const member = String(commodityId);
    const entries = await RECENT.run(this.client, this.keys(member), [cutoff, limit, member, this.listPrefix]);
    const messages: ChatMessage[] = [];
    for (const entry of asStrings(entries)) {
      const decoded = this.decodeEntry(this.listPrefix + member, entry, commodityId);
      if (!decoded) {
        this.rejected += 1;
        continue;
      }
      // Nodes append with their own clocks, so a later entry can be older than the head.
      if (decoded.sentAt > cutoff) messages.push(decoded.message);
    }
    return messages;
  }

  async sweep(): Promise<void> {
    const members = await this.client.zrange(this.indexKey, 0, -1);
    const cutoff = this.cutoff();
    for (let start = 0; start < members.length; start += BATCH) {
      await SWEEP.run(this.client, [this.indexKey, this.countsKey, this.totalsKey], [cutoff, this.listPrefix, ...members.slice(start, start + BATCH)]);
    }
  }

  /** From the running counts: two reads whatever the number of commodities (finding R5). */
  async sizes(): Promise<ChatHistorySizes> {
    const replies = (await this.client.pipeline().zcard(this.indexKey).hmget(this.totalsKey, 'messages', 'bytes').exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    const commodities = Number(replies[0]?.[1] ?? 0);
    const [messages, bytes] = (replies[1]?.[1] as Array<string | null> | undefined) ?? [];
    return { commodities, messages: Number(messages ?? 0), bytes: Number(bytes ?? 0), rejectedEntries: this.rejected };
  }

  private keys(member: string): string[] {
    return [this.listPrefix + member, this.indexKey, this.countsKey, this.totalsKey];
  }

  private get client(): RedisClient {
    return this.options.connection.command;
  }

  private cutoff(): number {
    return this.now() - this.options.bounds.ttlMs;
  }

  /** HMAC over the full list key (prefix and commodity) and `<ts>|<json>`. */
  private mac(listKey: string, body: string): string {
    return createHmac('sha256', this.key).update(listKey, 'utf8').update('\n').update(body, 'utf8').digest('base64url');
  }

  private decodeEntry(listKey: string, entry: string, commodityId: number): { sentAt: number; message: ChatMessage } | undefined {
    const first = entry.indexOf('|');
    const second = first < 0 ? -1 : entry.indexOf('|', first + 1);
    if (second < 0) return undefined;
    const signature = entry.slice(first + 1, second);
    const body = entry.slice(0, first) + entry.slice(second);
    const given = Buffer.from(signature, 'base64url');
    const expected = Buffer.from(this.mac(listKey, body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const message = JSON.parse(entry.slice(second + 1)) as ChatMessage;
      if (message === null || typeof message !== 'object' || message.commodityId !== commodityId) return undefined;
      return { sentAt: Number(entry.slice(0, first)), message };
    } catch {
      return undefined;
    }
  }
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
