/**
 * /ws/commodity end to end (docs/protocol.md §5; issue 3): join with history, messages, text and
 * id rules, frame cap, and history bounded by count, TTL and an LRU cap on commodities (finding 8).
 */
import { Client, eventually, type Frame, type ServerHandle, sleep, startServer } from '../support/harness.js';
import { ClientPool, expectError, expectIsoTimestamp, framesAfter, reply, seen } from '../support/ns-helpers.js';

/** Fast message rates, the per-user chat rate (R1) included: these tests are not about rates. */
const FAST = { rateBurst: 2000, ratePerSec: 2000, chatRateBurst: 2000, chatRatePerSec: 2000 };

interface ChatMessage {
  id: string;
  commodityId: number;
  userId: string;
  username: string;
  text: string;
  timestamp: string;
}

const history = (f: Frame) => f.data?.history as ChatMessage[];

async function join(c: Client, commodityId: number): Promise<ChatMessage[]> {
  const joined = await reply(c, 'commodity.join', { commodityId });
  expect(joined.event).toBe('commodity.joined');
  expect(joined.data?.commodityId).toBe(commodityId);
  return history(joined);
}

async function send(c: Client, commodityId: number, text: string): Promise<string> {
  const sent = await reply(c, 'commodity.message', { commodityId, text });
  expect(sent.event).toBe('commodity.sent');
  return sent.data?.id as string;
}

function expectChatMessage(m: unknown): void {
  const msg = m as ChatMessage;
  expect(Object.keys(msg).sort()).toEqual(['commodityId', 'id', 'text', 'timestamp', 'userId', 'username']);
  expect(typeof msg.id).toBe('string');
  expect(msg.id.length).toBeGreaterThan(0);
  expectIsoTimestamp(msg.timestamp);
}

