import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ChatHistoryBounds, ChatHistorySizes, ChatHistoryStore, ChatMessage } from '../chat/chat-history.store.js';
import { MIN_SIGNING_KEY_BYTES } from './signed-envelope.js';
import { LuaScript } from './lua-script.js';
import type { RedisErrorReporter } from './redis-connection.js';
import { type RedisKeyspace, taggedKey } from './redis-keyspace.js';

export interface RedisChatHistoryOptions {
  readonly connection: RedisKeyspace;
  readonly bounds: ChatHistoryBounds;
  /** REDIS_SIGNING_KEY: entries are stored signed and checked on read (finding R6). */
  readonly signingKey: string | Buffer;
  /**
   * Hash tags the history is spread over (CHAT_HISTORY_SHARDS, default 1); each holds
   * 1/shards of both caps. At most `bounds.maxCommodities`.
   */
  readonly shards?: number;
  /** Clock for message age (the same one that stamps ChatMessage.timestamp). */
  readonly now?: () => number;
  readonly onError?: RedisErrorReporter;
}

/**
 * Stored entries are `<epoch ms>|<base64url hmac>|<ChatMessage JSON>`, so Lua can tell a
 * message's age without decoding JSON, and an entry's cost against the byte budget is its
 * length. Lists hold the oldest message at the head. Running counts live beside the lists
 * (COUNTS: `n:<id>` messages and `b:<id>` bytes per commodity; TOTALS: the sums), so neither
 * the budget nor a scrape ever walks the lists.
 *
 * Every script declares INDEX, COUNTS, TOTALS before this; list keys come through KEYS only.
 */
const HELPERS = `
local function account(member, messages, bytes)
  redis.call('HINCRBY', TOTALS, 'messages', messages)
  redis.call('HINCRBY', TOTALS, 'bytes', bytes)
  redis.call('HINCRBY', COUNTS, 'n:' .. member, messages)
  redis.call('HINCRBY', COUNTS, 'b:' .. member, bytes)
end
-- A whole commodity leaves the accounts and the index; its list (which may already have
-- expired by PEXPIRE) is the caller's to delete.
local function unaccount(member)
  local n = tonumber(redis.call('HGET', COUNTS, 'n:' .. member) or '0')
  local b = tonumber(redis.call('HGET', COUNTS, 'b:' .. member) or '0')
  if n ~= 0 then redis.call('HINCRBY', TOTALS, 'messages', -n) end
  if b ~= 0 then redis.call('HINCRBY', TOTALS, 'bytes', -b) end
  redis.call('HDEL', COUNTS, 'n:' .. member, 'b:' .. member)
  redis.call('ZREM', INDEX, member)
  if tonumber(redis.call('HGET', TOTALS, 'messages') or '0') <= 0 then redis.call('DEL', TOTALS) end
end
local function forget(member, key)
  unaccount(member)
  redis.call('DEL', key)
end
local function trim(member, key, cutoff)
  while true do
    local head = redis.call('LINDEX', key, 0)
    if not head then return end
    local ts = tonumber(string.match(head, '^(%-?%d+)|'))
    if ts ~= nil and ts > cutoff then return end
    redis.call('LPOP', key)
    account(member, -1, -#head)
  end
end
-- A list whose commodity is not in the index was evicted by another call and not yet
-- deleted (see DROP_EVICTED): it is dead, never read or appended to.
local function evicted(member)
  return redis.call('ZSCORE', INDEX, member) == false
end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`;

/** KEYS: the commodity's list, INDEX, COUNTS, TOTALS (one hash tag). */
const LIST_KEYS = `local INDEX, COUNTS, TOTALS = KEYS[2], KEYS[3], KEYS[4]\n`;

/**
 * Append, bound the list, touch the LRU index, then evict least recently used commodities
 * until both the shard's commodity cap and its byte budget hold, in one step so concurrent
 * nodes cannot overshoot either (finding R1). Each eviction step removes a commodity or a
 * message, so the loop ends. A victim leaves the accounts and the index here; its list key
 * cannot be named in KEYS ahead of time, so the script returns the victims and the caller
 * deletes their lists (DROP_EVICTED) right after. LRU scores are Redis' clock in µs.
 * ARGV: entry, size, ttlMs, maxCommodities, member (<id>), maxBytes. Returns the victims.
 */
