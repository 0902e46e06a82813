import { LruMap } from '../common/lru-map.js';
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

/** Entries kept at most, per kind; oldest revocations are dropped first past this. */
export const MAX_REVOCATIONS = 100_000;

interface UserRevocation {
  readonly at: number;
  readonly until: number;
}

/** Single-node revocation store with bounded memory. */
export class InMemoryRevocationStore implements RevocationStore {
  private readonly tokens = new LruMap<string, number>(MAX_REVOCATIONS);
  private readonly users = new LruMap<string, UserRevocation>(MAX_REVOCATIONS);

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.tokens.size + this.users.size;
  }

  async revokeToken(jti: string, until: number): Promise<void> {
    this.tokens.set(jti, Math.max(until, this.tokens.peek(jti) ?? 0));
  }

  async revokeUser(userId: string, at: number, until: number): Promise<void> {
    const previous = this.users.peek(userId);
    this.users.set(userId, {
      at: Math.max(at, previous?.at ?? 0),
      until: Math.max(until, previous?.until ?? 0),
    });
  }

  async isRevoked(identity: Pick<Identity, 'userId' | 'jti' | 'issuedAt'>): Promise<boolean> {
    const now = this.now();
    if (identity.jti !== undefined) {
      const until = this.tokens.peek(identity.jti);
      if (until !== undefined) {
        if (until > now) return true;
        this.tokens.delete(identity.jti);
      }
    }
    const user = this.users.peek(identity.userId);
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
}
