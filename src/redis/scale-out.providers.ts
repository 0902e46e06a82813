import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { InMemoryRevocationStore, REVOCATION_STORE, type RevocationStore } from '../auth/revocation-store.js';
import { CHAT_HISTORY_STORE, type ChatHistoryBounds, type ChatHistoryStore, InMemoryChatHistoryStore } from '../chat/chat-history.store.js';
import { InMemoryUserConnectionCounter, USER_CONNECTION_COUNTER, type UserConnectionCounter } from '../connection/user-connection-counter.js';
import { READINESS_INDICATORS, type ReadinessIndicator } from '../http/readiness-indicator.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { BROKER, type Broker, InMemoryBroker } from '../publishing/broker.js';
import { COMMODITY_MEMBER_STORE, InMemoryRoomPresenceStore, ROOM_PRESENCE_STORE, type RoomPresenceStore } from '../subscriptions/room-presence.store.js';
import { CHAT_RATE_LIMITER, type ChatRateLimiter, InMemoryChatRateLimiter } from '../chat/chat-rate-limiter.js';
import type { NamespaceName } from '../protocol/namespaces.js';
import { InMemoryRecoveryHistory, RECOVERY_HISTORY, type RecoveryBounds, type RecoveryHistory, streamParts } from '../recovery/recovery-history.js';
import { RedisBroker } from './redis-broker.js';
import { RedisRecoveryHistory } from './redis-recovery-history.js';
import { ShardChannels } from './shard-channels.js';
import { RedisChatHistoryStore } from './redis-chat-history.store.js';
import { RedisChatRateLimiter } from './redis-chat-rate-limiter.js';
import { RedisConnection } from './redis-connection.js';
import { RedisRevocationStore } from './redis-revocation.store.js';
import { RedisRoomPresenceStore } from './redis-room-presence.store.js';
import { RedisUserConnectionCounter } from './redis-user-connection-counter.js';
import { EnvelopeSigner } from './signed-envelope.js';

/** The node's Redis clients, or null when neither REDIS_URL nor REDIS_CLUSTER_NODES is set. */
export const REDIS_CONNECTION = Symbol('REDIS_CONNECTION');
/** This process's id among the nodes (lease and presence owner, broker echo filter). */
export const NODE_ID = Symbol('NODE_ID');

type Connection = RedisConnection | null;

/** Chooses each shared backend at startup: Redis when REDIS_URL or REDIS_CLUSTER_NODES is set, memory otherwise. */
function backend<T>(token: symbol, inMemory: (config: RealtimeConfig) => T, redis: (connection: RedisConnection, config: RealtimeConfig, nodeId: string, logger: RealtimeLogger) => T): Provider {
  return {
    provide: token,
    inject: [REALTIME_CONFIG, REDIS_CONNECTION, NODE_ID, RealtimeLogger],
    useFactory: (config: RealtimeConfig, connection: Connection, nodeId: string, logger: RealtimeLogger) =>
      connection ? redis(connection, config, nodeId, logger) : inMemory(config),
  };
}

const reporter = (logger: RealtimeLogger) => (context: string, error: unknown) => logger.warn(context, describeError(error));

/** Closes what the Redis backends hold, after the drain (connections release their leases first). */
@Injectable()
export class RedisShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS_CONNECTION) private readonly connection: Connection,
    @Inject(BROKER) private readonly broker: unknown,
    @Inject(USER_CONNECTION_COUNTER) private readonly counter: unknown,
    @Inject(ROOM_PRESENCE_STORE) private readonly presence: unknown,
    @Inject(COMMODITY_MEMBER_STORE) private readonly commodityMembers: unknown,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (!this.connection) return;
    if (this.counter instanceof RedisUserConnectionCounter) this.counter.close();
    for (const store of [this.presence, this.commodityMembers]) if (store instanceof RedisRoomPresenceStore) store.close();
    if (this.broker instanceof RedisBroker) await this.broker.close();
    await this.connection.close();
  }
}

/**
 * Scale-out wiring (issue 5): with REDIS_URL, N nodes behave as one: signed cross-node
 * fan-out, cluster-wide per-user caps as leases, shared chat history, revocations and
 * room presence; readiness follows Redis. Without it, the in-memory backends.
 */