const APPEND = new LuaScript(`${LIST_KEYS}${HELPERS}
local member = ARGV[5]
if evicted(member) then forget(member, KEYS[1]) end
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
local maxCommodities, maxBytes = tonumber(ARGV[4]), tonumber(ARGV[6])
local victims = {}
while tonumber(redis.call('HGET', TOTALS, 'bytes') or '0') > maxBytes or redis.call('ZCARD', INDEX) > maxCommodities do
  local oldest = redis.call('ZRANGE', INDEX, 0, 1)
  local victim = oldest[1]
  if victim == member then victim = oldest[2] end
  if victim then
    unaccount(victim)
    victims[#victims + 1] = victim
  else
    -- this commodity alone is over the budget: its oldest messages go
    local head = redis.call('LPOP', KEYS[1])
    if not head then forget(member, KEYS[1]) break end
    account(member, -1, -#head)
  end
end
return victims
`);

/**
 * Deletes the lists of evicted commodities, unless a later append brought one back (it is in
 * the index again: its list is live). KEYS: INDEX, then the lists; ARGV: their members.
 */
const DROP_EVICTED = new LuaScript(`local INDEX = KEYS[1]
local dropped = 0
for i = 1, #ARGV do
  if redis.call('ZSCORE', INDEX, ARGV[i]) == false then dropped = dropped + redis.call('DEL', KEYS[i + 1]) end
end
return dropped
`);

/**
 * Drop expired messages, forget the commodity if nothing is left, else mark it used and
 * return the newest `limit` entries. ARGV: cutoff ms, limit, member.
 */
const RECENT = new LuaScript(`${LIST_KEYS}${HELPERS}
local member = ARGV[3]
if evicted(member) then
  forget(member, KEYS[1])
  return {}
end
trim(member, KEYS[1], tonumber(ARGV[1]))
if redis.call('EXISTS', KEYS[1]) == 0 then
  forget(member, KEYS[1])
  return {}
end
redis.call('ZADD', INDEX, 'XX', clock(), member)
return redis.call('LRANGE', KEYS[1], -tonumber(ARGV[2]), -1)
`);

/** KEYS: INDEX, COUNTS, TOTALS, then the lists; ARGV: cutoff ms, then their members. Returns commodities dropped. */
const SWEEP = new LuaScript(`local INDEX, COUNTS, TOTALS = KEYS[1], KEYS[2], KEYS[3]
${HELPERS}
local dropped = 0
for i = 2, #ARGV do
  local key = KEYS[i + 2]
  trim(ARGV[i], key, tonumber(ARGV[1]))
  if redis.call('EXISTS', key) == 0 then
    forget(ARGV[i], key)
    dropped = dropped + 1
  end
end
return dropped
`);

/** Commodities handled per script call, so a sweep never blocks Redis for long. */
const BATCH = 200;

/** The keys of one shard: one hash tag, so one Cluster slot. */
interface Shard {
  readonly tag: string;
  readonly index: string;
  readonly counts: string;
  readonly totals: string;
}

/**
 * Chat history shared by every node: a list per commodity (bounded to `size`, PEXPIRE `ttlMs`
 * on each append), an LRU index (score = last use) capping the number of commodities with
 * history, and running byte and message counts holding all of it under `maxBytes`. Same
 * semantics as InMemoryChatHistoryStore: both `append` and `recent` count as use.
 *
 * Cluster: every key of a commodity and its shard's index and counts share one hash tag
 * (`{chat:<shard>}`, shard = commodityId mod `shards`), so each script runs on one slot. A
 * global LRU over the whole byte budget needs one index, hence one slot: with `shards` = 1
 * (the default) that is exact, and one master holds all chat history (64 MiB by default, a
 * small share of a master). With `shards` = N each shard holds 1/N of CHAT_HISTORY_MAX_BYTES
 * and of CHAT_HISTORY_MAX_COMMODITIES, so the totals still hold; the trade-off is that LRU is
 * per shard (a busy shard evicts while another has room), i.e. up to (N-1)/N of the budget
 * may sit unused under skew, never more than the budget in use.
 *
 * Entries are signed with REDIS_SIGNING_KEY over the list key and the entry, so whoever can
 * write to our Redis can neither inject a message nor move one to another commodity or
 * prefix; an entry that fails the check is skipped and counted (`rejectedEntries`).
 */
export class RedisChatHistoryStore implements ChatHistoryStore {
  private readonly now: () => number;
  private readonly shards: Shard[];
  private readonly shardBounds: { readonly maxCommodities: number; readonly maxBytes: number };
  private readonly key: Buffer;
  private readonly report: RedisErrorReporter;
  private rejected = 0;

