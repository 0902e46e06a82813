/**
 * Helpers for the multi-node suites (issue 5: scale-out on Redis). Every node is a harness
 * child process; they share one real Redis (the run's own, see global-setup.ts: its standalone
 * server or its three-master cluster) under a key prefix unique to the test file.
 * Pure test-side code: nothing here imports Nest or src/.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type { RealtimeOptions } from '../../src/config/realtime-options.js';
import { type Client, eventually, type Frame, onTestRedis, type ServerHandle, sleep, startServer, type TestRedis } from './harness.js';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from './test-redis-env.js';

/** The run's own standalone Redis (started by jest's globalSetup). */
export const REDIS_URL = TEST_REDIS_URL;
export const SIGNING_KEY = 'cluster-e2e-signing-key-0123456789abcdef';
export const API_KEY = 'cluster-e2e-api-key-0123456789abcdefghij';

/** A key prefix no other test run uses, e.g. `e2e:delivery:<uuid>:`. */
export const uniquePrefix = (suite: string): string => `e2e:${suite}:${randomUUID()}:`;

/** Options of one node of a fleet on `prefix`, on the run's standalone Redis (default) or its cluster. */
export function nodeOptions(prefix: string, extra: RealtimeOptions = {}, redis: TestRedis = 'standalone'): RealtimeOptions {
  return { ...onTestRedis(redis), redisSigningKey: SIGNING_KEY, redisKeyPrefix: prefix, apiKey: API_KEY, ...extra };
}

/** A test's own command client on the run's Redis of `redis` (a Cluster client routes each key to its master). */
export function testRedisClient(redis: TestRedis): Redis | Cluster {
  return redis === 'cluster' ? new Cluster([...TEST_REDIS_CLUSTER_NODES]) : new Redis(REDIS_URL);
}

/** The servers that hold keys and serve pub/sub: the standalone one, or every master. */
export function serversOf(client: Redis | Cluster): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** `redis://host:port` of every server of `redis` (MONITOR, INFO and SCAN see one server each). */
export function redisUrls(redis: TestRedis): string[] {
  return redis === 'cluster' ? TEST_REDIS_CLUSTER_NODES.map(({ host, port }) => `redis://${host}:${port}`) : [REDIS_URL];
}

/**
 * PUBLISH `wire` on `channelName` as a node would (SPUBLISH on a cluster, where the nodes use
 * sharded pub/sub); resolves with the receivers Redis counted.
 */
export async function publishRaw(client: Redis | Cluster, channelName: string, wire: string): Promise<number> {
  return client instanceof Cluster ? Number(await client.spublish(channelName, wire)) : client.publish(channelName, wire);
}

/**
 * Listens to `channels` as a node would (SSUBSCRIBE on a cluster) until the returned function
 * is called; `onMessage` gets each channel and payload.
 */
export async function listenRaw(redis: TestRedis, channels: readonly string[], onMessage: (channelName: string, wire: string) => void): Promise<() => void> {
  if (redis === 'standalone') {
    const sub = new Redis(REDIS_URL);
    sub.on('message', onMessage);
    await sub.subscribe(...channels);
    return () => sub.disconnect();
  }
  const sub = new Cluster([...TEST_REDIS_CLUSTER_NODES], { shardedSubscribers: true });
  sub.on('smessage', onMessage);
  for (const name of channels) await sub.ssubscribe(name);
  return () => sub.disconnect();
}

/** `GET /health/ready` as status and parsed body. */
export async function readiness(server: ServerHandle): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(server.http('/health/ready'));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Waits until the node reports ready (its Redis clients are connected). */
export async function waitReady(server: ServerHandle, timeoutMs = 10_000): Promise<void> {
  await eventually(async () => (await readiness(server)).status === 200, timeoutMs, 50);
}

/** Starts `count` nodes with the same options (on the standalone Redis or the cluster) and waits until each is ready. */
export async function startCluster(count: number, options: RealtimeOptions, redis?: TestRedis): Promise<ServerHandle[]> {
  const nodes = await Promise.all(Array.from({ length: count }, () => startServer({ options, ...(redis ? { redis } : {}) })));
  await Promise.all(nodes.map((node) => waitReady(node)));
  return nodes;
}

/** Deletes every key under `prefix` on the run's Redis of `redis` (SCAN per server, never KEYS; one DEL per key: keys of many slots). */
export async function deleteKeys(prefix: string, redis: TestRedis = 'standalone'): Promise<void> {
  const client = testRedisClient(redis);
  try {
    for (const key of await keysUnder(client, prefix)) await client.del(key);
  } finally {
    client.disconnect();
  }
}

