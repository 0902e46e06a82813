/** Shared chat history: the InMemoryChatHistoryStore bounds, over Redis, across two instances (issue 5). */
import type { ChatHistoryBounds, ChatMessage } from '../../src/chat/chat-history.store.js';
import { RedisChatHistoryStore } from '../../src/redis/redis-chat-history.store.js';
import { connect, deleteKeys, keysUnder, SIGNING_KEY, sleep, type TestConnection, uniquePrefix } from './redis-helpers.js';

let conn: TestConnection;
let seq = 0;

function message(commodityId: number, text: string, at = Date.now()): ChatMessage {
  seq += 1;
  return { id: `m${seq}`, commodityId, userId: 'u1', username: 'Ann', text, timestamp: new Date(at).toISOString() };
}

const extra: TestConnection[] = [];

/** Two stores ("nodes"), each with its own connection, on a fresh prefix under this file's. */
async function pair(bounds: ChatHistoryBounds, now?: () => number): Promise<[RedisChatHistoryStore, RedisChatHistoryStore, string]> {
  const prefix = `${conn.prefix}${++seq}:`;
  const [ca, cb] = await Promise.all([connect(prefix), connect(prefix)]);
  extra.push(ca, cb);
  return [new RedisChatHistoryStore({ connection: ca, bounds, now, signingKey: SIGNING_KEY }), new RedisChatHistoryStore({ connection: cb, bounds, now, signingKey: SIGNING_KEY }), prefix];
}

beforeAll(async () => {
  conn = await connect(uniquePrefix());
});

afterAll(async () => {
  await deleteKeys(conn);
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
  expect(await keysUnder(conn).then((keys) => keys.filter((k) => k.startsWith(prefix)))).toEqual([]);
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
  expect((await keysUnder(conn)).filter((k) => k.startsWith(prefix))).toEqual([]);
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
  expect(await conn.command.exists(`${prefix}chat:2`)).toBe(0);
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

/** Sum of MEMORY USAGE over every key under `prefix` (SCAN, so only this test's keys). */
async function memoryUnder(prefix: string): Promise<{ bytes: number; keys: number }> {
  let cursor = '0';
  let bytes = 0;
  let keys = 0;
  do {
    const [next, found] = await conn.command.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    for (const key of found) {
      bytes += Number((await conn.command.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
      keys += 1;
    }
    cursor = next;
  } while (cursor !== '0');
  return { bytes, keys };
}

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
  const memory = await memoryUnder(prefix);
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
  for (const key of (await keysUnder(conn)).filter((k) => /chat:\d+$/.test(k) && k.startsWith(prefix))) {
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
  const [genuine] = await conn.command.lrange(`${prefix}chat:1`, 0, -1);
  const forged = `${Date.now()}|${'A'.repeat(43)}|${JSON.stringify(message(1, 'forged'))}`;
  await conn.command.rpush(`${prefix}chat:1`, forged);
  // The genuine entry copied to commodity 2 (its signature covers the list key).
  await a.append(message(2, 'two'));
  await conn.command.rpush(`${prefix}chat:2`, genuine!);
  expect((await b.recent(1, 50)).map((m) => m.text)).toEqual(['genuine']);
  expect((await b.recent(2, 50)).map((m) => m.text)).toEqual(['two']);
  expect((await b.sizes()).rejectedEntries).toBe(2);
});
