import type { UserConnectionCounter } from '../connection/user-connection-counter.js';
import { LuaScript } from './lua-script.js';
import type { RedisErrorReporter } from './redis-connection.js';
import { bucketOf, forEachLimited, type RedisKeyspace, taggedKey } from './redis-keyspace.js';

export interface RedisUserConnectionCounterOptions {
  readonly connection: RedisKeyspace;
  /** Unique per process; part of every lease member so nodes never collide. */
  readonly nodeId: string;
  /** A lease not renewed for this long is gone (ms, default 30000); renewed every third of it. */
  readonly leaseTtlMs?: number;
  readonly onError?: RedisErrorReporter;
}

const DEFAULT_LEASE_TTL_MS = 30_000;

/**
 * Expired leases out, then a new one if under the cap. Expiry is on Redis' clock (TIME),
 * so nodes with skewed clocks agree on which leases are live.
 * KEYS[1] the user's lease key; ARGV: member, max, ttlMs. Returns 1 if taken, 0 at the cap.
 */
const ACQUIRE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`);

/**
 * Pushes the expiry of every lease of this node forward, one user key after another.
 * A lease that expired meanwhile (or was lost with a Redis restart) is put back: the
 * connection still exists, so it still counts. KEYS: lease keys of one bucket (one slot);
 * ARGV: ttlMs, then for each key its lease count followed by its members.
 */
const RENEW = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local i = 2
for _, key in ipairs(KEYS) do
  local n = tonumber(ARGV[i])
  for j = 1, n do redis.call('ZADD', key, now + ttl, ARGV[i + j]) end
  redis.call('PEXPIRE', key, ttl)
  i = i + n + 1
end
return #KEYS
`);

/** User keys renewed per script call, so one renewal never blocks Redis for long. */
const RENEW_BATCH = 200;
/**
 * Lease keys are spread over this many hash tags: a renewal is one script call per bucket
 * (all its keys in one slot, as a Cluster requires), at most this many calls per pass
 * whatever the number of users, and the buckets spread over every master.
 */
export const LEASE_BUCKETS = 256;
/** Renewal calls in flight at once. */
const RENEW_CONCURRENCY = 16;

/**
 * Cluster-wide per-user connection cap (finding 12): one sorted set per user
 * (`{lease:<bucket>}:<userId>`), member `<nodeId>:<leaseId>`, score = expiry (epoch ms, Redis
 * clock). This node renews its leases every ttl/3; a node that dies stops renewing and its
 * users' slots free themselves within the TTL, with no sweep of the keyspace by anyone.
 * `release` frees a slot at once.
 */
export class RedisUserConnectionCounter implements UserConnectionCounter {
  private readonly leases = new Map<string, Set<string>>();
  private readonly ttlMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly report: RedisErrorReporter;
  /** After a reconnect leases may have expired during the outage (or Redis restarted empty): renew at once. */
  private readonly onReady = (): void => void this.renew();
  private nextLease = 0;
  private renewing = false;

  constructor(private readonly options: RedisUserConnectionCounterOptions) {
    this.ttlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 3) throw new RangeError('leaseTtlMs must be an integer of at least 3');
    this.report = options.onError ?? (() => undefined);
    this.timer = setInterval(() => void this.renew(), Math.floor(this.ttlMs / 3));
    this.timer.unref();
    options.connection.command.on('ready', this.onReady);
  }

  /** Throws when Redis is unreachable (the handshake answers 503). */
  async acquire(userId: string, max: number): Promise<string | undefined> {
    if (max < 1) return undefined;
    this.nextLease += 1;
    const leaseId = String(this.nextLease);
    const taken = await ACQUIRE.run(this.options.connection.command, [this.key(userId)], [this.member(leaseId), max, this.ttlMs]);
    if (taken !== 1) return undefined;
    let held = this.leases.get(userId);
    if (!held) {
      held = new Set();
      this.leases.set(userId, held);
    }
    held.add(leaseId);
    return leaseId;
  }

  /**
   * Frees the slot now; if Redis is unreachable the lease is no longer renewed, so it
   * still frees itself within the TTL.
   */
  release(userId: string, leaseId: string): void {
    const held = this.leases.get(userId);
    if (!held?.delete(leaseId)) return;
    if (held.size === 0) this.leases.delete(userId);
    this.options.connection.command
      .zrem(this.key(userId), this.member(leaseId))
      .catch((error: unknown) => this.report('redis lease release', error));
  }

  localUsers(): number {
    return this.leases.size;
  }

  /**
   * Stops renewing. Leases still held are left to expire (as if the node died); close
   * the connections first for an immediate release.
   */
  close(): void {
    clearInterval(this.timer);
    this.options.connection.command.off('ready', this.onReady);
  }

  /** One renewal pass; public for tests. Errors are reported, the next tick retries. */
  async renew(): Promise<void> {
    if (this.renewing || this.leases.size === 0) return;
    this.renewing = true;
    try {
      const byBucket = new Map<number, Array<[string, Set<string>]>>();
      for (const entry of this.leases) {
        const bucket = bucketOf(entry[0], LEASE_BUCKETS);
        const users = byBucket.get(bucket);
        if (users) users.push(entry);
        else byBucket.set(bucket, [entry]);
      }
      const calls: Array<Array<[string, Set<string>]>> = [];
      for (const users of byBucket.values()) {
        for (let start = 0; start < users.length; start += RENEW_BATCH) calls.push(users.slice(start, start + RENEW_BATCH));
      }
      await forEachLimited(calls, RENEW_CONCURRENCY, async (users) => {
        const keys: string[] = [];
        const args: (string | number)[] = [this.ttlMs];
        for (const [userId, held] of users) {
          keys.push(this.key(userId));
          args.push(held.size, ...[...held].map((leaseId) => this.member(leaseId)));
        }
        // One bucket failing (e.g. its master is down) must not skip the others.
        await RENEW.run(this.options.connection.command, keys, args).catch((error: unknown) => this.report('redis lease renew', error));
      });
    } catch (error) {
      this.report('redis lease renew', error);
    } finally {
      this.renewing = false;
    }
  }

  /** The user's lease key; public for tests. */
  key(userId: string): string {
    return taggedKey(this.options.connection, `lease:${bucketOf(userId, LEASE_BUCKETS)}`, `:${userId}`);
  }

  private member(leaseId: string): string {
    return `${this.options.nodeId}:${leaseId}`;
  }
}
