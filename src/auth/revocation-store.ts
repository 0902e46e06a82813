import type { Identity } from './identity.js';

/**
 * Where revoked token ids and users are remembered. Replace it through the
 * `REVOCATION_STORE` token (e.g. with a shared store for many nodes).
 */
export interface RevocationStore {
  /** Revokes one token id until `until` (epoch ms). */
  revokeToken(jti: string, until: number): Promise<void>;
  /** Revokes every token of `userId` issued at or before `at` (epoch ms), remembered until `until`. */
  revokeUser(userId: string, at: number, until: number): Promise<void>;
  isRevoked(identity: Pick<Identity, 'userId' | 'jti' | 'issuedAt'>): Promise<boolean>;
}

export const REVOCATION_STORE = Symbol('REVOCATION_STORE');

/**
 * Live revocations kept at most, per kind. Past it the store refuses new ones (never drops a
 * live one: a forgotten revocation would un-revoke a token that is still valid, finding R8).
 */
export const MAX_REVOCATIONS = 100_000;
/** A full store looks for expired entries to reclaim at most this often. */
const RECLAIM_INTERVAL_MS = 1_000;

/** The store is full of live revocations: this one was NOT recorded (HTTP 503; the caller retries). */
export class RevocationCapacityError extends Error {
  override name = 'RevocationCapacityError';

  constructor(readonly kind: 'token' | 'user') {
    super(`revocation store full: ${MAX_REVOCATIONS} live ${kind} revocations`);
  }
}

interface UserRevocation {
  readonly at: number;
  readonly until: number;
}

/**
 * Single-node revocation store with bounded memory: entries live until their TTL, and past
 * MAX_REVOCATIONS live entries of a kind a new one is refused with RevocationCapacityError
 * (reported through `onFull`, a log line at error level) instead of silently evicting one.
 * A fleet that revokes more than that per REVOCATION_TTL_MS uses the Redis store.
 */
export class InMemoryRevocationStore implements RevocationStore {
  private readonly tokens = new Map<string, number>();
  private readonly users = new Map<string, UserRevocation>();
  private lastReclaim = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly onFull: (error: RevocationCapacityError) => void = () => undefined,
  ) {}

  get size(): number {
    return this.tokens.size + this.users.size;
  }

  async revokeToken(jti: string, until: number): Promise<void> {
    const previous = this.tokens.get(jti);
    if (previous === undefined) this.ensureRoom(this.tokens, 'token');
    this.tokens.set(jti, Math.max(until, previous ?? 0));
  }

  async revokeUser(userId: string, at: number, until: number): Promise<void> {
    const previous = this.users.get(userId);
    if (previous === undefined) this.ensureRoom(this.users, 'user');
    this.users.set(userId, {
      at: Math.max(at, previous?.at ?? 0),
      until: Math.max(until, previous?.until ?? 0),
    });
  }

  async isRevoked(identity: Pick<Identity, 'userId' | 'jti' | 'issuedAt'>): Promise<boolean> {
    const now = this.now();
    if (identity.jti !== undefined) {
      const until = this.tokens.get(identity.jti);
      if (until !== undefined) {
        if (until > now) return true;
        this.tokens.delete(identity.jti);
      }
    }
    const user = this.users.get(identity.userId);
    if (user !== undefined) {
      if (user.until <= now) {
        this.users.delete(identity.userId);
        return false;
      }
      // A token without iat cannot prove it was issued after the revocation.
      return identity.issuedAt === undefined || identity.issuedAt * 1000 <= user.at;
    }
    return false;
  }

  /** Reclaims expired entries of a full map (rate-limited: a walk is O(n)), else refuses. */
  private ensureRoom(map: Map<string, number | UserRevocation>, kind: 'token' | 'user'): void {
    if (map.size < MAX_REVOCATIONS) return;
    const now = this.now();
    if (now - this.lastReclaim >= RECLAIM_INTERVAL_MS) {
      this.lastReclaim = now;
      for (const store of [this.tokens, this.users] as Array<Map<string, number | UserRevocation>>) {
        for (const [key, value] of store) {
          if ((typeof value === 'number' ? value : value.until) <= now) store.delete(key);
        }
      }
    }
    if (map.size < MAX_REVOCATIONS) return;
    const error = new RevocationCapacityError(kind);
    this.onFull(error);
    throw error;
  }
}
