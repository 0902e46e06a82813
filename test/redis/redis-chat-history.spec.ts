/** Shared chat history: the InMemoryChatHistoryStore bounds, over Redis, across two instances (issue 5), on a standalone Redis and on a Cluster. */
import type { ChatHistoryBounds, ChatMessage } from '../../src/chat/chat-history.store.js';
import { RedisChatHistoryStore } from '../../src/redis/redis-chat-history.store.js';
import { SIGNING_KEY, sleep, uniquePrefix } from './redis-helpers.js';
import { connectKind, deleteKeysOf, keysOf, memoryOf, REDIS_KINDS, type TestKeyspace } from './redis-kinds.js';

let seq = 0;

function message(commodityId: number, text: string, at = Date.now()): ChatMessage {
  seq += 1;
  return { id: `m${seq}`, commodityId, userId: 'u1', username: 'Ann', text, timestamp: new Date(at).toISOString() };
}

describe.each(REDIS_KINDS)('on %s Redis', (kind) => {
  let conn: TestKeyspace;
  const extra: TestKeyspace[] = [];

  /** Two stores ("nodes"), each with its own connection, on a fresh prefix under this file's. */
  async function pair(bounds: ChatHistoryBounds, now?: () => number, shards?: number): Promise<[RedisChatHistoryStore, RedisChatHistoryStore, string]> {
    const prefix = `${conn.prefix}${++seq}:`;
    const [ca, cb] = await Promise.all([connectKind(kind, prefix), connectKind(kind, prefix)]);
    extra.push(ca, cb);
    const store = (connection: TestKeyspace) => new RedisChatHistoryStore({ connection, bounds, now, shards, signingKey: SIGNING_KEY });
    return [store(ca), store(cb), prefix];
  }

  beforeAll(async () => {
    conn = await connectKind(kind, uniquePrefix());
  });

  afterAll(async () => {
    await deleteKeysOf(conn);
    await Promise.all([conn, ...extra].map((c) => c.close()));
  });

  test('history appended on one node is read on the other, capped at size, oldest first', async () => {
    const [a, b] = await pair({ size: 3, ttlMs: 60_000, maxCommodities: 10, maxBytes: 1 << 30 });
    for (const text of ['1', '2', '3', '4', '5']) await a.append(message(1, text));
    expect((await b.recent(1, 50)).map((m) => m.text)).toEqual(['3', '4', '5']);
    expect((await b.recent(1, 2)).map((m) => m.text)).toEqual(['4', '5']);
    expect(await b.recent(1, 0)).toEqual([]);
    expect(await b.recent(2, 50)).toEqual([]);
    expect(await a.sizes()).toMatchObject({ commodities: 1, messages: 3 });
  });

  test('the stored message round-trips unchanged', async () => {
    const [a, b] = await pair({ size: 3, ttlMs: 60_000, maxCommodities: 10, maxBytes: 1 << 30 });
    const m = { ...message(9, 'héllo | "quoted" \u2603'), username: 'Zoë' };
    await a.append(m);
    expect(await b.recent(9, 50)).toEqual([m]);
  });

  test('messages older than the TTL are gone, by real expiry with a short TTL', async () => {
    const [a, b, prefix] = await pair({ size: 10, ttlMs: 300, maxCommodities: 10, maxBytes: 1 << 30 });
    await a.append(message(1, 'old'));
    expect((await b.recent(1, 50)).map((m) => m.text)).toEqual(['old']);
    await sleep(150);
    await a.append(message(1, 'new'));
    await sleep(200);
    expect((await b.recent(1, 50)).map((m) => m.text)).toEqual(['new']);
    await sleep(200);
    expect(await b.recent(1, 50)).toEqual([]);
    expect(await keysOf(conn, prefix)).toEqual([]);
  });

  test('sweep drops expired messages and empty commodities (injected clock)', async () => {
    let now = Date.now();
    const [a, b, prefix] = await pair({ size: 10, ttlMs: 60_000, maxCommodities: 10, maxBytes: 1 << 30 }, () => now);
    await a.append(message(1, 'a', now - 59_000));
    await a.append(message(1, 'b', now));
    await a.append(message(2, 'c', now - 59_000));
    expect(await b.sizes()).toMatchObject({ commodities: 2, messages: 3 });
    now += 1_000;
    await b.sweep();
    expect(await a.sizes()).toMatchObject({ commodities: 1, messages: 1 });
    expect((await a.recent(1, 50)).map((m) => m.text)).toEqual(['b']);
    now += 60_000;
    await b.sweep();
    expect(await a.sizes()).toMatchObject({ commodities: 0, messages: 0 });
    expect(await keysOf(conn, prefix)).toEqual([]);
  });

  test('past the commodity cap the least recently used one is evicted; reads count as use', async () => {
    const [a, b, prefix] = await pair({ size: 5, ttlMs: 60_000, maxCommodities: 2, maxBytes: 1 << 30 });
    await a.append(message(1, 'c1'));
    await b.append(message(2, 'c2'));
    expect(await a.recent(1, 50)).toHaveLength(1); // touches 1: 2 is now least recent
    await b.append(message(3, 'c3'));
    expect(await a.recent(2, 50)).toEqual([]);
    expect((await b.recent(1, 50)).map((m) => m.text)).toEqual(['c1']);
    expect((await a.recent(3, 50)).map((m) => m.text)).toEqual(['c3']);
    expect(await a.sizes()).toMatchObject({ commodities: 2, messages: 2 });
    expect(await keysOf(conn, `${prefix}{chat:0}:2`)).toEqual([]);
  });

  test('concurrent appends on two nodes never leave more commodities than the cap', async () => {
    const [a, b] = await pair({ size: 3, ttlMs: 60_000, maxCommodities: 5, maxBytes: 1 << 30 });
    await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).append(message(i % 20, `m${i}`))));
    const sizes = await a.sizes();
    expect(sizes.commodities).toBe(5);
    expect(sizes.messages).toBeLessThanOrEqual(15);
  });

  test('a size of 0 stores nothing', async () => {
    const [a, b] = await pair({ size: 0, ttlMs: 60_000, maxCommodities: 5, maxBytes: 1 << 30 });
    await a.append(message(1, 'x'));
    expect(await b.recent(1, 50)).toEqual([]);
    expect(await b.sizes()).toMatchObject({ commodities: 0, messages: 0 });
  });

  test('R1: a flood over 200 commodities × 40 messages × 2,000 chars keeps Redis memory under CHAT_HISTORY_MAX_BYTES', async () => {
    const maxBytes = 2 * 1024 * 1024;
    const [a, b, prefix] = await pair({ size: 100, ttlMs: 60_000, maxCommodities: 10_000, maxBytes });
    const text = (i: number): string => `${i}`.padStart(8, '0') + 'x'.repeat(1992);
    // 16 MB offered from two nodes at once: eight times the budget.
    for (let commodity = 0; commodity < 200; commodity += 1) {
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append(message(commodity, text(i)))));
    }
    const sizes = await a.sizes();
    expect(sizes.bytes).toBeLessThanOrEqual(maxBytes);
    expect(sizes.bytes).toBeGreaterThan(maxBytes / 2);
    const memory = await memoryOf(conn, prefix);
    // Margin: Redis list nodes (quicklist), the index and the count hashes: 15% plus 64 KiB (measured: ~11%).
    expect(memory.bytes).toBeLessThan(maxBytes * 1.15 + 64 * 1024);
    // The newest commodities are there whole, the oldest gone whole.
    expect(await b.recent(199, 100)).toHaveLength(40);
    expect(await b.recent(0, 100)).toEqual([]);
    console.log(`R1 redis: ${JSON.stringify({ maxBytes, sizes, memoryUsage: memory })}`);
  });

  test('R1: the running counts agree with what the lists hold after evictions and expiry', async () => {
    let now = Date.now();
    const [a, b, prefix] = await pair({ size: 3, ttlMs: 60_000, maxCommodities: 4, maxBytes: 1 << 20 }, () => now);
    for (let i = 0; i < 30; i += 1) await (i % 2 ? a : b).append(message(i % 7, `t${i}`, now - (i < 10 ? 59_000 : 0)));
    now += 2_000;
    await a.sweep();
    const sizes = await a.sizes();
    let messages = 0;
    let bytes = 0;
    for (const key of (await keysOf(conn, prefix)).filter((k) => /\}:\d+$/.test(k))) {
      const entries = await conn.command.lrange(key, 0, -1);
      messages += entries.length;
      bytes += entries.reduce((sum, e) => sum + Buffer.byteLength(e), 0);
    }
    expect(sizes).toMatchObject({ messages, bytes });
    expect(sizes.commodities).toBeLessThanOrEqual(4);
  });

  test('R6: a chat entry written into Redis by someone without the key, or moved to another commodity, is never read', async () => {
    const [a, b, prefix] = await pair({ size: 10, ttlMs: 60_000, maxCommodities: 10, maxBytes: 1 << 20 });
    await a.append(message(1, 'genuine'));
    const [genuine] = await conn.command.lrange(`${prefix}{chat:0}:1`, 0, -1);
    const forged = `${Date.now()}|${'A'.repeat(43)}|${JSON.stringify(message(1, 'forged'))}`;
    await conn.command.rpush(`${prefix}{chat:0}:1`, forged);
    // The genuine entry copied to commodity 2 (its signature covers the list key).
    await a.append(message(2, 'two'));
    await conn.command.rpush(`${prefix}{chat:0}:2`, genuine!);
    expect((await b.recent(1, 50)).map((m) => m.text)).toEqual(['genuine']);
    expect((await b.recent(2, 50)).map((m) => m.text)).toEqual(['two']);
    expect((await b.sizes()).rejectedEntries).toBe(2);
  });

  test('R1 with shards: each shard holds its share of both caps, so the totals hold over many slots', async () => {
    const maxBytes = 256 * 1024;
    const [a, b, prefix] = await pair({ size: 20, ttlMs: 60_000, maxCommodities: 40, maxBytes }, undefined, 4);
    const text = 'y'.repeat(1500);
    for (let commodity = 1; commodity <= 120; commodity += 1) {
      await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).append(message(commodity, text))));
    }
    const sizes = await a.sizes();
    expect(sizes.bytes).toBeLessThanOrEqual(maxBytes);
    expect(sizes.commodities).toBeLessThanOrEqual(40);
    expect(sizes.bytes).toBeGreaterThan(maxBytes / 2);
    // Lists of evicted commodities are deleted too: the lists in Redis are exactly the counted ones.
    const lists = (await keysOf(conn, prefix)).filter((k) => /\}:\d+$/.test(k));
    expect(lists).toHaveLength(sizes.commodities);
    // Four tags: on a Cluster, their slots are not all on one master.
    expect(new Set(lists.map((k) => /\{chat:(\d+)\}/.exec(k)![1])).size).toBe(4);
    expect((await b.recent(120, 50)).length).toBe(6);
    expect(await b.recent(1, 50)).toEqual([]);
  });

  test('an evicted commodity whose list is not deleted yet is never read nor appended to', async () => {
    const [a, b, prefix] = await pair({ size: 5, ttlMs: 60_000, maxCommodities: 1, maxBytes: 1 << 20 });
    await a.append(message(1, 'old'));
    const [entry] = await conn.command.lrange(`${prefix}{chat:0}:1`, 0, -1);
    await a.append(message(2, 'evicts 1'));
    // As if the node that evicted 1 died before deleting its list.
    await conn.command.rpush(`${prefix}{chat:0}:1`, entry!);
    expect(await b.recent(1, 50)).toEqual([]);
    await b.append(message(1, 'fresh'));
    expect((await a.recent(1, 50)).map((m) => m.text)).toEqual(['fresh']);
    expect(await a.sizes()).toMatchObject({ commodities: 1, messages: 1 });
  });

  test('shards are whole numbers from 1 to maxCommodities', () => {
    const bounds = { size: 5, ttlMs: 1000, maxCommodities: 3, maxBytes: 1000 };
    expect(() => new RedisChatHistoryStore({ connection: conn, bounds, shards: 4, signingKey: SIGNING_KEY })).toThrow(RangeError);
    expect(() => new RedisChatHistoryStore({ connection: conn, bounds, shards: 0, signingKey: SIGNING_KEY })).toThrow(RangeError);
  });
});