describe('commodity chat (default history bounds)', () => {
  let server: ServerHandle;
  const pool = new ClientPool(() => server);
  beforeAll(async () => {
    server = await startServer({ options: { ...FAST } });
  });
  afterEach(async () => {
    await pool.closeAll();
  });
  afterAll(async () => {
    await server.stop();
  });

  test('commodity.join answers commodity.joined {commodityId, history: []} for a commodity without messages', async () => {
    const c = await pool.open('/ws/commodity', { sub: 'u1' });
    const joined = await reply(c, 'commodity.join', { commodityId: 1 });
    expect(joined.data).toEqual({ commodityId: 1, history: [] });
    expect((await reply(c, 'commodity.join', { commodityId: 2147483647 })).data).toEqual({ commodityId: 2147483647, history: [] });
  });

  test('commodity.sent {id} equals the stored message id and the commodity.message push to every member, sender included', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a', name: 'Alice' });
    const b = await pool.open('/ws/commodity', { sub: 'b' });
    const other = await pool.open('/ws/commodity', { sub: 'o' });
    await join(a, 20);
    await join(b, 20);
    await join(other, 21);
    const sent = await reply(a, 'commodity.message', { commodityId: 20, text: 'hello\nworld' });
    expect(sent.event).toBe('commodity.sent');
    expect(Object.keys(sent.data!)).toEqual(['id']);
    const id = sent.data?.id as string;

    const own = await seen(a, 'commodity.message');
    expectChatMessage(own.data);
    expect(own.data).toMatchObject({ id, commodityId: 20, userId: 'a', username: 'Alice', text: 'hello\nworld' });
    const theirs = await seen(b, 'commodity.message');
    expect(theirs.data).toEqual(own.data);

    // The stored message is the same object: a later joiner sees it with the same id.
    const late = await pool.open('/ws/commodity', { sub: 'late' });
    const h = await join(late, 20);
    expect(h).toEqual([own.data]);

    // Isolation: a member of another commodity gets nothing.
    expect(await framesAfter(other, (f) => f.event === 'commodity.message', 100)).toEqual([]);
    expect(a.all('commodity.message')).toHaveLength(1);
  });

  test('join returns the newest 50 of 60 messages, oldest first (history size 100 keeps all 60)', async () => {
    const before = (await server.stats()).chat.messages;
    const a = await pool.open('/ws/commodity', { sub: 'a', name: 'Alice' });
    await join(a, 30);
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push(await send(a, 30, `m${i}`));
    expect((await server.stats()).chat.messages - before).toBe(60);

    const b = await pool.open('/ws/commodity', { sub: 'b' });
    const h = await join(b, 30);
    expect(h).toHaveLength(50);
    expect(h.map((m) => m.text)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i + 10}`));
    expect(h.map((m) => m.id)).toEqual(ids.slice(10));
    for (const m of h) {
      expectChatMessage(m);
      expect(m).toMatchObject({ commodityId: 30, userId: 'a', username: 'Alice' });
    }
    const times = h.map((m) => Date.parse(m.timestamp));
    expect([...times].sort((x, y) => x - y)).toEqual(times);
  });

  test('commodity.leave answers commodity.left {commodityId}; the leaver gets no more messages', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    const b = await pool.open('/ws/commodity', { sub: 'b' });
    await join(a, 40);
    await join(b, 40);
    const left = await reply(b, 'commodity.leave', { commodityId: 40 });
    expect(left.event).toBe('commodity.left');
    expect(left.data).toEqual({ commodityId: 40 });
    await send(a, 40, 'after leave');
    await seen(a, 'commodity.message');
    expect(await framesAfter(b, (f) => f.event === 'commodity.message', 100)).toEqual([]);
  });

  test('sending without joining → UNAUTHORIZED "Unauthorized", nothing stored or delivered; after leave too', async () => {
    const member = await pool.open('/ws/commodity', { sub: 'm' });
    const stranger = await pool.open('/ws/commodity', { sub: 's' });
    await join(member, 50);
    const denied = await reply(stranger, 'commodity.message', { commodityId: 50, text: 'intrusion' });
    expectError(denied, 'UNAUTHORIZED', 'commodity.message');
    expect(denied.message).toBe('Unauthorized');

    await join(stranger, 50);
    await reply(stranger, 'commodity.leave', { commodityId: 50 });
    expectError(await reply(stranger, 'commodity.message', { commodityId: 50, text: 'again' }), 'UNAUTHORIZED', 'commodity.message');

    expect(await framesAfter(member, (f) => f.event === 'commodity.message', 100)).toEqual([]);
    const fresh = await pool.open('/ws/commodity', { sub: 'f' });
    expect(await join(fresh, 50)).toEqual([]);
  });

  test('membership is per connection: another tab of a member that has not joined → UNAUTHORIZED and gets no messages', async () => {
    const a1 = await pool.open('/ws/commodity', { sub: 'a' });
    const a2 = await pool.open('/ws/commodity', { sub: 'a' });
    await join(a1, 55);
    expectError(await reply(a2, 'commodity.message', { commodityId: 55, text: 'from tab 2' }), 'UNAUTHORIZED', 'commodity.message');
    await send(a1, 55, 'from tab 1');
    await seen(a1, 'commodity.message');
    expect(await framesAfter(a2, (f) => f.event === 'commodity.message', 100)).toEqual([]);
    expect((await join(a2, 55)).map((m) => m.text)).toEqual(['from tab 1']);
  });

  test('text with \\n and \\t is accepted; 1 and 2000 chars are accepted; 2000 three-byte chars fit the 8 KiB frame', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    await join(a, 60);
    for (const text of ['x', 'line1\nline2', 'col1\tcol2', 'y'.repeat(2000), '€'.repeat(2000)]) {
      await send(a, 60, text);
    }
    const b = await pool.open('/ws/commodity', { sub: 'b' });
    expect((await join(b, 60)).map((m) => m.text)).toEqual(['x', 'line1\nline2', 'col1\tcol2', 'y'.repeat(2000), '€'.repeat(2000)]);
  });

  test.each([
    ['empty text', ''],
    ['2001 chars', 'z'.repeat(2001)],
    ['a BEL control char \\u0007', 'ring\u0007'],
    ['a carriage return \\r', 'a\rb'],
    ['a NUL char', 'a\u0000b'],
    ['an ESC char', '\u001b[31mred'],
    ['a DEL char', 'a\u007fb'],
    ['a C1 control char \\u0085', 'a\u0085b'],
  ])('commodity.message with %s → VALIDATION_FAILED, nothing stored', async (_l, text) => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    await join(a, 70);
    const err = await reply(a, 'commodity.message', { commodityId: 70, text });
    expectError(err, 'VALIDATION_FAILED', 'commodity.message');
    expect(await framesAfter(a, (f) => f.event === 'commodity.message', 50)).toEqual([]);
    expect(await join(a, 70)).toEqual([]);
  });

  test.each([
    ['a non-string text', { commodityId: 71, text: 5 }],
    ['no text', { commodityId: 71 }],
    ['a userId field', { commodityId: 71, text: 'hi', userId: 'x' }],
    ['a username field', { commodityId: 71, text: 'hi', username: 'x' }],
  ])('finding 6: commodity.message with %s → VALIDATION_FAILED', async (_l, data) => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    await join(a, 71);
    expectError(await reply(a, 'commodity.message', data as Record<string, unknown>), 'VALIDATION_FAILED', 'commodity.message');
    expect(await join(a, 71)).toEqual([]);
  });

  test.each([
    ['"5" (a string)', '5'],
    ['0', 0],
    ['-1', -1],
    ['2147483648', 2147483648],
    ['1.5', 1.5],
    ['null', null],
    ['missing', undefined],
  ])('commodityId %s is rejected on join, message and leave (VALIDATION_FAILED)', async (_l, commodityId) => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    const data = (extra: Record<string, unknown> = {}) => ({ ...(commodityId !== undefined ? { commodityId } : {}), ...extra });
    expectError(await reply(a, 'commodity.join', data()), 'VALIDATION_FAILED', 'commodity.join');
    expectError(await reply(a, 'commodity.message', data({ text: 'x' })), 'VALIDATION_FAILED', 'commodity.message');
    expectError(await reply(a, 'commodity.leave', data()), 'VALIDATION_FAILED', 'commodity.leave');
    expect((await server.stats()).subscriptions.subscriptions).toBe(0);
  });

  test('finding 6: commodity.join with userId or username → VALIDATION_FAILED', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    expectError(await reply(a, 'commodity.join', { commodityId: 1, userId: 'a' }), 'VALIDATION_FAILED', 'commodity.join');
    expectError(await reply(a, 'commodity.join', { commodityId: 1, username: 'a' }), 'VALIDATION_FAILED', 'commodity.join');
  });

  test('finding 10: a commodity.message frame over 8 KiB → PAYLOAD_TOO_LARGE, connection stays open', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    await join(a, 80);
    const big = await reply(a, 'commodity.message', { commodityId: 80, text: 'w'.repeat(8 * 1024 + 1) });
    expectError(big, 'PAYLOAD_TOO_LARGE', 'commodity.message');
    // The cap is on raw bytes: 2100 four-byte characters are 8400 bytes.
    expectError(await reply(a, 'commodity.message', { commodityId: 80, text: '😀'.repeat(2100) }), 'PAYLOAD_TOO_LARGE', 'commodity.message');
    expect(a.socket.readyState).toBe(1);
    await send(a, 80, 'still here');
  });

  test('finding 10: a commodity.join frame over 4 KiB → PAYLOAD_TOO_LARGE', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    expectError(await reply(a, 'commodity.join', { commodityId: 1, pad: 'p'.repeat(5000) }), 'PAYLOAD_TOO_LARGE', 'commodity.join');
  });

  test('a pending connection cannot join or send: UNAUTHORIZED', async () => {
    const p = await pool.open('/ws/commodity');
    expectError(await reply(p, 'commodity.join', { commodityId: 1 }), 'UNAUTHORIZED', 'commodity.join');
    expectError(await reply(p, 'commodity.message', { commodityId: 1, text: 'x' }), 'UNAUTHORIZED', 'commodity.message');
  });

  test('findings 7/8: rooms are removed when the last member leaves or disconnects (history stays)', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    const b = await pool.open('/ws/commodity', { sub: 'b' });
    await join(a, 90);
    await join(b, 90);
    await join(b, 91);
    expect((await server.stats()).subscriptions).toEqual({ topics: 2, subscriptions: 3, connections: 2 });
    await send(b, 91, 'kept');
    b.socket.terminate();
    await reply(a, 'commodity.leave', { commodityId: 90 });
    await eventually(async () => (await server.stats()).connections.connections === 1);
    expect((await server.stats()).subscriptions).toEqual({ topics: 0, subscriptions: 0, connections: 0 });
    expect((await join(a, 91)).map((m) => m.text)).toEqual(['kept']);
  });
});

describe('finding 8: history bounded by count (chatHistorySize 5) and LRU (chatHistoryMaxCommodities 2)', () => {
  let server: ServerHandle;
  const pool = new ClientPool(() => server);
  beforeAll(async () => {
    server = await startServer({ options: { ...FAST, chatHistorySize: 5, chatHistoryMaxCommodities: 2 } });
  });
  afterEach(async () => {
    await pool.closeAll();
  });
  afterAll(async () => {
    await server.stop();
  });

  test('finding 8: chatHistorySize 5 keeps the newest 5 messages; join returns them oldest first', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    await join(a, 1);
    for (let i = 0; i < 12; i++) await send(a, 1, `m${i}`);
    expect((await server.stats()).chat).toMatchObject({ commodities: 1, messages: 5 });
    const b = await pool.open('/ws/commodity', { sub: 'b' });
    expect((await join(b, 1)).map((m) => m.text)).toEqual(['m7', 'm8', 'm9', 'm10', 'm11']);
  });

  test('finding 8: with chatHistoryMaxCommodities 2 the least recently used commodity history is evicted', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    // Join first, while none of these has history, so joining touches nothing.
    for (const id of [11, 12, 13, 14]) expect(await join(a, id)).toEqual([]);
    await send(a, 11, 'a1');
    await send(a, 12, 'b1');
    expect((await server.stats()).chat.commodities).toBe(2);
    await send(a, 11, 'a2'); // 11 is now the most recently used
    await send(a, 13, 'c1'); // evicts 12, the least recently used
    expect((await server.stats()).chat).toMatchObject({ commodities: 2, messages: 3 });
    const probe = await pool.open('/ws/commodity', { sub: 'probe' });
    expect(await join(probe, 12)).toEqual([]);
    await send(a, 14, 'd1'); // evicts 11 now the oldest (13 was used after it)
    expect((await server.stats()).chat).toMatchObject({ commodities: 2, messages: 2 });
    expect(await join(probe, 11)).toEqual([]);
    expect((await join(probe, 13)).map((m) => m.text)).toEqual(['c1']);
    expect((await join(probe, 14)).map((m) => m.text)).toEqual(['d1']);
  });
});

describe('finding 8: history TTL (chatHistoryTtlMs 1000)', () => {
  let server: ServerHandle;
  const pool = new ClientPool(() => server);
  beforeAll(async () => {
    server = await startServer({ options: { ...FAST, chatHistoryTtlMs: 1000 } });
  });
  afterEach(async () => {
    await pool.closeAll();
  });
  afterAll(async () => {
    await server.stop();
  });

  test('finding 8: expired history is swept: stats().chat back to 0 without any read, and join then returns []', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    await join(a, 5);
    const t0 = Date.now();
    for (const t of ['x', 'y', 'z']) await send(a, 5, t);
    const b = await pool.open('/ws/commodity', { sub: 'b' });
    expect((await join(b, 5)).map((m) => m.text)).toEqual(['x', 'y', 'z']);
    expect((await server.stats()).chat).toMatchObject({ commodities: 1, messages: 3 });
    // Only stats from here on (no join/recent): the sweeper alone must empty the store.
    await eventually(async () => {
      const chat = (await server.stats()).chat;
      return chat.commodities === 0 && chat.messages === 0;
    }, 4000, 50);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const c = await pool.open('/ws/commodity', { sub: 'c' });
    expect(await join(c, 5)).toEqual([]);
  });

  test('finding 8: TTL applies per message: an older message expires before a newer one', async () => {
    const a = await pool.open('/ws/commodity', { sub: 'a' });
    await join(a, 6);
    await send(a, 6, 'old');
    await sleep(600);
    await send(a, 6, 'new');
    const seenStates: string[] = [];
    await eventually(async () => {
      const texts = (await join(a, 6)).map((m) => m.text).join(',');
      if (seenStates.at(-1) !== texts) seenStates.push(texts);
      return texts === '';
    }, 4000, 50);
    expect(seenStates).toEqual(['old,new', 'new', '']);
  });
});

describe('R1: chat budgets (docs/protocol.md §11): per-user message rate over all connections, distinct-user cap per commodity', () => {
  let server: ServerHandle;
  const pool = new ClientPool(() => server);
  beforeAll(async () => {
    // Connection rates fast, the chat rate at its contract defaults (2/s, bursts of 10).
    server = await startServer({ options: { rateBurst: 2000, ratePerSec: 2000, maxRoomMembers: 3 } });
  });
  afterEach(async () => {
    await pool.closeAll();
  });
  afterAll(async () => {
    await server.stop();
  });

  test('R1: commodity.message per user over all their connections: bursts of WS_CHAT_RATE_BURST (10), then RATE_LIMITED with retryAfterMs; other users unaffected', async () => {
    const tabs = await Promise.all([1, 2, 3, 4].map(() => pool.open('/ws/commodity', { sub: 'chatty' })));
    const other = await pool.open('/ws/commodity', { sub: 'quiet' });
    for (const t of [...tabs, other]) await join(t, 91);
    // 20 messages spread over 4 connections at once: the user's burst of 10 passes, the rest is refused.
    for (let i = 0; i < 20; i += 1) tabs[i % 4]!.send({ event: 'commodity.message', data: { commodityId: 91, text: `m${i}` }, id: `c${i}` });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => seen(tabs[i % 4]!, (f) => f.id === `c${i}`)));
    const sent = answers.filter((f) => f.event === 'commodity.sent');
    const limited = answers.filter((f) => f.event === 'error');
    expect(sent).toHaveLength(10);
    expect(limited).toHaveLength(10);
    for (const f of limited) {
      expectError(f, 'RATE_LIMITED', 'commodity.message');
      expect(f.retryAfterMs as number).toBeGreaterThan(0);
      expect(f.retryAfterMs as number).toBeLessThanOrEqual(500);
    }
    // Another user still chats; the refused messages were never stored.
    await send(other, 91, 'still here');
    const fresh = await pool.open('/ws/commodity', { sub: 'reader' });
    const h = await join(fresh, 91);
    expect(h).toHaveLength(11);
    expect(h.filter((m) => m.userId === 'chatty')).toHaveLength(10);
    // After retryAfterMs (2/s), one more message passes.
    await sleep(Math.max(...limited.map((f) => f.retryAfterMs as number)) + 20);
    await send(tabs[0]!, 91, 'after the wait');
    expect((await server.stats()).commodity.rateLimitedUsers).toBeGreaterThanOrEqual(1);
  });

  test('R1: per-user chat rate state is dropped once idle (finding 24): the map holds no entry for users that stopped chatting', async () => {
    const c = await pool.open('/ws/commodity', { sub: 'idle-chatter' });
    await join(c, 92);
    await send(c, 92, 'one');
    // Refill time of an empty bucket: 10 / 2 per s = 5 s; the next chat message from anyone sweeps idle entries.
    await sleep(5200);
    const d = await pool.open('/ws/commodity', { sub: 'sweeper' });
    await join(d, 92);
    await send(d, 92, 'two');
    expect((await server.stats()).commodity.rateLimitedUsers).toBe(1);
  }, 15_000);

  test('R1: at most WS_MAX_ROOM_MEMBERS distinct users per commodity → LIMIT_EXCEEDED; more connections of a member take no place; a freed place can be taken', async () => {
    const [a1, a2, b, c, d] = await Promise.all(['a', 'a', 'b', 'c', 'd'].map((sub) => pool.open('/ws/commodity', { sub })));
    for (const m of [a1!, a2!, b!, c!]) await join(m, 93);
    const refused = await reply(d!, 'commodity.join', { commodityId: 93 });
    expectError(refused, 'LIMIT_EXCEEDED', 'commodity.join');
    expectError(await reply(d!, 'commodity.message', { commodityId: 93, text: 'let me in' }), 'UNAUTHORIZED', 'commodity.message');
    // a's two tabs count once: one leaves, a is still a member and d is still refused.
    await reply(a1!, 'commodity.leave', { commodityId: 93 });
    expectError(await reply(d!, 'commodity.join', { commodityId: 93 }), 'LIMIT_EXCEEDED', 'commodity.join');
    // c disconnects: its place is free.
    c!.socket.terminate();
    await c!.closed;
    await eventually(async () => (await reply(d!, 'commodity.join', { commodityId: 93 })).event === 'commodity.joined');
    expect((await server.stats()).commodity.commodities).toBe(1);
  });
});
