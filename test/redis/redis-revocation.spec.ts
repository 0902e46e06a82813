/** Revocations shared across nodes, with InMemoryRevocationStore's semantics (issue 5), on a standalone Redis and on a Cluster. */
import { RedisRevocationStore } from '../../src/redis/redis-revocation.store.js';
import { sleep } from './redis-helpers.js';
import { keysOf, keyspacePair, REDIS_KINDS, type TestKeyspace } from './redis-kinds.js';

describe.each(REDIS_KINDS)('on %s Redis', (kind) => {
  let connA: TestKeyspace;
  let connB: TestKeyspace;
  let a: RedisRevocationStore;
  let b: RedisRevocationStore;
  const nodes = keyspacePair(kind);

  beforeAll(() => {
    ({ a: connA, b: connB } = nodes);
    a = new RedisRevocationStore({ connection: connA });
    b = new RedisRevocationStore({ connection: connB });
  });

  test('a token revoked on one node is revoked on the other, until `until`', async () => {
    await a.revokeToken('j1', Date.now() + 60_000);
    expect(await b.isRevoked({ userId: 'u1', jti: 'j1' })).toBe(true);
    expect(await b.isRevoked({ userId: 'u1', jti: 'j2' })).toBe(false);
    expect(await b.isRevoked({ userId: 'u1' })).toBe(false);
  });

  test('a token revocation ends at `until` and its key expires with it', async () => {
    await a.revokeToken('j3', Date.now() + 200);
    expect(await b.isRevoked({ userId: 'u', jti: 'j3' })).toBe(true);
    await sleep(300);
    expect(await b.isRevoked({ userId: 'u', jti: 'j3' })).toBe(false);
    expect(await keysOf(connA)).not.toContain(`${connA.prefix}revoked:jti:j3`);
    await a.revokeToken('j4', Date.now() - 1);
    expect(await b.isRevoked({ userId: 'u', jti: 'j4' })).toBe(false);
  });

  test('a second, shorter token revocation does not shorten the first', async () => {
    const base = Date.now();
    await a.revokeToken('j5', base + 60_000);
    await b.revokeToken('j5', base + 1_000);
    const later = new RedisRevocationStore({ connection: connB, now: () => base + 5_000 });
    expect(await later.isRevoked({ userId: 'u', jti: 'j5' })).toBe(true);
    expect(await connA.command.pttl(`${connA.prefix}revoked:jti:j5`)).toBeGreaterThan(50_000);
  });

  test('a user revocation covers tokens issued at or before `at`, and tokens without iat', async () => {
    const at = Math.floor(Date.now() / 1000) * 1000;
    await a.revokeUser('u2', at, Date.now() + 60_000);
    expect(await b.isRevoked({ userId: 'u2', issuedAt: at / 1000 - 1 })).toBe(true);
    expect(await b.isRevoked({ userId: 'u2', issuedAt: at / 1000 })).toBe(true);
    expect(await b.isRevoked({ userId: 'u2', issuedAt: at / 1000 + 1 })).toBe(false);
    expect(await b.isRevoked({ userId: 'u2' })).toBe(true);
    expect(await b.isRevoked({ userId: 'u3' })).toBe(false);
  });

  test('user revocations merge: the later `at` and the later `until` win', async () => {
    const at = Math.floor(Date.now() / 1000) * 1000;
    await a.revokeUser('u4', at, Date.now() + 60_000);
    await b.revokeUser('u4', at - 10_000, Date.now() + 1_000);
    expect(await a.isRevoked({ userId: 'u4', issuedAt: at / 1000 })).toBe(true);
    expect(await connA.command.pttl(`${connA.prefix}revoked:user:u4`)).toBeGreaterThan(50_000);
    await b.revokeUser('u4', at + 5_000, Date.now() + 1_000);
    expect(await a.isRevoked({ userId: 'u4', issuedAt: at / 1000 + 5 })).toBe(true);
    expect(await a.isRevoked({ userId: 'u4', issuedAt: at / 1000 + 6 })).toBe(false);
  });

  test('a user revocation ends at `until`', async () => {
    await a.revokeUser('u5', Date.now(), Date.now() + 200);
    expect(await b.isRevoked({ userId: 'u5' })).toBe(true);
    await sleep(300);
    expect(await b.isRevoked({ userId: 'u5' })).toBe(false);
    const base = Date.now();
    await a.revokeUser('u6', base, base + 60_000);
    const later = new RedisRevocationStore({ connection: connB, now: () => base + 60_000 });
    expect(await later.isRevoked({ userId: 'u6' })).toBe(false);
  });

  test('a token revoked by jti is revoked whatever its user', async () => {
    await a.revokeToken('j7', Date.now() + 60_000);
    await a.revokeUser('u7', Date.now(), Date.now() + 60_000);
    expect(await b.isRevoked({ userId: 'someone', jti: 'j7', issuedAt: Date.now() / 1000 + 100 })).toBe(true);
    expect(await b.isRevoked({ userId: 'u7', jti: 'other', issuedAt: Date.now() / 1000 + 100 })).toBe(false);
    expect(await b.isRevoked({ userId: 'u7', jti: 'other', issuedAt: Date.now() / 1000 - 100 })).toBe(true);
  });

  test('a token and a user revocation in different slots are both checked in one call', async () => {
    // jti and user keys hash to different slots (on a Cluster often to different masters).
    await a.revokeUser('u8', Date.now(), Date.now() + 60_000);
    for (let i = 0; i < 20; i += 1) {
      expect(await b.isRevoked({ userId: 'u8', jti: `slot${i}`, issuedAt: Date.now() / 1000 - 100 })).toBe(true);
      expect(await b.isRevoked({ userId: `free${i}`, jti: `slot${i}` })).toBe(false);
    }
  });
});
