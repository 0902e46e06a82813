/**
 * Shared by the Redis integration specs: a real Redis (never mocked), one key prefix per
 * spec file, keys deleted afterwards. Imports nothing from @nestjs/*.
 */
import { randomUUID } from 'node:crypto';
import type { Broker, BrokerMessage } from '../../src/publishing/broker.js';
import { RedisBroker } from '../../src/redis/redis-broker.js';
import { EnvelopeSigner } from '../../src/redis/signed-envelope.js';
import type { NamespaceName } from '../../src/protocol/namespaces.js';
import { type RecoveryHistory, recoveryStream, type StreamPosition, streamParts } from '../../src/recovery/recovery-history.js';
import { RedisConnection } from '../../src/redis/redis-connection.js';
import { RedisRecoveryHistory } from '../../src/redis/redis-recovery-history.js';
import { ShardChannels } from '../../src/redis/shard-channels.js';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from '../support/test-redis-env.js';

/** The run's own standalone Redis (started by jest's globalSetup). */
export const REDIS_URL = TEST_REDIS_URL;
export const SIGNING_KEY = 'k'.repeat(32) + '-test-signing-key';

export function uniquePrefix(): string {
  return `test:${randomUUID()}:`;
}

/** A connection under `prefix` whose errors are collected instead of logged. */
export class TestConnection extends RedisConnection {
  readonly errors: unknown[];

  /** `url`: a standalone Redis; `CLUSTER`: the run's three-master cluster. */
  constructor(prefix: string, url: string | typeof CLUSTER = REDIS_URL) {
    const errors: unknown[] = [];
    const target = url === CLUSTER ? { clusterNodes: TEST_REDIS_CLUSTER_NODES } : { url };
    super({ ...target, keyPrefix: prefix, onError: (_context, error) => errors.push(error), maxRetryDelayMs: 200 });
    this.errors = errors;
  }
}

/** Pass as `url` to connect to the run's Redis Cluster instead of a standalone server. */
export const CLUSTER = Symbol('the test Redis Cluster');

export async function connect(prefix: string, url: string | typeof CLUSTER = REDIS_URL): Promise<TestConnection> {
  const connection = new TestConnection(prefix, url);
  await connection.waitUntilReady(5000);
  return connection;
}

/** Deletes every key under the connection's prefix. */
export async function deleteKeys(connection: RedisConnection): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await connection.command.scan(cursor, 'MATCH', `${connection.prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await connection.command.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export async function keysUnder(connection: RedisConnection): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await connection.command.scan(cursor, 'MATCH', `${connection.prefix}*`, 'COUNT', 500);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it stops throwing, or rethrows its last error after `timeoutMs`. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 3000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(stepMs);
    }
  }
}

/**
 * The recovery history a node builds on `connection` (as src/redis/scale-out.providers.ts
 * does): a stream's keys in the slot of its shard channel, relays published the connection's way.
 */
export function recoveryHistoryOn(connection: RedisConnection): RedisRecoveryHistory {
  const shards = new ShardChannels(connection.prefix);
  return new RedisRecoveryHistory({
    client: connection.command,
    keyPrefix: connection.prefix,
    bounds: { size: 100, ttlMs: 60_000 },
    slotTag: (stream) => {
      const [namespace, topic] = streamParts(stream);
      return shards.slotTagOf(namespace as NamespaceName, topic);
    },
    publishCommand: connection.publishCommand,
    signingKey: SIGNING_KEY,
  });
}

/** A stream push of `tracking:<topic>` through `broker`, appended to `history` (what RecoverableStreams.publish does). */
export function publishTrackingPush(broker: Broker, history: RecoveryHistory, topic: string, n: number): Promise<StreamPosition> {
  const data = { n, trackingId: topic };
  const dataJson = JSON.stringify(data);
  const message = { type: 'topic', namespace: 'tracking', topics: [topic], event: 'tracking.update', data, dataJson } as const;
  return broker.publishToStream(message, (relay) => history.append(recoveryStream('tracking', topic), dataJson, relay));
}

/** Two "nodes" on one Redis (or the cluster): a broker on each, recording what it delivers into `got`. */
export async function twoBrokers(prefix: string, url: string | typeof CLUSTER, got: { a: BrokerMessage[]; b: BrokerMessage[] }) {
  const [connA, connB] = await Promise.all([connect(prefix, url), connect(prefix, url)]);
  const signer = new EnvelopeSigner(SIGNING_KEY);
  const a = new RedisBroker({ connection: connA, signer, nodeId: 'node-a' });
  const b = new RedisBroker({ connection: connB, signer, nodeId: 'node-b' });
  a.subscribe((m) => got.a.push(m));
  b.subscribe((m) => got.b.push(m));
  await Promise.all([a.whenSubscribed(), b.whenSubscribed()]);
  return { connA, connB, a, b };
}
