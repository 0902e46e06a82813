/**
 * Finding R1 across nodes (docs/protocol.md §11): the per-user chat rate and the commodity
 * distinct-user cap are counted in Redis, so two nodes share one budget, on a standalone Redis
 * and on a Cluster.
 */
import { RedisChatRateLimiter } from '../../src/redis/redis-chat-rate-limiter.js';
import { RedisRoomPresenceStore } from '../../src/redis/redis-room-presence.store.js';
import { eventually, sleep } from './redis-helpers.js';
import { keysOf, keyspacePair, REDIS_KINDS, type TestKeyspace } from './redis-kinds.js';

describe.each(REDIS_KINDS)('on %s Redis', (kind) => {
  const stores: RedisRoomPresenceStore[] = [];
  const nodes = keyspacePair(kind, () => stores.forEach((s) => s.close()));

  test('two nodes take from one bucket per user: the burst passes once in all, then the rate, with the wait until the next token', async () => {
    const { a: connA, b: connB } = nodes;
    const a = new RedisChatRateLimiter({ connection: connA, perSec: 2, burst: 10 });
    const b = new RedisChatRateLimiter({ connection: connB, perSec: 2, burst: 10 });
    const waits = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).take('chatty')));
    expect(waits.filter((w) => w === 0)).toHaveLength(10);
    for (const w of waits.filter((w) => w > 0)) {
      expect(w).toBeGreaterThan(0);
      expect(w).toBeLessThanOrEqual(500);
    }
    // Another user has a bucket of their own.
    expect(await b.take('quiet')).toBe(0);
    await sleep(Math.max(...waits) + 20);
    expect(await a.take('chatty')).toBe(0);
    expect(await b.take('chatty')).toBeGreaterThan(0);
    expect(a.localUsers()).toBe(0);
  });

  test('a bucket key expires once it would be full again: idle users cost Redis nothing', async () => {
    const connA = nodes.a;
    const a = new RedisChatRateLimiter({ connection: connA, perSec: 20, burst: 2 });
    expect(await a.take('brief')).toBe(0);
    const keys = (await keysOf(connA)).filter((k) => k.endsWith(':brief'));
    expect(keys).toHaveLength(1);
    // Refill of 2 tokens at 20/s: 100 ms, plus the one-second margin.
    expect(await connA.command.pttl(keys[0]!)).toBeLessThanOrEqual(1100);
    await eventually(async () => expect((await keysOf(connA)).filter((k) => k.endsWith(':brief'))).toEqual([]), 2000);
    expect(await a.take('brief')).toBe(0);
  });

  test('the commodity member cap counts distinct users over both nodes; a dead node frees its places', async () => {
    const store = (connection: TestKeyspace, nodeId: string) => {
      const s = new RedisRoomPresenceStore({ connection, nodeId, livenessTtlMs: 600, kind: 'commodity', listMembers: false });
      stores.push(s);
      return s;
    };
    const { a: connA, b: connB } = nodes;
    const a = store(connA, 'ca');
    const b = store(connB, 'cb');
    const user = (i: number) => ({ userId: `u${i}`, username: '' });
    for (let i = 0; i < 3; i += 1) expect(await a.join('7', `a${i}`, user(i), 5)).toEqual({ joined: true, firstOfUser: true, members: [] });
    for (let i = 3; i < 5; i += 1) expect((await b.join('7', `b${i}`, user(i), 5)).joined).toBe(true);
    expect(await b.join('7', 'b5', user(5), 5)).toEqual({ joined: false, full: 'room' });
    expect(await a.join('7', 'a6', user(6), 5)).toEqual({ joined: false, full: 'room' });
    // A member's other connection, on the other node, takes no place.
    expect((await b.join('7', 'b0', user(0), 5)).joined).toBe(true);
    // Its keys are the commodity's own, beside no collaboration room.
    expect((await keysOf(connA)).filter((k) => k.includes('{commodity:7}'))).toHaveLength(3);
    a.close(); // node A dies: u1, u2 leave with it (u0 is still there through node B)
    await eventually(async () => expect((await b.join('7', 'b6', user(6), 5)).joined).toBe(true), 3000);
    expect((await b.join('7', 'b7', user(7), 5)).joined).toBe(true);
    expect(await b.join('7', 'b8', user(8), 5)).toEqual({ joined: false, full: 'room' });
  });
});
