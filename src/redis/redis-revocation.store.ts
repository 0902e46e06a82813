import type { Identity } from '../auth/identity.js';
import type { RevocationStore } from '../auth/revocation-store.js';
import { LuaScript } from './lua-script.js';
import type { RedisKeyspace } from './redis-keyspace.js';

export interface RedisRevocationOptions {
  readonly connection: RedisKeyspace;
  readonly now?: () => number;
}

/** Keeps the later `until` of two revocations of one token. KEYS[1] revoked:jti:<jti>; ARGV[1] until. */
const REVOKE_TOKEN = new LuaScript(`
local till = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if till <= current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1])
return 1
`);

/**
 * Merges a user revocation with any earlier one: the later `at` and the later `until`.
 * KEYS[1] revoked:user:<userId>; ARGV: at, until.
 */
const REVOKE_USER = new LuaScript(`
local old = redis.call('HMGET', KEYS[1], 'at', 'until')
local at = math.max(tonumber(ARGV[1]), tonumber(old[1] or '0'))
local till = math.max(tonumber(ARGV[2]), tonumber(old[2] or '0'))
redis.call('HSET', KEYS[1], 'at', string.format('%d', at), 'until', string.format('%d', till))
redis.call('PEXPIREAT', KEYS[1], string.format('%d', till))
return 1
`);

/**
 * Revocations shared by every node, with the semantics of InMemoryRevocationStore.
 * Redis expires entries at `until` (PXAT), so memory stays bounded by the revocations
 * still in force; `isRevoked` also compares `until` with our clock, like the in-memory store.
 */
export class RedisRevocationStore implements RevocationStore {
  private readonly now: () => number;

  constructor(private readonly options: RedisRevocationOptions) {
    this.now = options.now ?? Date.now;
  }

  async revokeToken(jti: string, until: number): Promise<void> {
    await REVOKE_TOKEN.run(this.options.connection.command, [this.tokenKey(jti)], [Math.floor(until)]);
  }

  async revokeUser(userId: string, at: number, until: number): Promise<void> {
    await REVOKE_USER.run(this.options.connection.command, [this.userKey(userId)], [Math.floor(at), Math.floor(until)]);
  }

  /**
   * Both checks sent at once (one round trip). Not a pipeline: the two keys live in different
   * slots, which a Cluster pipeline refuses. Throws when Redis is unreachable (fail closed is
   * the caller's call).
   */
  async isRevoked(identity: Pick<Identity, 'userId' | 'jti' | 'issuedAt'>): Promise<boolean> {
    const client = this.options.connection.command;
    const [tokenUntil, [at, until]] = await Promise.all([
      identity.jti === undefined ? null : client.get(this.tokenKey(identity.jti)),
      client.hmget(this.userKey(identity.userId), 'at', 'until'),
    ]);
    const now = this.now();
    if (Number(tokenUntil ?? 0) > now) return true;
    if (at == null || until == null || Number(until) <= now) return false;
    // A token without iat cannot prove it was issued after the revocation.
    return identity.issuedAt === undefined || identity.issuedAt * 1000 <= Number(at);
  }

  private tokenKey(jti: string): string {
    return this.options.connection.key(`revoked:jti:${jti}`);
  }

  private userKey(userId: string): string {
    return this.options.connection.key(`revoked:user:${userId}`);
  }
}