export const SCALE_OUT_PROVIDERS: Provider[] = [
  { provide: NODE_ID, useFactory: () => randomUUID() },
  {
    provide: REDIS_CONNECTION,
    inject: [REALTIME_CONFIG, RealtimeLogger],
    useFactory: (config: RealtimeConfig, logger: RealtimeLogger): Connection =>
      config.redis
        ? new RedisConnection({ url: config.redis.url, clusterNodes: config.redis.clusterNodes, keyPrefix: config.redis.keyPrefix, onError: reporter(logger) })
        : null,
  },
  backend<Broker>(
    BROKER,
    () => new InMemoryBroker(),
    (connection, config, nodeId, logger) =>
      new RedisBroker({ connection, signer: new EnvelopeSigner(config.redis!.signingKey), nodeId, onError: reporter(logger) }),
  ),
  backend<UserConnectionCounter>(
    USER_CONNECTION_COUNTER,
    () => new InMemoryUserConnectionCounter(),
    (connection, config, nodeId, logger) =>
      new RedisUserConnectionCounter({ connection, nodeId, leaseTtlMs: config.redis!.leaseTtlMs, onError: reporter(logger) }),
  ),
  backend<ChatHistoryStore>(
    CHAT_HISTORY_STORE,
    (config) => new InMemoryChatHistoryStore(chatBounds(config)),
    (connection, config, _nodeId, logger) =>
      new RedisChatHistoryStore({
        connection,
        bounds: chatBounds(config),
        shards: config.chatHistoryShards,
        signingKey: config.redis!.signingKey,
        onError: reporter(logger),
      }),
  ),
  backend<ChatRateLimiter>(
    CHAT_RATE_LIMITER,
    (config) => new InMemoryChatRateLimiter(config.chatRatePerSec, config.chatRateBurst),
    (connection, config) => new RedisChatRateLimiter({ connection, perSec: config.chatRatePerSec, burst: config.chatRateBurst }),
  ),
  {
    provide: REVOCATION_STORE,
    inject: [REDIS_CONNECTION, RealtimeLogger],
    useFactory: (connection: Connection, logger: RealtimeLogger): RevocationStore =>
      connection
        ? new RedisRevocationStore({ connection })
        : new InMemoryRevocationStore(Date.now, (error) => logger.error('revocation refused: store full', { kind: error.kind })),
  },
  backend<RecoveryHistory>(
    RECOVERY_HISTORY,
    (config) => new InMemoryRecoveryHistory(recoveryBounds(config)),
    (connection, config) => {
      const shards = new ShardChannels(connection.prefix);
      return new RedisRecoveryHistory({
        client: connection.command,
        keyPrefix: connection.prefix,
        bounds: recoveryBounds(config),
        // A stream's keys share the slot of its shard channel, which the append script publishes to.
        slotTag: (stream) => {
          const [namespace, topic] = streamParts(stream);
          return shards.slotTagOf(namespace as NamespaceName, topic);
        },
        publishCommand: connection.publishCommand,
        signingKey: config.redis!.signingKey,
      });
    },
  ),
  backend<RoomPresenceStore>(
    ROOM_PRESENCE_STORE,
    () => new InMemoryRoomPresenceStore(),
    (connection, _config, nodeId, logger) => new RedisRoomPresenceStore({ connection, nodeId, onError: reporter(logger) }),
  ),
  backend<RoomPresenceStore>(
    COMMODITY_MEMBER_STORE,
    () => new InMemoryRoomPresenceStore(),
    (connection, _config, nodeId, logger) =>
      new RedisRoomPresenceStore({ connection, nodeId, kind: 'commodity', listMembers: false, onError: reporter(logger) }),
  ),
  {
    provide: READINESS_INDICATORS,
    inject: [REDIS_CONNECTION],
    useFactory: (connection: Connection): ReadinessIndicator[] => (connection ? [{ name: 'redis', isHealthy: () => connection.isReady() }] : []),
  },
  RedisShutdown,
];

function recoveryBounds(config: RealtimeConfig): RecoveryBounds {
  return { size: config.recoveryHistorySize, ttlMs: config.recoveryHistoryTtlMs, maxStreams: config.recoveryMaxStreams, maxBytes: config.recoveryHistoryMaxBytes };
}

function chatBounds(config: RealtimeConfig): ChatHistoryBounds {
  return { size: config.chatHistorySize, ttlMs: config.chatHistoryTtlMs, maxCommodities: config.chatHistoryMaxCommodities, maxBytes: config.chatHistoryMaxBytes };
}