  constructor(private readonly options: RedisChatHistoryOptions) {
    this.now = options.now ?? Date.now;
    this.report = options.onError ?? (() => undefined);
    const count = options.shards ?? 1;
    const { maxCommodities, maxBytes } = options.bounds;
    if (!Number.isInteger(count) || count < 1 || count > maxCommodities) throw new RangeError('shards must be a whole number from 1 to maxCommodities');
    this.shardBounds = { maxCommodities: Math.floor(maxCommodities / count), maxBytes: Math.floor(maxBytes / count) };
    this.shards = Array.from({ length: count }, (_, i) => {
      const tag = `chat:${i}`;
      const key = (rest: string): string => taggedKey(options.connection, tag, rest);
      return { tag, index: key(':index'), counts: key(':counts'), totals: key(':totals') };
    });
    this.key = typeof options.signingKey === 'string' ? Buffer.from(options.signingKey, 'utf8') : Buffer.from(options.signingKey);
    if (this.key.length < MIN_SIGNING_KEY_BYTES) throw new RangeError(`signingKey must be at least ${MIN_SIGNING_KEY_BYTES} bytes`);
  }

  async append(message: ChatMessage): Promise<void> {
    const { size, ttlMs } = this.options.bounds;
    if (size === 0) return;
    const sentAt = Date.parse(message.timestamp);
    const member = String(message.commodityId);
    const shard = this.shardOf(message.commodityId);
    const listKey = this.listKey(shard, member);
    const body = `${Number.isFinite(sentAt) ? sentAt : this.now()}|${JSON.stringify(message)}`;
    const bar = body.indexOf('|');
    const entry = `${body.slice(0, bar)}|${this.mac(listKey, body)}${body.slice(bar)}`;
    const { maxCommodities, maxBytes } = this.shardBounds;
    const victims = asStrings(await APPEND.run(this.client, this.keys(shard, member), [entry, size, ttlMs, maxCommodities, member, maxBytes]));
    if (victims.length === 0) return;
    // Failing here leaves dead lists: unreachable (not in the index), deleted at their next
    // touch, or by their TTL at the latest.
    await DROP_EVICTED.run(this.client, [shard.index, ...victims.map((victim) => this.listKey(shard, victim))], victims).catch((error: unknown) =>
      this.report('redis chat history eviction', error),
    );
  }

  async recent(commodityId: number, limit: number): Promise<ChatMessage[]> {
    if (limit <= 0) return [];
    const cutoff = this.cutoff();
    const member = String(commodityId);
    const shard = this.shardOf(commodityId);
    const entries = await RECENT.run(this.client, this.keys(shard, member), [cutoff, limit, member]);
    const messages: ChatMessage[] = [];
    for (const entry of asStrings(entries)) {
      const decoded = this.decodeEntry(this.listKey(shard, member), entry, commodityId);
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
    const cutoff = this.cutoff();
    for (const shard of this.shards) {
      const members = await this.client.zrange(shard.index, 0, -1);
      for (let start = 0; start < members.length; start += BATCH) {
        const batch = members.slice(start, start + BATCH);
        const lists = batch.map((member) => this.listKey(shard, member));
        await SWEEP.run(this.client, [shard.index, shard.counts, shard.totals, ...lists], [cutoff, ...batch]);
      }
    }
  }

  /** From the running counts: two reads per shard whatever the number of commodities (finding R5). */
  async sizes(): Promise<ChatHistorySizes> {
    const perShard = await Promise.all(
      this.shards.map(async (shard) => {
        const replies = (await this.client.pipeline().zcard(shard.index).hmget(shard.totals, 'messages', 'bytes').exec()) ?? [];
        for (const [error] of replies) if (error) throw error;
        const [messages, bytes] = (replies[1]?.[1] as Array<string | null> | undefined) ?? [];
        return { commodities: Number(replies[0]?.[1] ?? 0), messages: Number(messages ?? 0), bytes: Number(bytes ?? 0) };
      }),
    );
    const sum = (pick: (s: (typeof perShard)[number]) => number): number => perShard.reduce((total, s) => total + pick(s), 0);
    return { commodities: sum((s) => s.commodities), messages: sum((s) => s.messages), bytes: sum((s) => s.bytes), rejectedEntries: this.rejected };
  }

  private shardOf(commodityId: number): Shard {
    return this.shards[commodityId % this.shards.length]!;
  }

  private listKey(shard: Shard, member: string): string {
    return taggedKey(this.options.connection, shard.tag, `:${member}`);
  }

  private keys(shard: Shard, member: string): string[] {
    return [this.listKey(shard, member), shard.index, shard.counts, shard.totals];
  }

  private get client(): RedisKeyspace['command'] {
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
