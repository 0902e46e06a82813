import { createPublicKey } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { NAMESPACE_NAMES, type NamespaceName } from '../protocol/namespaces.js';
import { type ClusterSeed, parseClusterNodes } from '../redis/redis-client-factory.js';

/**
 * Every setting of the realtime layer, its contract default (docs/protocol.md) and the one place
 * where environment variables are read. `resolveRealtimeOptions` is the only producer of
 * `RealtimeConfig`; everything else receives the resolved, validated object by injection.
 */

export interface JwtOptions {
  /** HS256 shared secret, at least 32 bytes. Exactly one of `secret` / `publicKey`. */
  secret?: string;
  /** PEM public key; RS256 for RSA keys, ES256 for P-256 keys. */
  publicKey?: string;
  issuer?: string;
  audience?: string;
}

export interface RealtimeOptions {
  jwt?: JwtOptions;
  allowedOrigins?: string[];
  /** Number of proxy hops to trust in X-Forwarded-For; 0 trusts none. */
  trustProxy?: number;
  authCookieName?: string;
  allowQueryToken?: boolean;
  handshakeRatePerIp?: number;
  authTimeoutMs?: number;
  maxConnectionsPerUser?: number;
  maxAnonConnectionsPerIp?: number;
  /** Anonymous plus pending connections on this node, all IPs together (docs/protocol.md §11). */
  maxPendingConnections?: number;
  /** IPv6 clients are grouped by this many leading bits for every per-IP limit (default 64). */
  ipv6PrefixBits?: number;
  maxPayloadBytes?: number;
  maxInvalidFrames?: number;
  maxRateLimitStrikes?: number;
  maxBufferedBytes?: number;
  /** Coalesce a socket's outbound frames for up to this long (0: until the end of the event-loop turn). */
  writeDelayMs?: number;
  heartbeatIntervalMs?: number;
  pongTimeoutMs?: number;
  refreshWindowMs?: number;
  tokenExpiryGraceMs?: number;
  revalidateIntervalMs?: number;
  ratePerSec?: number;
  rateBurst?: number;
  anonRatePerSec?: number;
  anonRateBurst?: number;
  maxSubscriptions?: number;
  maxRoomMembers?: number;
  /** Connections of one user in one collaboration room (docs/protocol.md §11). */
  maxRoomConnectionsPerUser?: number;
  /** `room.broadcast` raw frame bytes per connection per second; bursts of twice this. */
  roomBroadcastBytesPerSec?: number;
  /** `commodity.message` per user, all connections together, per second. */
  chatRatePerSec?: number;
  chatRateBurst?: number;
  chatHistorySize?: number;
  chatHistoryTtlMs?: number;
  chatHistoryMaxCommodities?: number;
  /** Bytes of message text held in chat history on this node (or in Redis), all commodities together. */
  chatHistoryMaxBytes?: number;
  /** With Redis: hash tags chat history is spread over, each with 1/N of both caps (CHAT_HISTORY_SHARDS). */
  chatHistoryShards?: number;
  activityBufferMax?: number;
  activityFlushIntervalMs?: number;
  /** How long a revocation is remembered: at least the longest token lifetime you issue. */
  revocationTtlMs?: number;
  /** Tokens whose `exp` lies further ahead than this are refused; at most `revocationTtlMs`. */
  jwtMaxTokenLifetimeMs?: number;
  /** Recovery (docs/protocol.md §10): pushes kept per stream, their TTL after the last push, streams per node. */
  recoveryHistorySize?: number;
  recoveryHistoryTtlMs?: number;
  recoveryMaxStreams?: number;
  /** Bytes of recovery history one node holds in memory (not in the contract; like CHAT_HISTORY_MAX_BYTES). */
  recoveryHistoryMaxBytes?: number;
  /** Enables the HTTP API of §8; at least 32 characters. */
  apiKey?: string;
  shutdownTimeoutMs?: number;
  /** An HTTP request or upgrade whose headers are not complete by then is dropped (slowloris). */
  headersTimeoutMs?: number;
  logLevel?: LogLevel;
  /** Bearer token for GET /metrics, at least 32 characters (docs/protocol.md §9). */
  metricsToken?: string;
  /** Without `metricsToken` under NODE_ENV=production, /metrics answers 404 unless this is true. */
  metricsPublic?: boolean;
  /** A rendered /metrics answer is reused for this long (ms, default 2000): bounded scrape work. */
  metricsCacheMs?: number;
  alertEvalIntervalMs?: number;
  /** Alert thresholds: `defaults` for every namespace (env ALERT_*), `namespaces` per-namespace overrides. */
  alerts?: {
    readonly defaults?: Partial<AlertThresholds>;
    readonly namespaces?: Partial<Record<NamespaceName, Partial<AlertThresholds>>>;
  };
  /** Readiness fails when the heap is above this many bytes (default 90% of the heap limit). */
  heapLimitBytes?: number;
  /** Scale-out: `redis://host:port[/db]`. Unset (and no `redisClusterNodes`): everything in memory on one node. */
  redisUrl?: string;
  /** Scale-out on a Redis Cluster: seed nodes `host:port[,host:port…]` (REDIS_CLUSTER_NODES); not together with `redisUrl`. */
  redisClusterNodes?: string;
  /** HMAC key for inter-node messages, ≥ 32 bytes; required with `redisUrl` or `redisClusterNodes`. */
  redisSigningKey?: string;
  /** Prefix of every Redis key and channel (default `realtime:`). */
  redisKeyPrefix?: string;
  /** Per-user connection lease TTL on Redis: a dead node's slots free within this. */
  redisLeaseTtlMs?: number;
  /**
   * Environment to read the contract's variables from (defaults to `process.env`).
   * Explicit options above win over the environment.
   */
  env?: Readonly<Record<string, string | undefined>>;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Per-namespace alert thresholds, counted over a sliding minute (connections: open now). */
export interface AlertThresholds {
  readonly errorsPerMin: number;
  readonly authFailuresPerMin: number;
  readonly rateLimitedPerMin: number;
  readonly heartbeatTerminationsPerMin: number;
  readonly maxConnections: number;
}
export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

export interface RealtimeConfig {
  readonly jwt: {
    readonly key: string;
    readonly algorithm: JwtAlgorithm;
    readonly issuer?: string;
    readonly audience?: string;
    readonly clockToleranceSec: number;
  };
  readonly allowedOrigins: ReadonlySet<string>;
  readonly trustProxy: number;
  readonly authCookieName: string;
  readonly allowQueryToken: boolean;
  readonly handshakeRatePerIp: number;
  readonly authTimeoutMs: number;
  readonly maxConnectionsPerUser: number;
  readonly maxAnonConnectionsPerIp: number;
  readonly maxPendingConnections: number;
  readonly ipv6PrefixBits: number;
  readonly maxPayloadBytes: number;
  readonly maxInvalidFrames: number;
  readonly maxRateLimitStrikes: number;
  readonly maxBufferedBytes: number;
  readonly writeDelayMs: number;
  readonly heartbeatIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly refreshWindowMs: number;
  readonly tokenExpiryGraceMs: number;
  readonly revalidateIntervalMs: number;
  readonly ratePerSec: number;
  readonly rateBurst: number;
  readonly anonRatePerSec: number;
  readonly anonRateBurst: number;
  readonly maxSubscriptions: number;
  readonly maxRoomMembers: number;
  readonly maxRoomConnectionsPerUser: number;
  readonly roomBroadcastBytesPerSec: number;
  readonly chatRatePerSec: number;
  readonly chatRateBurst: number;
  readonly chatHistorySize: number;
  readonly chatHistoryTtlMs: number;
  readonly chatHistoryMaxCommodities: number;
  readonly chatHistoryMaxBytes: number;
  readonly chatHistoryShards: number;
  readonly activityBufferMax: number;
  readonly activityFlushIntervalMs: number;
  readonly revocationTtlMs: number;
  readonly jwtMaxTokenLifetimeMs: number;
  readonly recoveryHistorySize: number;
  readonly recoveryHistoryTtlMs: number;
  readonly recoveryMaxStreams: number;
  readonly recoveryHistoryMaxBytes: number;
  readonly apiKey?: string;
  readonly shutdownTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly metricsToken?: string;
  /**
   * Who may scrape /metrics: `token` (bearer METRICS_TOKEN), `open`, or `closed` (404: production
   * without a token, unless METRICS_PUBLIC=true).
   */
  readonly metricsAccess: 'token' | 'open' | 'closed';
  readonly metricsCacheMs: number;
  readonly alertEvalIntervalMs: number;
  readonly alertThresholds: Readonly<Record<NamespaceName, AlertThresholds>>;
  readonly heapLimitBytes: number;
  /** Exactly one of `url` (standalone Redis) and `clusterNodes` (Redis Cluster seeds) is set. */
  readonly redis?: {
    readonly url?: string;
    readonly clusterNodes?: readonly ClusterSeed[];
    readonly signingKey: string;
    readonly keyPrefix: string;
    readonly leaseTtlMs: number;
  };
}

/** Tokens longer than this are refused before any parsing (oversized-token attacks); a wire limit, kept with the protocol. */
export { MAX_TOKEN_LENGTH } from '../protocol/events.js';
export const JWT_CLOCK_TOLERANCE_SEC = 5;
export const MIN_SECRET_BYTES = 32;
export const MIN_API_KEY_LENGTH = 32;
export const MIN_METRICS_TOKEN_LENGTH = 32;
export const MAX_ACTIVITY_FLUSH_INTERVAL_MS = 600_000;

type NumericKey =
  | {
      [K in keyof RealtimeConfig]-?: RealtimeConfig[K] extends number ? K : never;
    }[keyof RealtimeConfig]
  | 'redisLeaseTtlMs';

const MAX_WRITE_DELAY_MS = 100;

/** Numeric settings: env variable, default, and the smallest accepted value. */
const NUMERIC: ReadonlyArray<readonly [NumericKey, string, number, number]> = [
  ['trustProxy', 'TRUST_PROXY', 0, 0],
  ['handshakeRatePerIp', 'WS_HANDSHAKE_RATE_PER_IP', 600, 1],
  ['authTimeoutMs', 'WS_AUTH_TIMEOUT_MS', 5000, 1],
  ['maxConnectionsPerUser', 'WS_MAX_CONNECTIONS_PER_USER', 32, 1],
  ['maxAnonConnectionsPerIp', 'WS_MAX_ANON_CONNECTIONS_PER_IP', 20, 0],
  ['maxPendingConnections', 'WS_MAX_PENDING_CONNECTIONS', 10000, 0],
  ['ipv6PrefixBits', 'WS_IPV6_PREFIX_BITS', 64, 1],
  ['maxPayloadBytes', 'WS_MAX_PAYLOAD_BYTES', 65536, 1024],
  ['maxInvalidFrames', 'WS_MAX_INVALID_FRAMES', 20, 1],
  ['maxRateLimitStrikes', 'WS_MAX_RATE_LIMIT_STRIKES', 10, 1],
  ['maxBufferedBytes', 'WS_MAX_BUFFERED_BYTES', 1024 * 1024, 1024],
  ['writeDelayMs', 'WS_WRITE_DELAY_MS', 0, 0],
  ['heartbeatIntervalMs', 'WS_HEARTBEAT_INTERVAL_MS', 25000, 10],
  ['pongTimeoutMs', 'WS_PONG_TIMEOUT_MS', 10000, 10],
  ['refreshWindowMs', 'WS_REFRESH_WINDOW_MS', 60000, 0],
  ['tokenExpiryGraceMs', 'WS_TOKEN_EXPIRY_GRACE_MS', 0, 0],
  ['revalidateIntervalMs', 'WS_REVALIDATE_INTERVAL_MS', 300000, 10],
  ['ratePerSec', 'WS_RATE_PER_SEC', 20, 0.001],
  ['rateBurst', 'WS_RATE_BURST', 40, 1],
  ['anonRatePerSec', 'WS_ANON_RATE_PER_SEC', 5, 0.001],
  ['anonRateBurst', 'WS_ANON_RATE_BURST', 10, 1],
  ['maxSubscriptions', 'WS_MAX_SUBSCRIPTIONS', 100, 1],
  ['maxRoomMembers', 'WS_MAX_ROOM_MEMBERS', 500, 1],
  ['maxRoomConnectionsPerUser', 'WS_MAX_ROOM_CONNECTIONS_PER_USER', 4, 1],
  ['roomBroadcastBytesPerSec', 'WS_ROOM_BROADCAST_BYTES_PER_SEC', 65536, 1],
  ['chatRatePerSec', 'WS_CHAT_RATE_PER_SEC', 2, 0.001],
  ['chatRateBurst', 'WS_CHAT_RATE_BURST', 10, 1],
  ['chatHistorySize', 'CHAT_HISTORY_SIZE', 100, 0],
  ['chatHistoryTtlMs', 'CHAT_HISTORY_TTL_MS', 24 * 3600 * 1000, 1000],
  ['chatHistoryMaxCommodities', 'CHAT_HISTORY_MAX_COMMODITIES', 10000, 1],
  ['chatHistoryMaxBytes', 'CHAT_HISTORY_MAX_BYTES', 64 * 1024 * 1024, 1],
  ['chatHistoryShards', 'CHAT_HISTORY_SHARDS', 1, 1],
  ['activityBufferMax', 'ACTIVITY_BUFFER_MAX', 500, 1],
  ['activityFlushIntervalMs', 'ACTIVITY_FLUSH_INTERVAL_MS', 60000, 10],
  ['revocationTtlMs', 'REVOCATION_TTL_MS', 24 * 3600 * 1000, 1000],
  ['jwtMaxTokenLifetimeMs', 'JWT_MAX_TOKEN_LIFETIME_MS', 24 * 3600 * 1000, 1000],
  ['recoveryHistorySize', 'RECOVERY_HISTORY_SIZE', 100, 0],
  ['recoveryHistoryTtlMs', 'RECOVERY_HISTORY_TTL_MS', 300000, 1000],
  ['recoveryMaxStreams', 'RECOVERY_MAX_STREAMS', 100000, 1],
  // at least one full recovery answer (512 KiB) and its stream name
  ['recoveryHistoryMaxBytes', 'RECOVERY_HISTORY_MAX_BYTES', 64 * 1024 * 1024, 1024 * 1024],
  ['shutdownTimeoutMs', 'SHUTDOWN_TIMEOUT_MS', 10000, 1],
  ['headersTimeoutMs', 'HTTP_HEADERS_TIMEOUT_MS', 10000, 100],
  ['alertEvalIntervalMs', 'ALERT_EVAL_INTERVAL_MS', 15000, 10],
  ['metricsCacheMs', 'METRICS_CACHE_MS', 2000, 0],
  ['redisLeaseTtlMs', 'REDIS_LEASE_TTL_MS', 30000, 300],
  ['heapLimitBytes', 'HEALTH_HEAP_LIMIT_BYTES', Math.floor(getHeapStatistics().heap_size_limit * 0.9), 1],
];

/** Alert thresholds: key, env variable, default (docs/protocol.md §9). */
const ALERT_DEFAULTS: ReadonlyArray<readonly [keyof AlertThresholds, string, number]> = [
  ['errorsPerMin', 'ALERT_ERRORS_PER_MIN', 120],
  ['authFailuresPerMin', 'ALERT_AUTH_FAILURES_PER_MIN', 30],
  ['rateLimitedPerMin', 'ALERT_RATE_LIMITED_PER_MIN', 300],
  ['heartbeatTerminationsPerMin', 'ALERT_HEARTBEAT_TERMINATIONS_PER_MIN', 60],
  ['maxConnections', 'ALERT_MAX_CONNECTIONS', 50000],
];

function resolveAlerts(options: RealtimeOptions, env: Readonly<Record<string, string | undefined>>): RealtimeConfig['alertThresholds'] {
  const defaults = {} as Record<keyof AlertThresholds, number>;
  for (const [key, envName, fallback] of ALERT_DEFAULTS) {
    const raw = nonEmpty(env[envName]);
    defaults[key] = options.alerts?.defaults?.[key] ?? (raw === undefined ? fallback : parseNumber(envName, raw));
  }
  const out = {} as Record<NamespaceName, AlertThresholds>;
  for (const ns of NAMESPACE_NAMES) {
    const merged = { ...defaults, ...options.alerts?.namespaces?.[ns] };
    for (const [key, value] of Object.entries(merged)) {
      if (!Number.isFinite(value) || value < 0) throw new RealtimeConfigError(`alert threshold ${ns}.${key} must be a number >= 0`);
    }
    out[ns] = Object.freeze(merged);
  }
  return Object.freeze(out);
}

export class RealtimeConfigError extends Error {
  override name = 'RealtimeConfigError';
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function parseNumber(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value)) {
    throw new RealtimeConfigError(`${name} must be a number, got "${raw}"`);
  }
  return value;
}

