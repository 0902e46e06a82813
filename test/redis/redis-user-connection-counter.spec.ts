/** Cluster-wide per-user connection cap as leases in Redis (issue 5, finding 12), on a standalone Redis and on a Cluster. */
import { jest } from '@jest/globals';
import { LEASE_BUCKETS, RedisUserConnectionCounter } from '../../src/redis/redis-user-connection-counter.js';
import { connectKind, deleteKeysOf, keysOf, REDIS_KINDS, type TestKeyspace } from './redis-kinds.js';
import { eventually, sleep } from './redis-helpers.js';

const TTL = 1000;

describe.each(REDIS_KINDS)('on %s Redis', (kind) => {
  let conn: TestKeyspace;
  const counters: RedisUserConnectionCounter[] = [];

  function counter(nodeId: string): RedisUserConnectionCounter {
    const c = new RedisUserConnectionCounter({ connection: conn, nodeId, leaseTtlMs: TTL });
    counters.push(c);
    return c;
  }

  beforeAll(async () => {
    conn = await connectKind(kind);
  });

  afterEach(() => {
    for (const c of counters.splice(0)) c.close();
  });

  afterAll(async () => {
    await deleteKeysOf(conn);
    await conn.close();
  });

  test('the cap holds across two nodes sharing Redis', async () => {
    const a = counter('a1');
    const b = counter('b1');
    expect(await a.acquire('u1', 3)).toBeDefined();
    expect(await b.acquire('u1', 3)).toBeDefined();
    expect(await a.acquire('u1', 3)).toBeDefined();
    expect(await b.acquire('u1', 3)).toBeUndefined();
    expect(await a.acquire('u1', 3)).toBeUndefined();
    expect(await a.acquire('other', 3)).toBeDefined();
    expect(a.localUsers()).toBe(2);
    expect(b.localUsers()).toBe(1);
  });

  test('concurrent acquires never overshoot the cap (atomic script)', async () => {
    const a = counter('a2');
    const b = counter('b2');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquire('u2', 5)));
    expect(results.filter((r) => r !== undefined)).toHaveLength(5);
    expect(await conn.command.zcard(counters[0]!.key('u2'))).toBe(5);
  });

  test('release frees the slot at once, on any node; the key goes with the last lease', async () => {
    const a = counter('a3');
    const b = counter('b3');
    const lease = await a.acquire('u3', 1);
    expect(lease).toBeDefined();
    expect(await b.acquire('u3', 1)).toBeUndefined();
    a.release('u3', lease!);
    expect(a.localUsers()).toBe(0);
    const leaseB = await b.acquire('u3', 1);
    expect(leaseB).toBeDefined();
    b.release('u3', leaseB!);
    await eventually(async () => expect(await keysOf(conn)).not.toContain(a.key('u3')));
    // Releasing twice or an unknown lease is harmless.
    b.release('u3', leaseB!);
    b.release('nobody', '42');
  });

  test('renewal keeps leases alive well past the TTL', async () => {
    const a = counter('a4');
    const b = counter('b4');
    expect(await a.acquire('u4', 1)).toBeDefined();
    await sleep(TTL * 2.5);
    expect(await b.acquire('u4', 1)).toBeUndefined();
  });

  test('a node that stops renewing (died without releasing) frees its slots within the TTL', async () => {
    const dead = counter('dead5');
    const b = counter('b5');
    expect(await dead.acquire('u5', 2)).toBeDefined();
    expect(await dead.acquire('u5', 2)).toBeDefined();
    dead.close();
    const stoppedAt = Date.now();
    expect(await b.acquire('u5', 2)).toBeUndefined();
    // The dead node's two leases were taken a moment apart and expire a moment apart.
    for (let slot = 0; slot < 2; slot += 1) {
      await eventually(async () => expect(await b.acquire('u5', 2)).toBeDefined(), TTL * 2);
    }
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(TTL + 400);
    expect(await b.acquire('u5', 2)).toBeUndefined();
  });

  test('renewal puts back leases Redis lost (e.g. restarted empty)', async () => {
    const a = counter('a6');
    expect(await a.acquire('u6', 2)).toBeDefined();
    await conn.command.del(a.key('u6'));
    await a.renew();
    expect(await conn.command.zcard(a.key('u6'))).toBe(1);
    const ttl = await conn.command.pttl(a.key('u6'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(TTL);
  });

  test('a max below 1 takes nothing', async () => {
    expect(await counter('a7').acquire('u7', 0)).toBeUndefined();
  });

  test('a renewal of many users is one script call per bucket, every key of a call in one slot', async () => {
    const a = counter('a8');
    for (let i = 0; i < 600; i += 1) expect(await a.acquire(`many${i}`, 1)).toBeDefined();
    const samples = [0, 299, 599].map((i) => a.key(`many${i}`));
    for (const key of samples) await conn.command.del(key);
    const run = jest.spyOn(conn.command, 'evalsha');
    try {
      await a.renew();
      expect(run.mock.calls.length).toBeLessThanOrEqual(LEASE_BUCKETS);
      expect(run.mock.calls.length).toBeGreaterThan(1);
    } finally {
      run.mockRestore();
    }
    // Renewed, not just called: the leases Redis lost are back.
    for (const key of samples) expect(await conn.command.zcard(key)).toBe(1);
  });
});
