import { InMemoryRevocationStore, MAX_REVOCATIONS, RevocationCapacityError } from '../../src/auth/revocation-store.js';

const HOUR = 3_600_000;

describe('InMemoryRevocationStore', () => {
  let now: number;
  let store: InMemoryRevocationStore;

  beforeEach(() => {
    now = 1_700_000_000_000;
    store = new InMemoryRevocationStore(() => now);
  });

  describe('token ids', () => {
    it('a revoked jti is revoked until its expiry, then forgotten', async () => {
      await store.revokeToken('j1', now + HOUR);
      expect(await store.isRevoked({ userId: 'u1', jti: 'j1' })).toBe(true);
      now += HOUR - 1;
      expect(await store.isRevoked({ userId: 'u1', jti: 'j1' })).toBe(true);
      now += 1;
      expect(await store.isRevoked({ userId: 'u1', jti: 'j1' })).toBe(false);
      expect(store.size).toBe(0);
    });

    it('applies to the jti whatever the user and iat', async () => {
      await store.revokeToken('j1', now + HOUR);
      expect(await store.isRevoked({ userId: 'someone-else', jti: 'j1', issuedAt: now / 1000 + 10 })).toBe(true);
    });

    it('does not affect other token ids or tokens without a jti', async () => {
      await store.revokeToken('j1', now + HOUR);
      expect(await store.isRevoked({ userId: 'u1', jti: 'j2' })).toBe(false);
      expect(await store.isRevoked({ userId: 'u1' })).toBe(false);
    });

    it('revoking again never shortens the expiry', async () => {
      await store.revokeToken('j1', now + 2 * HOUR);
      await store.revokeToken('j1', now + HOUR);
      now += HOUR + 1;
      expect(await store.isRevoked({ userId: 'u1', jti: 'j1' })).toBe(true);
      expect(store.size).toBe(1);
    });
  });

  describe('users', () => {
    it('revokes the user\'s tokens issued at or before the revocation time', async () => {
      const at = now;
      await store.revokeUser('u1', at, now + HOUR);
      const iatSec = Math.floor(at / 1000);
      expect(await store.isRevoked({ userId: 'u1', issuedAt: iatSec - 60 })).toBe(true);
      expect(await store.isRevoked({ userId: 'u1', issuedAt: at / 1000 })).toBe(true);
    });

    it('revokes the user\'s tokens that carry no iat', async () => {
      await store.revokeUser('u1', now, now + HOUR);
      expect(await store.isRevoked({ userId: 'u1' })).toBe(true);
      expect(await store.isRevoked({ userId: 'u1', jti: 'j9' })).toBe(true);
    });

    it('does not revoke tokens issued after the revocation', async () => {
      const at = now;
      await store.revokeUser('u1', at, now + HOUR);
      expect(await store.isRevoked({ userId: 'u1', issuedAt: at / 1000 + 1 })).toBe(false);
    });

    it('compares iat in seconds with the revocation time in milliseconds', async () => {
      // Revoked at 1_700_000_000_500 ms; a token with iat 1_700_000_000 s was issued before it.
      await store.revokeUser('u1', 1_700_000_000_500, now + HOUR);
      expect(await store.isRevoked({ userId: 'u1', issuedAt: 1_700_000_000 })).toBe(true);
      expect(await store.isRevoked({ userId: 'u1', issuedAt: 1_700_000_001 })).toBe(false);
    });

    it('does not affect other users', async () => {
      await store.revokeUser('u1', now, now + HOUR);
      expect(await store.isRevoked({ userId: 'u2', issuedAt: now / 1000 - 60 })).toBe(false);
      expect(await store.isRevoked({ userId: 'u2' })).toBe(false);
    });

    it('the entry expires at `until` and is then forgotten', async () => {
      await store.revokeUser('u1', now, now + HOUR);
      now += HOUR - 1;
      expect(await store.isRevoked({ userId: 'u1' })).toBe(true);
      now += 1;
      expect(await store.isRevoked({ userId: 'u1' })).toBe(false);
      expect(store.size).toBe(0);
    });

    it('revoking again keeps the later revocation time and the later expiry', async () => {
      const first = now;
      await store.revokeUser('u1', first + 10_000, first + 2 * HOUR);
      await store.revokeUser('u1', first, first + HOUR);
      expect(await store.isRevoked({ userId: 'u1', issuedAt: (first + 5_000) / 1000 })).toBe(true);
      now = first + HOUR + 1;
      expect(await store.isRevoked({ userId: 'u1' })).toBe(true);
    });

    it('a later revocation also covers tokens issued between the two', async () => {
      const first = now;
      await store.revokeUser('u1', first, first + HOUR);
      await store.revokeUser('u1', first + 60_000, first + HOUR);
      expect(await store.isRevoked({ userId: 'u1', issuedAt: (first + 30_000) / 1000 })).toBe(true);
      expect(await store.isRevoked({ userId: 'u1', issuedAt: (first + 90_000) / 1000 })).toBe(false);
    });
  });

  it('a token revoked by jti stays revoked even when the user revocation does not cover it', async () => {
    await store.revokeUser('u1', now - 60_000, now + HOUR);
    await store.revokeToken('j1', now + HOUR);
    expect(await store.isRevoked({ userId: 'u1', jti: 'j1', issuedAt: now / 1000 })).toBe(true);
  });

  it('an expired jti entry does not hide a live user revocation', async () => {
    await store.revokeToken('j1', now + 1_000);
    await store.revokeUser('u1', now, now + HOUR);
    now += 2_000;
    expect(await store.isRevoked({ userId: 'u1', jti: 'j1' })).toBe(true);
  });

  // Finding R8 replaces the old "drops the oldest first" bound: a dropped revocation would
  // un-revoke a token that is still valid. Past the bound the store now refuses, loudly.
  it(`R8: never drops a live revocation: past MAX_REVOCATIONS (${MAX_REVOCATIONS}) per kind it refuses the new one and reports it`, async () => {
    const full: RevocationCapacityError[] = [];
    store = new InMemoryRevocationStore(() => now, (error) => full.push(error));
    const until = now + HOUR;
    for (let i = 0; i < MAX_REVOCATIONS; i += 1) {
      await store.revokeToken(`j${i}`, until);
      await store.revokeUser(`u${i}`, now, until);
    }
    await expect(store.revokeToken('j-extra', until)).rejects.toBeInstanceOf(RevocationCapacityError);
    await expect(store.revokeUser('u-extra', now, until)).rejects.toBeInstanceOf(RevocationCapacityError);
    expect(full.map((e) => e.kind)).toEqual(['token', 'user']);
    expect(store.size).toBe(2 * MAX_REVOCATIONS);
    // Every live one is still remembered, the first ones included.
    expect(await store.isRevoked({ userId: 'nobody', jti: 'j0' })).toBe(true);
    expect(await store.isRevoked({ userId: 'u0' })).toBe(true);
    // Extending one that is already there is not a new entry.
    await store.revokeToken('j0', until + HOUR);
    // Once entries expire, their room is reclaimed for new revocations.
    now = until + 1;
    await store.revokeToken('j-after', now + HOUR);
    expect(await store.isRevoked({ userId: 'nobody', jti: 'j-after' })).toBe(true);
    expect(await store.isRevoked({ userId: 'nobody', jti: 'j0' })).toBe(true);
    expect(await store.isRevoked({ userId: 'nobody', jti: 'j1' })).toBe(false);
  });
});
