import { Cluster, Redis } from 'ioredis';

/** Where Redis connection errors go (a logger, a metric). Never throws. */
export type RedisErrorReporter = (context: string, error: unknown) => void;

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

export const DEFAULT_MAX_RETRY_DELAY_MS = 2000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** Exponential backoff from 50 ms, capped, forever (a non-number return would stop reconnecting). */
export function cappedBackoff(maxDelayMs: number): (attempt: number) => number {
  return (attempt) => Math.min(50 * 2 ** Math.min(attempt, 16), maxDelayMs);
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
 * Commands fail fast while Redis is unreachable (no offline queue): the caller answers 503
 * or counts a failed publish instead of replaying stale work later.
 */
export function createRedisClient(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  const report = options.onError ?? (() => undefined);
  const retry = cappedBackoff(options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS);
  const nodeOptions = {
    connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 2,
  };
  if ('url' in target) {
    const client = new Redis(target.url, { ...nodeOptions, enableOfflineQueue: false, retryStrategy: retry });
    client.on('error', (error: unknown) => report('redis command client', error));
    return client;
  }
  const cluster = new Cluster(seedList(target.clusterNodes), { enableOfflineQueue: false, clusterRetryStrategy: retry, redisOptions: nodeOptions });
  cluster.on('error', (error: unknown) => report('redis cluster client', error));
  cluster.on('node error', (error: unknown) => report('redis cluster node', error));
  connectEagerly(cluster);
  return cluster;
}

/**
 * ioredis connects to each cluster node on its first command; commands sent during that
 * first connect can reach Redis out of order (seen in tests: a burst of SPUBLISHes on one
 * channel arrived reordered). Connecting every node as soon as it is known keeps the
 * connection up before the first publish.
 */
function connectEagerly(cluster: Cluster): void {
  const connectWaiting = (): void => {
    for (const node of cluster.nodes('all')) if (node.status === 'wait') node.connect().catch(() => undefined);
  };
  cluster.on('ready', connectWaiting);
  // Only once ready: during the first connect ioredis replaces the seed nodes' connections with
  // those of the slot table, and connecting those early made its ready check fail and start
  // over, again and again (a node took seconds to get ready, sometimes longer than 10 s).
  cluster.on('+node', () => {
    if (cluster.status === 'ready') queueMicrotask(connectWaiting);
  });
}

/**
 * A client for pub/sub only. It queues SUBSCRIBEs issued before the first connect and
 * re-issues them after every reconnect. On a cluster it is ioredis' Cluster with
 * `shardedSubscribers`: one subscriber connection per master, SSUBSCRIBEs routed by slot and
 * re-issued on the new owner after a failover or a slot move (test/redis/redis-cluster-pubsub.spec.ts
 * covers what we rely on).
 */
export function createSubscriberClient(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  const report = options.onError ?? (() => undefined);
  const retry = cappedBackoff(options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS);
  const connectTimeout = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if ('url' in target) {
    const client = new Redis(target.url, { connectTimeout, retryStrategy: retry, enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true });
    client.on('error', (error: unknown) => report('redis subscriber client', error));
    return client;
  }
  const cluster = new Cluster(seedList(target.clusterNodes), {
    shardedSubscribers: true,
    enableOfflineQueue: true,
    clusterRetryStrategy: retry,
    redisOptions: { connectTimeout, maxRetriesPerRequest: null },
  });
  cluster.on('error', (error: unknown) => report('redis cluster subscriber', error));
  cluster.on('node error', (error: unknown) => report('redis cluster subscriber node', error));
  return cluster;
}

function seedList(seeds: readonly ClusterSeed[]): Array<{ host: string; port: number }> {
  return seeds.map((seed) => ({ host: seed.host, port: seed.port }));
}

/** Resolves once the client can take commands; rejects after `timeoutMs`. */
export function whenClientReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    client.once('ready', onReady);
  });
}
