import { generateKeyPairSync } from 'node:crypto';
import {
  JWT_CLOCK_TOLERANCE_SEC,
  RealtimeConfigError,
  resolveRealtimeOptions,
  type RealtimeConfig,
  type RealtimeOptions,
} from '../../src/config/realtime-options.js';

const SECRET = 's'.repeat(32);
const BASE_ENV = { JWT_SECRET: SECRET } as const;

function resolve(env: Record<string, string | undefined>, options: Omit<RealtimeOptions, 'env'> = {}): RealtimeConfig {
  return resolveRealtimeOptions({ ...options, env });
}

function configError(fn: () => unknown): RealtimeConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RealtimeConfigError);
    return err as RealtimeConfigError;
  }
  throw new Error('expected a RealtimeConfigError, nothing was thrown');
}

function publicPem(type: 'rsa' | 'ec' | 'ed25519', namedCurve = 'P-256'): string {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve })
        : generateKeyPairSync('ed25519');
  return pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

describe('resolveRealtimeOptions', () => {
  describe('defaults (docs/protocol.md)', () => {
    const config = resolve({ ...BASE_ENV });

    it.each<[keyof RealtimeConfig, unknown]>([
      ['trustProxy', 0],
      ['handshakeRatePerIp', 600],
      ['authTimeoutMs', 5000],
      ['maxConnectionsPerUser', 32],
      ['maxAnonConnectionsPerIp', 20],
      ['maxPayloadBytes', 65536],
      ['maxInvalidFrames', 20],
      ['maxRateLimitStrikes', 10],
      ['maxBufferedBytes', 1024 * 1024],
      ['heartbeatIntervalMs', 25000],
      ['pongTimeoutMs', 10000],
      ['refreshWindowMs', 60000],
      ['tokenExpiryGraceMs', 0],
      ['revalidateIntervalMs', 300000],
      ['ratePerSec', 20],
      ['rateBurst', 40],
      ['anonRatePerSec', 5],
      ['anonRateBurst', 10],
      ['maxSubscriptions', 100],
      ['maxRoomMembers', 500],
      ['chatHistorySize', 100],
      ['chatHistoryTtlMs', 24 * 3600 * 1000],
      ['chatHistoryMaxCommodities', 10000],
      ['recoveryHistorySize', 100],
      ['recoveryHistoryTtlMs', 300000],
      ['recoveryMaxStreams', 100000],
      ['recoveryHistoryMaxBytes', 64 * 1024 * 1024],
      ['activityBufferMax', 500],
      ['activityFlushIntervalMs', 60000],
      ['shutdownTimeoutMs', 10000],
      ['authCookieName', 'access_token'],
      ['allowQueryToken', false],
      ['apiKey', undefined],
      ['logLevel', 'info'],
    ])('%s defaults to %p', (key, expected) => {
      expect(config[key]).toEqual(expected);
    });

    it('allows no extra origins by default', () => {
      expect([...config.allowedOrigins]).toEqual([]);
    });

    it('HS256 with the secret, 5 s clock tolerance, no issuer or audience', () => {
      expect(config.jwt).toEqual({
        key: SECRET,
        algorithm: 'HS256',
        issuer: undefined,
        audience: undefined,
        clockToleranceSec: 5,
      });
      expect(JWT_CLOCK_TOLERANCE_SEC).toBe(5);
    });

    it('is frozen', () => {
      expect(Object.isFrozen(config)).toBe(true);
      expect(Object.isFrozen(config.jwt)).toBe(true);
    });

    it('revocations are remembered for at least a second by default', () => {
      expect(config.revocationTtlMs).toBeGreaterThanOrEqual(1000);
    });
  });

  describe('environment', () => {
    it.each<[string, keyof RealtimeConfig, string, number]>([
      ['TRUST_PROXY', 'trustProxy', '2', 2],
      ['WS_HANDSHAKE_RATE_PER_IP', 'handshakeRatePerIp', '60', 60],
      ['WS_AUTH_TIMEOUT_MS', 'authTimeoutMs', '1500', 1500],
      ['WS_MAX_CONNECTIONS_PER_USER', 'maxConnectionsPerUser', '3', 3],
      ['WS_MAX_ANON_CONNECTIONS_PER_IP', 'maxAnonConnectionsPerIp', '0', 0],
      ['WS_MAX_PAYLOAD_BYTES', 'maxPayloadBytes', '2048', 2048],
      ['WS_MAX_INVALID_FRAMES', 'maxInvalidFrames', '5', 5],
      ['WS_MAX_RATE_LIMIT_STRIKES', 'maxRateLimitStrikes', '4', 4],
      ['WS_MAX_BUFFERED_BYTES', 'maxBufferedBytes', '4096', 4096],
      ['WS_HEARTBEAT_INTERVAL_MS', 'heartbeatIntervalMs', '1000', 1000],
      ['WS_PONG_TIMEOUT_MS', 'pongTimeoutMs', '500', 500],
      ['WS_REFRESH_WINDOW_MS', 'refreshWindowMs', '0', 0],
      ['WS_TOKEN_EXPIRY_GRACE_MS', 'tokenExpiryGraceMs', '2000', 2000],
      ['WS_REVALIDATE_INTERVAL_MS', 'revalidateIntervalMs', '100', 100],
      ['WS_RATE_PER_SEC', 'ratePerSec', '2.5', 2.5],
      ['WS_RATE_BURST', 'rateBurst', '80', 80],
      ['WS_ANON_RATE_PER_SEC', 'anonRatePerSec', '0.5', 0.5],
      ['WS_ANON_RATE_BURST', 'anonRateBurst', '3', 3],
      ['WS_MAX_SUBSCRIPTIONS', 'maxSubscriptions', '7', 7],
      ['WS_MAX_ROOM_MEMBERS', 'maxRoomMembers', '9', 9],
      ['CHAT_HISTORY_SIZE', 'chatHistorySize', '0', 0],
      ['CHAT_HISTORY_TTL_MS', 'chatHistoryTtlMs', '60000', 60000],
      ['CHAT_HISTORY_MAX_COMMODITIES', 'chatHistoryMaxCommodities', '12', 12],
      ['RECOVERY_HISTORY_SIZE', 'recoveryHistorySize', '0', 0],
      ['RECOVERY_HISTORY_TTL_MS', 'recoveryHistoryTtlMs', '1000', 1000],
      ['RECOVERY_MAX_STREAMS', 'recoveryMaxStreams', '1', 1],
      ['RECOVERY_HISTORY_MAX_BYTES', 'recoveryHistoryMaxBytes', '1048576', 1048576],
      ['ACTIVITY_BUFFER_MAX', 'activityBufferMax', '50', 50],
      ['ACTIVITY_FLUSH_INTERVAL_MS', 'activityFlushIntervalMs', '600000', 600000],
      ['REVOCATION_TTL_MS', 'revocationTtlMs', '172800000', 172800000],
      ['JWT_MAX_TOKEN_LIFETIME_MS', 'jwtMaxTokenLifetimeMs', '3600000', 3600000],
      ['WS_MAX_PENDING_CONNECTIONS', 'maxPendingConnections', '50', 50],
      ['WS_IPV6_PREFIX_BITS', 'ipv6PrefixBits', '48', 48],
      ['WS_WRITE_DELAY_MS', 'writeDelayMs', '5', 5],
      ['CHAT_HISTORY_MAX_BYTES', 'chatHistoryMaxBytes', '1048576', 1048576],
      ['METRICS_CACHE_MS', 'metricsCacheMs', '0', 0],
      ['SHUTDOWN_TIMEOUT_MS', 'shutdownTimeoutMs', '3000', 3000],
    ])('%s sets %s', (envName, key, raw, expected) => {
      expect(resolve({ ...BASE_ENV, [envName]: raw })[key]).toBe(expected);
    });

    it('an empty or blank variable counts as unset', () => {
      const config = resolve({ ...BASE_ENV, WS_RATE_PER_SEC: '', WS_RATE_BURST: '   ', AUTH_COOKIE_NAME: '' });
      expect(config.ratePerSec).toBe(20);
      expect(config.rateBurst).toBe(40);
      expect(config.authCookieName).toBe('access_token');
    });

    it('reads only the given env, never process.env', () => {
      const saved = process.env.WS_RATE_PER_SEC;
      process.env.WS_RATE_PER_SEC = '3';
      try {
        expect(resolve({ ...BASE_ENV }).ratePerSec).toBe(20);
      } finally {
        if (saved === undefined) delete process.env.WS_RATE_PER_SEC;
        else process.env.WS_RATE_PER_SEC = saved;
      }
    });

    it('ALLOWED_ORIGINS is comma-separated, trimmed, empty entries dropped', () => {
      const config = resolve({ ...BASE_ENV, ALLOWED_ORIGINS: ' https://a.example , https://b.example:8443,, ' });
      expect([...config.allowedOrigins]).toEqual(['https://a.example', 'https://b.example:8443']);
    });

    it.each([['true', true], ['1', true], ['false', false], ['0', false]])('ALLOW_QUERY_TOKEN=%s → %p', (raw, expected) => {
      expect(resolve({ ...BASE_ENV, ALLOW_QUERY_TOKEN: raw }).allowQueryToken).toBe(expected);
    });

    it('ALLOW_QUERY_TOKEN with another value fails, naming it', () => {
      expect(configError(() => resolve({ ...BASE_ENV, ALLOW_QUERY_TOKEN: 'yes' })).message).toMatch(/ALLOW_QUERY_TOKEN/);
    });

    it('AUTH_COOKIE_NAME, JWT_ISSUER and JWT_AUDIENCE are read', () => {
      const config = resolve({ ...BASE_ENV, AUTH_COOKIE_NAME: 'sid', JWT_ISSUER: 'https://issuer', JWT_AUDIENCE: 'realtime' });
      expect(config.authCookieName).toBe('sid');
      expect(config.jwt.issuer).toBe('https://issuer');
      expect(config.jwt.audience).toBe('realtime');
    });
  });

  describe('bad numbers', () => {
    it.each(['abc', '12abc', 'NaN', 'Infinity', '-Infinity'])('a non-number %p fails, naming the variable', (raw) => {
      const err = configError(() => resolve({ ...BASE_ENV, WS_MAX_SUBSCRIPTIONS: raw }));
      expect(err.message).toMatch(/WS_MAX_SUBSCRIPTIONS/);
    });

    it.each<[string, string]>([
      ['WS_MAX_PAYLOAD_BYTES', '1023'],
      ['WS_MAX_BUFFERED_BYTES', '100'],
      ['WS_HANDSHAKE_RATE_PER_IP', '0'],
      ['WS_MAX_CONNECTIONS_PER_USER', '0'],
      ['WS_MAX_ANON_CONNECTIONS_PER_IP', '-1'],
      ['WS_RATE_PER_SEC', '0'],
      ['WS_RATE_BURST', '0'],
      ['WS_HEARTBEAT_INTERVAL_MS', '5'],
      ['WS_TOKEN_EXPIRY_GRACE_MS', '-1'],
      ['TRUST_PROXY', '-1'],
      ['CHAT_HISTORY_TTL_MS', '999'],
      ['RECOVERY_HISTORY_SIZE', '-1'],
      ['RECOVERY_HISTORY_TTL_MS', '999'],
      ['RECOVERY_MAX_STREAMS', '0'],
      ['RECOVERY_HISTORY_MAX_BYTES', '1048575'],
      ['REVOCATION_TTL_MS', '10'],
      ['SHUTDOWN_TIMEOUT_MS', '0'],
    ])('%s=%s is below its minimum and fails, naming the variable', (envName, raw) => {
      expect(configError(() => resolve({ ...BASE_ENV, [envName]: raw })).message).toMatch(new RegExp(envName));
    });

    it('TRUST_PROXY must be a whole number of hops', () => {
      expect(configError(() => resolve({ ...BASE_ENV, TRUST_PROXY: '1.5' })).message).toMatch(/TRUST_PROXY/);
    });

    it.each(['CHAT_HISTORY_SIZE', 'ACTIVITY_BUFFER_MAX', 'WS_MAX_ROOM_MEMBERS', 'WS_MAX_SUBSCRIPTIONS', 'CHAT_HISTORY_MAX_COMMODITIES', 'RECOVERY_HISTORY_SIZE', 'RECOVERY_MAX_STREAMS', 'RECOVERY_HISTORY_MAX_BYTES'])(
      '%s must be a whole number',
      (envName) => {
        expect(() => resolve({ ...BASE_ENV, [envName]: '10.5' })).toThrow(RealtimeConfigError);
      },
    );

    it('ACTIVITY_FLUSH_INTERVAL_MS is capped at 600000 (finding 11)', () => {
      expect(configError(() => resolve({ ...BASE_ENV, ACTIVITY_FLUSH_INTERVAL_MS: '600001' })).message).toMatch(
        /ACTIVITY_FLUSH_INTERVAL_MS/,
      );
    });

    it('the anonymous burst may not exceed the authenticated burst (finding 9)', () => {
      expect(configError(() => resolve({ ...BASE_ENV, WS_ANON_RATE_BURST: '41' })).message).toMatch(/WS_ANON_RATE_BURST/);
      expect(resolve({ ...BASE_ENV, WS_ANON_RATE_BURST: '40' }).anonRateBurst).toBe(40);
    });
  });

  describe('explicit options', () => {
    it('win over the environment', () => {
      const config = resolve(
        {
          ...BASE_ENV,
          WS_RATE_PER_SEC: '7',
          ALLOWED_ORIGINS: 'https://env.example',
          ALLOW_QUERY_TOKEN: 'true',
          AUTH_COOKIE_NAME: 'env_cookie',
          LOG_LEVEL: 'error',
          REALTIME_API_KEY: 'e'.repeat(32),
          JWT_ISSUER: 'env-issuer',
          TRUST_PROXY: '3',
        },
        {
          ratePerSec: 3,
          allowedOrigins: ['https://opt.example'],
          allowQueryToken: false,
          authCookieName: 'opt_cookie',
          logLevel: 'debug',
          apiKey: 'o'.repeat(32),
          jwt: { secret: 'x'.repeat(40), issuer: 'opt-issuer' },
          trustProxy: 0,
        },
      );
      expect(config.ratePerSec).toBe(3);
      expect([...config.allowedOrigins]).toEqual(['https://opt.example']);
      expect(config.allowQueryToken).toBe(false);
      expect(config.authCookieName).toBe('opt_cookie');
      expect(config.logLevel).toBe('debug');
      expect(config.apiKey).toBe('o'.repeat(32));
      expect(config.jwt.key).toBe('x'.repeat(40));
      expect(config.jwt.issuer).toBe('opt-issuer');
      expect(config.trustProxy).toBe(0);
    });

    it('an explicit value still wins when the env value is invalid', () => {
      expect(resolve({ ...BASE_ENV, WS_RATE_PER_SEC: 'abc' }, { ratePerSec: 3 }).ratePerSec).toBe(3);
    });

    it('an explicit secret works without any env', () => {
      expect(resolve({}, { jwt: { secret: SECRET } }).jwt.algorithm).toBe('HS256');
    });

    it('explicit values are validated too', () => {
      expect(() => resolve({ ...BASE_ENV }, { maxPayloadBytes: 10 })).toThrow(RealtimeConfigError);
      expect(() => resolve({ ...BASE_ENV }, { ratePerSec: Number.NaN })).toThrow(RealtimeConfigError);
      expect(() => resolve({ ...BASE_ENV }, { maxSubscriptions: 1.5 })).toThrow(RealtimeConfigError);
      expect(() => resolve({ ...BASE_ENV }, { activityFlushIntervalMs: 600_001 })).toThrow(RealtimeConfigError);
    });
  });

  describe('JWT_SECRET (finding 1)', () => {
    it('missing: fails, naming JWT_SECRET (finding 1: no fallback secret)', () => {
      expect(configError(() => resolve({})).message).toMatch(/JWT_SECRET/);
    });

    it('blank: fails like missing (finding 1)', () => {
      expect(configError(() => resolve({ JWT_SECRET: '   ' })).message).toMatch(/JWT_SECRET/);
    });

    it('shorter than 32 bytes: fails, naming JWT_SECRET (finding 1)', () => {
      expect(configError(() => resolve({ JWT_SECRET: 's'.repeat(31) })).message).toMatch(/JWT_SECRET/);
    });

    it('an explicit short secret fails too (finding 1)', () => {
      expect(configError(() => resolve({}, { jwt: { secret: 'short' } })).message).toMatch(/JWT_SECRET/);
    });

    it('exactly 32 bytes is accepted', () => {
      expect(resolve({ JWT_SECRET: SECRET }).jwt).toMatchObject({ key: SECRET, algorithm: 'HS256' });
    });

    it('length is counted in UTF-8 bytes, not characters (finding 1)', () => {
      const multiByte = 'é'.repeat(16); // 16 characters, 32 bytes
      expect(resolve({ JWT_SECRET: multiByte }).jwt.key).toBe(multiByte);
      expect(() => resolve({ JWT_SECRET: 'é'.repeat(15) + 'a' })).toThrow(RealtimeConfigError); // 31 bytes
    });
  });

  describe('JWT_PUBLIC_KEY', () => {
    it('an RSA key selects RS256', () => {
      const pem = publicPem('rsa');
      expect(resolve({ JWT_PUBLIC_KEY: pem }).jwt).toMatchObject({ key: pem, algorithm: 'RS256' });
    });

    it('a P-256 key selects ES256', () => {
      const pem = publicPem('ec', 'P-256');
      expect(resolve({ JWT_PUBLIC_KEY: pem }).jwt).toMatchObject({ key: pem, algorithm: 'ES256' });
    });

    it('an explicit public key is used the same way', () => {
      const pem = publicPem('ec', 'P-256');
      expect(resolve({}, { jwt: { publicKey: pem } }).jwt.algorithm).toBe('ES256');
    });

    it.each(['P-384', 'P-521', 'secp256k1'])('an EC key on %s is refused', (curve) => {
      expect(configError(() => resolve({ JWT_PUBLIC_KEY: publicPem('ec', curve) })).message).toMatch(/JWT_PUBLIC_KEY/);
    });

    it('an Ed25519 key is refused', () => {
      expect(configError(() => resolve({ JWT_PUBLIC_KEY: publicPem('ed25519') })).message).toMatch(/JWT_PUBLIC_KEY/);
    });

    it('garbage is refused', () => {
      expect(configError(() => resolve({ JWT_PUBLIC_KEY: 'not a pem' })).message).toMatch(/JWT_PUBLIC_KEY/);
    });

    it('secret and public key together are refused', () => {
      const pem = publicPem('ec', 'P-256');
      for (const fn of [
        () => resolve({ JWT_SECRET: SECRET, JWT_PUBLIC_KEY: pem }),
        () => resolve({}, { jwt: { secret: SECRET, publicKey: pem } }),
      ]) {
        const err = configError(fn);
        expect(err.message).toMatch(/JWT_SECRET/);
        expect(err.message).toMatch(/JWT_PUBLIC_KEY/);
      }
    });
  });

  describe('REALTIME_API_KEY', () => {
    it('shorter than 32 characters fails, naming REALTIME_API_KEY', () => {
      expect(configError(() => resolve({ ...BASE_ENV, REALTIME_API_KEY: 'k'.repeat(31) })).message).toMatch(/REALTIME_API_KEY/);
      expect(configError(() => resolve({ ...BASE_ENV }, { apiKey: 'short' })).message).toMatch(/REALTIME_API_KEY/);
    });

    it('32 characters or more is accepted', () => {
      expect(resolve({ ...BASE_ENV, REALTIME_API_KEY: 'k'.repeat(32) }).apiKey).toBe('k'.repeat(32));
    });

    it('blank counts as unset (HTTP API disabled)', () => {
      expect(resolve({ ...BASE_ENV, REALTIME_API_KEY: ' ' }).apiKey).toBeUndefined();
    });
  });

  describe('LOG_LEVEL (finding 25)', () => {
    it('defaults to info outside production', () => {
      expect(resolve({ ...BASE_ENV, NODE_ENV: 'development' }).logLevel).toBe('info');
    });

    it('defaults to warn under NODE_ENV=production', () => {
      expect(resolve({ ...BASE_ENV, NODE_ENV: 'production' }).logLevel).toBe('warn');
    });

    it('an explicit LOG_LEVEL wins in production', () => {
      expect(resolve({ ...BASE_ENV, NODE_ENV: 'production', LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
      expect(resolve({ ...BASE_ENV, NODE_ENV: 'production' }, { logLevel: 'error' }).logLevel).toBe('error');
    });

    it.each(['debug', 'info', 'warn', 'error'])('accepts %s', (level) => {
      expect(resolve({ ...BASE_ENV, LOG_LEVEL: level }).logLevel).toBe(level);
    });

    it('refuses an unknown level, naming LOG_LEVEL', () => {
      expect(configError(() => resolve({ ...BASE_ENV, LOG_LEVEL: 'verbose' })).message).toMatch(/LOG_LEVEL/);
    });
  });

  it('RealtimeConfigError is an Error with its own name', () => {
    const err = configError(() => resolve({}));
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('RealtimeConfigError');
  });
});

describe('review findings: startup checks', () => {
  it('R8: JWT_MAX_TOKEN_LIFETIME_MS defaults to 24 h; REVOCATION_TTL_MS shorter than it fails naming both', () => {
    expect(resolve({ ...BASE_ENV }).jwtMaxTokenLifetimeMs).toBe(86_400_000);
    const error = configError(() => resolve({ ...BASE_ENV, REVOCATION_TTL_MS: '3600000' }));
    expect(error.message).toMatch(/REVOCATION_TTL_MS/);
    expect(error.message).toMatch(/JWT_MAX_TOKEN_LIFETIME_MS/);
    expect(resolve({ ...BASE_ENV, REVOCATION_TTL_MS: '3600000', JWT_MAX_TOKEN_LIFETIME_MS: '3600000' }).revocationTtlMs).toBe(3_600_000);
  });

  it('R5: METRICS_TOKEN shorter than 32 characters fails naming it', () => {
    expect(configError(() => resolve({ ...BASE_ENV, METRICS_TOKEN: 'x'.repeat(31) })).message).toMatch(/METRICS_TOKEN/);
    expect(resolve({ ...BASE_ENV, METRICS_TOKEN: 'x'.repeat(32) }).metricsAccess).toBe('token');
  });

  it.each<[Record<string, string>, string]>([
    [{}, 'open'],
    [{ NODE_ENV: 'production' }, 'closed'],
    [{ NODE_ENV: 'production', METRICS_PUBLIC: 'true' }, 'open'],
    [{ NODE_ENV: 'production', METRICS_TOKEN: 'm'.repeat(32) }, 'token'],
  ])('R5: /metrics access with %j is %s', (env, access) => {
    expect(resolve({ ...BASE_ENV, ...env }).metricsAccess).toBe(access);
  });

  it('R4/R1: the new budgets have their contract defaults', () => {
    const config = resolve({ ...BASE_ENV });
    expect(config.maxPendingConnections).toBe(10_000);
    expect(config.ipv6PrefixBits).toBe(64);
    expect(config.chatHistoryMaxBytes).toBe(67_108_864);
    expect(configError(() => resolve({ ...BASE_ENV, WS_IPV6_PREFIX_BITS: '129' })).message).toMatch(/WS_IPV6_PREFIX_BITS/);
  });

  it('WS_WRITE_DELAY_MS: 0 (no coalescing beyond the turn) by default, at most 100', () => {
    expect(resolve({ ...BASE_ENV }).writeDelayMs).toBe(0);
    expect(configError(() => resolve({ ...BASE_ENV, WS_WRITE_DELAY_MS: '101' })).message).toMatch(/WS_WRITE_DELAY_MS must be at most 100/);
  });
});

describe('room and chat budgets (docs/protocol.md §11; findings R1, R3)', () => {
  it('CHAT_HISTORY_SHARDS: 1 by default, a whole number from 1 to CHAT_HISTORY_MAX_COMMODITIES (each shard holds a share of it)', () => {
    expect(resolve({ ...BASE_ENV }).chatHistoryShards).toBe(1);
    expect(resolve({ ...BASE_ENV, CHAT_HISTORY_SHARDS: '8' }).chatHistoryShards).toBe(8);
    for (const bad of ['0', '2.5', '10001']) {
      expect(configError(() => resolve({ ...BASE_ENV, CHAT_HISTORY_SHARDS: bad })).message).toMatch(/CHAT_HISTORY_SHARDS|chatHistoryShards/);
    }
  });

  it.each<[keyof RealtimeConfig, number]>([
    ['maxRoomConnectionsPerUser', 4],
    ['roomBroadcastBytesPerSec', 65536],
    ['chatRatePerSec', 2],
    ['chatRateBurst', 10],
  ])('R1/R3: %s defaults to %p', (key, expected) => {
    expect(resolve({ ...BASE_ENV })[key]).toBe(expected);
  });

  it('R1/R3: read from WS_MAX_ROOM_CONNECTIONS_PER_USER, WS_ROOM_BROADCAST_BYTES_PER_SEC, WS_CHAT_RATE_PER_SEC, WS_CHAT_RATE_BURST; options win', () => {
    const config = resolve({
      ...BASE_ENV,
      WS_MAX_ROOM_CONNECTIONS_PER_USER: '2',
      WS_ROOM_BROADCAST_BYTES_PER_SEC: '1000',
      WS_CHAT_RATE_PER_SEC: '0.5',
      WS_CHAT_RATE_BURST: '3',
    });
    expect([config.maxRoomConnectionsPerUser, config.roomBroadcastBytesPerSec, config.chatRatePerSec, config.chatRateBurst]).toEqual([2, 1000, 0.5, 3]);
    expect(resolve({ ...BASE_ENV, WS_CHAT_RATE_BURST: '3' }, { chatRateBurst: 7 }).chatRateBurst).toBe(7);
  });

  it.each([
    ['WS_MAX_ROOM_CONNECTIONS_PER_USER', '0'],
    ['WS_MAX_ROOM_CONNECTIONS_PER_USER', '1.5'],
    ['WS_ROOM_BROADCAST_BYTES_PER_SEC', '0'],
    ['WS_ROOM_BROADCAST_BYTES_PER_SEC', 'lots'],
    ['WS_CHAT_RATE_PER_SEC', '0'],
    ['WS_CHAT_RATE_BURST', '2.5'],
  ])('R1/R3: %s=%s is refused', (name, value) => {
    const err = configError(() => resolve({ ...BASE_ENV, [name]: value }));
    expect(err.message).toMatch(new RegExp(`${name}|${'maxRoomConnectionsPerUser|roomBroadcastBytesPerSec|chatRateBurst'}`));
  });
});

describe('Redis target (REDIS_URL or REDIS_CLUSTER_NODES)', () => {
  const KEY = { REDIS_SIGNING_KEY: 'k'.repeat(32) };

  it('REDIS_CLUSTER_NODES gives the cluster seeds, REDIS_URL a standalone server; neither: no Redis', () => {
    expect(resolve({ ...BASE_ENV, ...KEY, REDIS_CLUSTER_NODES: '10.0.0.1:7000, [::1]:7001' }).redis).toEqual({
      clusterNodes: [{ host: '10.0.0.1', port: 7000 }, { host: '::1', port: 7001 }],
      signingKey: KEY.REDIS_SIGNING_KEY,
      keyPrefix: 'realtime:',
      leaseTtlMs: 30000,
    });
    expect(resolve({ ...BASE_ENV, ...KEY, REDIS_URL: 'redis://r:6380' }).redis?.url).toBe('redis://r:6380');
    expect(resolve({ ...BASE_ENV, ...KEY }).redis).toBeUndefined();
  });

  it('both set is a startup error naming both', () => {
    const error = configError(() => resolve({ ...BASE_ENV, ...KEY, REDIS_URL: 'redis://r:6380', REDIS_CLUSTER_NODES: 'r:7000' }));
    expect(error.message).toMatch(/REDIS_URL/);
    expect(error.message).toMatch(/REDIS_CLUSTER_NODES/);
  });

  it('a malformed seed list, a missing signing key, or a brace in the key prefix on a cluster fail startup naming the variable', () => {
    expect(configError(() => resolve({ ...BASE_ENV, ...KEY, REDIS_CLUSTER_NODES: 'r:7000,nope' })).message).toMatch(/REDIS_CLUSTER_NODES.*"nope"/);
    expect(configError(() => resolve({ ...BASE_ENV, REDIS_CLUSTER_NODES: 'r:7000' })).message).toMatch(/REDIS_SIGNING_KEY.*REDIS_CLUSTER_NODES/);
    expect(configError(() => resolve({ ...BASE_ENV, ...KEY, REDIS_CLUSTER_NODES: 'r:7000', REDIS_KEY_PREFIX: 'rt{1}:' })).message).toMatch(/REDIS_KEY_PREFIX/);
    // on a standalone server a brace in the prefix is harmless
    expect(resolve({ ...BASE_ENV, ...KEY, REDIS_URL: 'redis://r', REDIS_KEY_PREFIX: 'rt{1}:' }).redis?.keyPrefix).toBe('rt{1}:');
  });
});