/** Keys currently under `prefix`, on every server (SCAN sees one server each). */
export async function keysUnder(client: Redis | Cluster, prefix: string): Promise<string[]> {
  if (client instanceof Cluster && client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  const found: string[] = [];
  for (const server of serversOf(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** `POST /realtime/<path>` with the API key; returns status and parsed body. */
export async function api(server: ServerHandle, path: 'publish' | 'disconnect' | 'revoke', body: unknown, key = API_KEY): Promise<{ status: number; body: unknown }> {
  const res = await fetch(server.http(`/realtime/${path}`), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

/** Calls a RealtimePublisher method inside `server`. */
export function publish(server: ServerHandle, method: string, ...args: unknown[]): Promise<unknown> {
  return server.request({ cmd: 'publish', method, args });
}

/** How long a test waits after the last expected frame before counting (duplicates would have arrived). */
export const QUIET_MS = 400;

/**
 * Waits until each client has at least one `event` frame matching `match`, then a quiet
 * period, and returns how many each one got (to assert exactly once).
 */
export async function countAfterQuiet(clients: readonly Client[], event: string, match: (f: Frame) => boolean = () => true, expectAtLeastOne = true): Promise<number[]> {
  const count = (c: Client) => c.frames.filter((f) => f.event === event && match(f)).length;
  if (expectAtLeastOne) {
    await eventually(() => clients.every((c) => count(c) >= 1), 5000).catch(() => {
      throw new Error(`not every client got ${event}: ${JSON.stringify(clients.map((c) => c.frames.filter((f) => f.event === event)))}`);
    });
  }
  await sleep(QUIET_MS);
  return clients.map(count);
}

/** Publishes one tracking update per topic on `publisher` (status `round`) and expects each on `watcher` exactly once. */
export async function trackingDeliveredOnce(publisher: ServerHandle, watcher: Client, topics: readonly string[], round: string): Promise<void> {
  for (const trackingId of topics) await publish(publisher, 'trackingUpdate', trackingId, { status: round });
  const count = (trackingId: string) => watcher.all('tracking.update').filter((f) => f.data?.trackingId === trackingId && f.data?.status === round).length;
  await eventually(() => topics.every((trackingId) => count(trackingId) >= 1), 3000);
  await sleep(QUIET_MS);
  expect(topics.map(count)).toEqual(topics.map(() => 1));
}

/** Rounds of `trackingDeliveredOnce` until one passes (Redis came back: shards resubscribe one by one); fails after `timeoutMs`. */
export async function trackingDeliveredOnceAgain(publisher: ServerHandle, watcher: Client, topics: readonly string[], timeoutMs = 15_000): Promise<void> {
  await eventually(async () => {
    try {
      await trackingDeliveredOnce(publisher, watcher, topics, `after-${Date.now()}`);
      return true;
    } catch {
      return false;
    }
  }, timeoutMs, 200);
}

/** Frames received (any event but `connected`) — for "nothing arrived" checks. */
export const pushes = (client: Client, event?: string): Frame[] =>
  client.frames.filter((f) => f.event !== 'connected' && (event === undefined || f.event === event));

/** The wire format of src/redis/signed-envelope.ts: `<base64url HMAC-SHA256>.<json {v, node, ts, msg}>`. */
export function signEnvelope(
  key: string,
  envelope: { v?: number; node: string; epoch?: string; seq?: number; ch: string; ts: number; msg: unknown },
): string {
  const { v = 2, node, epoch = 'test-epoch', seq = 1, ch, ts, msg } = envelope;
  const json = JSON.stringify({ v, node, epoch, seq, ch, ts, msg });
  return `${createHmac('sha256', Buffer.from(key, 'utf8')).update(json, 'utf8').digest('base64url')}.${json}`;
}

/**
 * The channel a node listens on for `name`: a namespace's namespace-wide channel, `control`,
 * or `<namespace>.<shard>` for a shard of topics (src/redis/shard-channels.ts).
 */
export const channel = (prefix: string, name: string): string => `${prefix}bus:{${name}}`;

/**
 * The shard channel name (for `channel`) of a topic: `<namespace>.<FNV-1a(topic) mod 64>`.
 * Computed here independently of src/, so a change of the hash (which would split a fleet
 * running two versions) fails the suites that use it.
 */
export function topicShard(namespace: string, topic: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < topic.length; i += 1) hash = Math.imul(hash ^ topic.charCodeAt(i), 0x01000193);
  return `${namespace}.${(hash >>> 0) % 64}`;
}

/** The value of one sample in Prometheus text, 0 when absent. */
export async function metric(server: ServerHandle, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(server.http('/metrics'))).text();
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(pair[1]!, pair[2]!);
    if (wanted.every(([k, v]) => have.get(k) === v) && have.size === wanted.length) return Number(m[4]);
  }
  return 0;
}

export { redisCommandsOn } from './redis-monitor.js';
