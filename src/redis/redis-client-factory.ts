import { Cluster, Redis } from 'ioredis';
import { cappedBackoff, type RedisErrorReporter } from './redis-connection.js';

export { whenClientReady } from './redis-connection.js';

/**
 * A command client for a standalone Redis (`REDIS_URL`) or a Redis Cluster (seed nodes, e.g.
 * `REDIS_CLUSTER_NODES=10.0.0.1:7000,10.0.0.2:7000`). Stores that keep every key of one script
 * in one hash slot take either; ioredis' Cluster routes each script by its first key.
 */
export type RedisClient = Redis | Cluster;

export interface ClusterSeed {
  readonly host: string;
  readonly port: number;
}

export type RedisTarget = { readonly url: string } | { readonly clusterNodes: readonly ClusterSeed[] };

export interface RedisClientOptions {
  readonly onError?: RedisErrorReporter;
  /** Longest wait between reconnect attempts (ms). Reconnects never stop. */
  readonly maxRetryDelayMs?: number;
  /** A command without an answer after this long fails instead of hanging (ms). */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

/** Parses `host:port[,host:port…]`; throws RangeError naming the bad entry. */
export function parseClusterNodes(list: string): ClusterSeed[] {
  const seeds = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) throw new RangeError(`not a host:port cluster seed: "${entry}"`);
      return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
    });
  if (seeds.length === 0) throw new RangeError('no cluster seed nodes given');
  return seeds;
}

/**
 * Commands fail fast while Redis is unreachable (no offline queue), like RedisConnection's
 * command client: the caller answers 503 or counts a failed publish instead of replaying
 * stale work later.
 */
export function createRedisClient(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  const report = options.onError ?? (() => undefined);
  const retry = cappedBackoff(options.maxRetryDelayMs ?? 2000);
  const nodeOptions = {
    connectTimeout: options.connectTimeoutMs ?? 5000,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    maxRetriesPerRequest: 2,
  };
  if ('url' in target) {
    const client = new Redis(target.url, { ...nodeOptions, enableOfflineQueue: false, retryStrategy: retry });
    client.on('error', (error: unknown) => report('redis command client', error));
    return client;
  }
  const cluster = new Cluster(
    target.clusterNodes.map((seed) => ({ host: seed.host, port: seed.port })),
    { enableOfflineQueue: false, clusterRetryStrategy: retry, redisOptions: nodeOptions },
  );
  cluster.on('error', (error: unknown) => report('redis cluster client', error));
  cluster.on('node error', (error: unknown) => report('redis cluster node', error));
  return cluster;
}
