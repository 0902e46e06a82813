/**
 * The two kinds of Redis every store runs on (issue 15): the run's standalone server and its
 * three-master Cluster (both started by jest's globalSetup). A store spec wraps its body in
 * `describe.each(REDIS_KINDS)` and reaches Redis only through `connectKind`, so each test runs
 * once on each kind. Key listings walk every master (SCAN is per node on a Cluster).
 */
import { Cluster, type Redis } from 'ioredis';
import { createRedisClient, whenClientReady } from '../../src/redis/redis-client-factory.js';
import type { RedisKeyspace } from '../../src/redis/redis-keyspace.js';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from '../support/test-redis-env.js';
import { uniquePrefix } from './redis-helpers.js';

export type RedisKind = 'standalone' | 'cluster';
export const REDIS_KINDS: readonly RedisKind[] = ['standalone', 'cluster'];

/** A store's view of Redis (command client + prefix), with the errors its client reported. */
export interface TestKeyspace extends RedisKeyspace {
  readonly kind: RedisKind;
  readonly prefix: string;
  readonly errors: unknown[];
  close(): Promise<void>;
}

export async function connectKind(kind: RedisKind, prefix = uniquePrefix()): Promise<TestKeyspace> {
  const errors: unknown[] = [];
  const target = kind === 'standalone' ? { url: TEST_REDIS_URL } : { clusterNodes: TEST_REDIS_CLUSTER_NODES };
  const command = createRedisClient(target, { onError: (_context, error) => errors.push(error), maxRetryDelayMs: 200 });
  await whenClientReady(command, 10_000);
  return {
    kind,
    prefix,
    errors,
    command,
    key: (name) => prefix + name,
    close: async () => {
      await command.quit().catch(() => command.disconnect());
    },
  };
}

/** The servers holding keys: the standalone one, or every master of the Cluster. */
export function serversOf(keyspace: TestKeyspace): Redis[] {
  return keyspace.command instanceof Cluster ? keyspace.command.nodes('master') : [keyspace.command];
}

/** Every key under the keyspace's prefix (or `prefix`), on every server, sorted. */
export async function keysOf(keyspace: TestKeyspace, prefix = keyspace.prefix): Promise<string[]> {
  const found: string[] = [];
  for (const server of serversOf(keyspace)) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return found.sort();
}

/** Deletes every key under the keyspace's prefix (one DEL per key: keys of many slots). */
export async function deleteKeysOf(keyspace: TestKeyspace): Promise<void> {
  for (const key of await keysOf(keyspace)) await keyspace.command.del(key);
}

/** Sum of MEMORY USAGE over every key under `prefix`, asked of the server that holds each. */
export async function memoryOf(keyspace: TestKeyspace, prefix: string): Promise<{ bytes: number; keys: number }> {
  let bytes = 0;
  let keys = 0;
  for (const server of serversOf(keyspace)) {
    let cursor = '0';
    do {
      const [next, found] = await server.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      for (const key of found) {
        bytes += Number((await server.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
        keys += 1;
      }
      cursor = next;
    } while (cursor !== '0');
  }
  return { bytes, keys };
}

/** `redis://host:port` of every server of the kind (MONITOR watches one server each). */
export function urlsOf(kind: RedisKind): string[] {
  return kind === 'standalone' ? [TEST_REDIS_URL] : TEST_REDIS_CLUSTER_NODES.map(({ host, port }) => `redis://${host}:${port}`);
}

/**
 * Two connections ("nodes") of `kind` on one fresh prefix, opened before the enclosing
 * describe's tests and closed after them (`beforeClose` first, e.g. closing stores), with
 * every key under the prefix deleted. Read `pair.a`/`pair.b` inside tests.
 */
export function keyspacePair(kind: RedisKind, beforeClose: () => void = () => undefined): { a: TestKeyspace; b: TestKeyspace } {
  const pair = {} as { a: TestKeyspace; b: TestKeyspace };
  beforeAll(async () => {
    const prefix = uniquePrefix();
    [pair.a, pair.b] = await Promise.all([connectKind(kind, prefix), connectKind(kind, prefix)]);
  });
  afterAll(async () => {
    beforeClose();
    await deleteKeysOf(pair.a);
    await Promise.all([pair.a.close(), pair.b.close()]);
  });
  return pair;
}