function parseBoolean(name: string, raw: string): boolean {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new RealtimeConfigError(`${name} must be true or false, got "${raw}"`);
}

function algorithmForPublicKey(pem: string): JwtAlgorithm {
  let type: string | undefined;
  try {
    const key = createPublicKey(pem);
    type = key.asymmetricKeyType;
    if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new RealtimeConfigError('JWT_PUBLIC_KEY: only P-256 EC keys (ES256) are supported');
    }
  } catch (err) {
    if (err instanceof RealtimeConfigError) throw err;
    throw new RealtimeConfigError('JWT_PUBLIC_KEY is not a valid PEM public key');
  }
  if (type === 'rsa') return 'RS256';
  if (type === 'ec') return 'ES256';
  throw new RealtimeConfigError(`JWT_PUBLIC_KEY: unsupported key type ${type ?? 'unknown'}`);
}

function resolveJwt(options: RealtimeOptions, env: RealtimeOptions['env'] & object): RealtimeConfig['jwt'] {
  const secret = options.jwt?.secret ?? nonEmpty(env.JWT_SECRET);
  const publicKey = options.jwt?.publicKey ?? nonEmpty(env.JWT_PUBLIC_KEY);
  const issuer = options.jwt?.issuer ?? nonEmpty(env.JWT_ISSUER);
  const audience = options.jwt?.audience ?? nonEmpty(env.JWT_AUDIENCE);
  const common = { issuer, audience, clockToleranceSec: JWT_CLOCK_TOLERANCE_SEC };
  if (secret !== undefined && publicKey !== undefined) {
    throw new RealtimeConfigError('Set either JWT_SECRET or JWT_PUBLIC_KEY, not both');
  }
  if (publicKey !== undefined) {
    return { key: publicKey, algorithm: algorithmForPublicKey(publicKey), ...common };
  }
  if (secret === undefined) {
    throw new RealtimeConfigError(
      'JWT_SECRET is not set: configure JWT_SECRET (at least 32 bytes) or JWT_PUBLIC_KEY. There is no fallback secret.',
    );
  }
  if (Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) {
    throw new RealtimeConfigError(`JWT_SECRET is too short: it must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return { key: secret, algorithm: 'HS256', ...common };
}

export const MIN_REDIS_SIGNING_KEY_BYTES = 32;

function resolveRedis(options: RealtimeOptions, env: Readonly<Record<string, string | undefined>>, leaseTtlMs: number): RealtimeConfig['redis'] {
  const url = options.redisUrl ?? nonEmpty(env.REDIS_URL);
  const nodes = options.redisClusterNodes ?? nonEmpty(env.REDIS_CLUSTER_NODES);
  if (url === undefined && nodes === undefined) return undefined;
  if (url !== undefined && nodes !== undefined) {
    throw new RealtimeConfigError('REDIS_URL and REDIS_CLUSTER_NODES are both set: set REDIS_URL for a standalone Redis or REDIS_CLUSTER_NODES for a Redis Cluster, not both');
  }
  if (url !== undefined && !/^rediss?:\/\//.test(url)) throw new RealtimeConfigError('REDIS_URL must start with redis:// or rediss://');
  let clusterNodes: ClusterSeed[] | undefined;
  if (nodes !== undefined) {
    try {
      clusterNodes = parseClusterNodes(nodes);
    } catch (error) {
      throw new RealtimeConfigError(`REDIS_CLUSTER_NODES must list host:port seeds separated by commas: ${(error as Error).message}`);
    }
  }
  const signingKey = options.redisSigningKey ?? nonEmpty(env.REDIS_SIGNING_KEY);
  if (signingKey === undefined || Buffer.byteLength(signingKey) < MIN_REDIS_SIGNING_KEY_BYTES) {
    throw new RealtimeConfigError(`REDIS_SIGNING_KEY is required with ${url !== undefined ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES'} and must be at least ${MIN_REDIS_SIGNING_KEY_BYTES} bytes`);
  }
  const keyPrefix = options.redisKeyPrefix ?? nonEmpty(env.REDIS_KEY_PREFIX) ?? 'realtime:';
  if (clusterNodes !== undefined && /[{}]/.test(keyPrefix)) {
    // A brace in the prefix would become the hash tag of every key and channel: one slot, one master.
    throw new RealtimeConfigError('REDIS_KEY_PREFIX must not contain { or } with REDIS_CLUSTER_NODES');
  }
  return Object.freeze({ ...(url !== undefined ? { url } : { clusterNodes }), signingKey, keyPrefix, leaseTtlMs });
}

/** Merges defaults, environment and explicit options, and validates the result. Throws RealtimeConfigError. */
export function resolveRealtimeOptions(options: RealtimeOptions = {}): RealtimeConfig {
  const env = options.env ?? process.env;
  const numbers = {} as Record<NumericKey, number>;
  for (const [key, envName, fallback, min] of NUMERIC) {
    const explicit = options[key];
    const raw = nonEmpty(env[envName]);
    const value = explicit ?? (raw === undefined ? fallback : parseNumber(envName, raw));
    if (!Number.isFinite(value) || value < min) {
      throw new RealtimeConfigError(`${envName} must be a number >= ${min}, got ${value}`);
    }
    numbers[key] = value;
  }
  if (!Number.isInteger(numbers.trustProxy)) {
    throw new RealtimeConfigError('TRUST_PROXY must be a whole number of hops');
  }
  if (numbers.activityFlushIntervalMs > MAX_ACTIVITY_FLUSH_INTERVAL_MS) {
    throw new RealtimeConfigError(`ACTIVITY_FLUSH_INTERVAL_MS must be at most ${MAX_ACTIVITY_FLUSH_INTERVAL_MS} (finding 11)`);
  }
  for (const key of ['chatHistorySize', 'activityBufferMax', 'maxRoomMembers', 'maxSubscriptions', 'chatHistoryMaxCommodities', 'chatHistoryShards', 'maxPendingConnections', 'ipv6PrefixBits', 'recoveryHistorySize', 'recoveryMaxStreams', 'recoveryHistoryMaxBytes'] as const) {
    if (!Number.isInteger(numbers[key])) throw new RealtimeConfigError(`${key} must be a whole number`);
  }
  if (numbers.chatHistoryShards > numbers.chatHistoryMaxCommodities) {
    throw new RealtimeConfigError('CHAT_HISTORY_SHARDS must not exceed CHAT_HISTORY_MAX_COMMODITIES (each shard holds a share of it)');
  }
  if (numbers.writeDelayMs > MAX_WRITE_DELAY_MS) {
    // Held frames delay pings, pongs and replies too: beyond a few ms it is latency, not batching.
    throw new RealtimeConfigError(`WS_WRITE_DELAY_MS must be at most ${MAX_WRITE_DELAY_MS}, got ${numbers.writeDelayMs}`);
  }
  if (numbers.ipv6PrefixBits > 128) {
    throw new RealtimeConfigError(`WS_IPV6_PREFIX_BITS must be at most 128, got ${numbers.ipv6PrefixBits}`);
  }
  if (numbers.revocationTtlMs < numbers.jwtMaxTokenLifetimeMs) {
    // A revocation forgotten while the token it names is still valid would un-revoke it.
    throw new RealtimeConfigError(
      `REVOCATION_TTL_MS (${numbers.revocationTtlMs}) must be at least JWT_MAX_TOKEN_LIFETIME_MS (${numbers.jwtMaxTokenLifetimeMs})`,
    );
  }
  if (numbers.anonRateBurst > numbers.rateBurst) {
    throw new RealtimeConfigError('WS_ANON_RATE_BURST must not exceed WS_RATE_BURST');
  }
  for (const key of ['maxRoomConnectionsPerUser', 'roomBroadcastBytesPerSec', 'chatRateBurst'] as const) {
    if (!Number.isInteger(numbers[key])) throw new RealtimeConfigError(`${key} must be a whole number`);
  }

  const originsRaw = nonEmpty(env.ALLOWED_ORIGINS);
  const allowedOrigins =
    options.allowedOrigins ??
    (originsRaw === undefined ? [] : originsRaw.split(',').map((o) => o.trim()).filter(Boolean));

  const queryRaw = nonEmpty(env.ALLOW_QUERY_TOKEN);
  const allowQueryToken =
    options.allowQueryToken ?? (queryRaw === undefined ? false : parseBoolean('ALLOW_QUERY_TOKEN', queryRaw));

  const apiKey = options.apiKey ?? nonEmpty(env.REALTIME_API_KEY);
  if (apiKey !== undefined && apiKey.length < MIN_API_KEY_LENGTH) {
    throw new RealtimeConfigError(`REALTIME_API_KEY is too short: it must be at least ${MIN_API_KEY_LENGTH} characters`);
  }

  const metricsToken = options.metricsToken ?? nonEmpty(env.METRICS_TOKEN);
  if (metricsToken !== undefined && metricsToken.length < MIN_METRICS_TOKEN_LENGTH) {
    throw new RealtimeConfigError(`METRICS_TOKEN is too short: it must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  }
  const publicRaw = nonEmpty(env.METRICS_PUBLIC);
  const metricsPublic = options.metricsPublic ?? (publicRaw === undefined ? false : parseBoolean('METRICS_PUBLIC', publicRaw));
  const metricsAccess = metricsToken !== undefined ? 'token' : env.NODE_ENV === 'production' && !metricsPublic ? 'closed' : 'open';

  const levelRaw = options.logLevel ?? nonEmpty(env.LOG_LEVEL);
  const logLevel = (levelRaw ?? (env.NODE_ENV === 'production' ? 'warn' : 'info')) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new RealtimeConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }

  const { redisLeaseTtlMs, ...rest } = numbers;
  return Object.freeze({
    ...rest,
    redis: resolveRedis(options, env, redisLeaseTtlMs),
    jwt: Object.freeze(resolveJwt(options, env)),
    allowedOrigins: new Set(allowedOrigins),
    authCookieName: options.authCookieName ?? nonEmpty(env.AUTH_COOKIE_NAME) ?? 'access_token',
    allowQueryToken,
    apiKey,
    logLevel,
    metricsToken,
    metricsAccess,
    alertThresholds: resolveAlerts(options, env),
  });
}
