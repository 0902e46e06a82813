/** Shared chat history: the InMemoryChatHistoryStore bounds, over Redis, across two instances (issue 5). */
import type { ChatHistoryBounds, ChatMessage } from '../../src/chat/chat-history.store.js';
import { RedisChatHistoryStore } from '../../src/redis/redis-chat-history.store.js';
import { connect, deleteKeys, keysUnder, sleep, type TestConnection, uniquePrefix } from './redis-helpers.js';

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
  return [new RedisChatHistoryStore({ connection: ca, bounds, now }), new RedisChatHistoryStore({ connection: cb, bounds, now }), prefix];
}

beforeAll(async () => {
  conn = await connect(uniquePrefix());
});

afterAll(async () => {
  await deleteKeys(conn);
  await Promise.all([conn, ...extra].map((c) => c.close()));
});

test('history appended on one node is read on the other, capped at size, oldest first', async () => {
  const [a, b] = await pair({ size: 3, ttlMs: 60_000, maxCommodities: 10 });
  for (const text of ['1', '2', '3', '4', '5']) await a.append(message(1, text));
  expect((await b.recent(1, 50)).map((m) => m.text)).toEqual(['3', '4', '5']);
  expect((await b.recent(1, 2)).map((m) => m.text)).toEqual(['4', '5']);
  expect(await b.recent(1, 0)).toEqual([]);
  expect(await b.recent(2, 50)).toEqual([]);
  expect(await a.sizes()).toEqual({ commodities: 1, messages: 3 });
});

test('the stored message round-trips unchanged', async () => {
  const [a, b] = await pair({ size: 3, ttlMs: 60_000, maxCommodities: 10 });
  const m = { ...message(9, 'héllo | "quoted" \u2603'), username: 'Zoë' };
  await a.append(m);
  expect(await b.recent(9, 50)).toEqual([m]);
});

test('messages older than the TTL are gone, by real expiry with a short TTL', async () => {
  const [a, b, prefix] = await pair({ size: 10, ttlMs: 300, maxCommodities: 10 });
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
  const [a, b, prefix] = await pair({ size: 10, ttlMs: 60_000, maxCommodities: 10 }, () => now);
  await a.append(message(1, 'a', now - 59_000));
  await a.append(message(1, 'b', now));
  await a.append(message(2, 'c', now - 59_000));
  expect(await b.sizes()).toEqual({ commodities: 2, messages: 3 });
  now += 1_000;
  await b.sweep();
  expect(await a.sizes()).toEqual({ commodities: 1, messages: 1 });
  expect((await a.recent(1, 50)).map((m) => m.text)).toEqual(['b']);
  now += 60_000;
  await b.sweep();
  expect(await a.sizes()).toEqual({ commodities: 0, messages: 0 });
  expect((await keysUnder(conn)).filter((k) => k.startsWith(prefix))).toEqual([]);
});

test('past the commodity cap the least recently used one is evicted; reads count as use', async () => {
  const [a, b, prefix] = await pair({ size: 5, ttlMs: 60_000, maxCommodities: 2 });
  await a.append(message(1, 'c1'));
  await b.append(message(2, 'c2'));
  expect(await a.recent(1, 50)).toHaveLength(1); // touches 1: 2 is now least recent
  await b.append(message(3, 'c3'));
  expect(await a.recent(2, 50)).toEqual([]);
  expect((await b.recent(1, 50)).map((m) => m.text)).toEqual(['c1']);
  expect((await a.recent(3, 50)).map((m) => m.text)).toEqual(['c3']);
  expect(await a.sizes()).toEqual({ commodities: 2, messages: 2 });
  expect(await conn.command.exists(`${prefix}chat:2`)).toBe(0);
});

test('concurrent appends on two nodes never leave more commodities than the cap', async () => {
  const [a, b] = await pair({ size: 3, ttlMs: 60_000, maxCommodities: 5 });
  await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).append(message(i % 20, `m${i}`))));
  const sizes = await a.sizes();
  expect(sizes.commodities).toBe(5);
  expect(sizes.messages).toBeLessThanOrEqual(15);
});

test('a size of 0 stores nothing', async () => {
  const [a, b] = await pair({ size: 0, ttlMs: 60_000, maxCommodities: 5 });
  await a.append(message(1, 'x'));
  expect(await b.recent(1, 50)).toEqual([]);
  expect(await b.sizes()).toEqual({ commodities: 0, messages: 0 });
});
