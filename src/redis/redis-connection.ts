import { Cluster } from 'ioredis';
import { ClusterHealth, withTimeout } from './cluster-health.js';
import {
  type ClusterSeed,
  createRedisClient,
  createSubscriberClient,
  type RedisClient,
  type RedisErrorReporter,
  type RedisTarget,
  whenClientReady,
} from './redis-client-factory.js';

export { cappedBackoff, type RedisErrorReporter, whenClientReady } from './redis-client-factory.js';

export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]` (REDIS_URL) … */
  readonly url?: string;
  /** … or the seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES); exactly one of the two. */
  readonly clusterNodes?: readonly ClusterSeed[];
  /** Prepended to every key and channel, e.g. `rt:`; lets many deployments or test runs share one Redis. */
  readonly keyPrefix?: string;
  readonly onError?: RedisErrorReporter;
  /** Longest wait between reconnect attempts (ms). Reconnects never stop. */
  readonly maxRetryDelayMs?: number;
  /** A command without an answer after this long fails instead of hanging (ms). */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** On a cluster: how often every slot owner is asked whether it answers and sees the cluster whole (ms). */
  readonly clusterHealthIntervalMs?: number;
}

/** A pub/sub message listener: the channel and the payload. */
export type ChannelListener = (channel: string, message: string) => void;

/**
 * The two clients of a node, on a standalone Redis or a Redis Cluster: one for commands, one
 * for pub/sub (a client in subscriber mode can run nothing else). Pub/sub goes through
 * `publish`/`subscribe` here, which use sharded pub/sub (SPUBLISH/SSUBSCRIBE) on a cluster:
 * a channel then lives on the master of its slot instead of being broadcast to every node
 * of the cluster, so pub/sub traffic scales with the masters.
 *
 * The prefix is applied by `key()` rather than ioredis' `keyPrefix`, because ioredis does
 * not prefix keys that Lua scripts build themselves, and some of ours do.
 */
export class RedisConnection {
  readonly command: RedisClient;
  /** Replaced (cluster) when it stays deaf after a lost master came back; see onClusterVerdict. */
  #subscriber: RedisClient;
  private readonly target: RedisTarget;
  private readonly listeners = new Set<ChannelListener>();
  readonly prefix: string;
  /** A Redis Cluster: multi-key scripts need their keys in one slot, pub/sub is sharded. */
  readonly isCluster: boolean;
  /** On a cluster: every master that owns slots answers (readiness); null on a standalone Redis. */
  private readonly clusterHealth: ClusterHealth | null;
  /** Channels this node asked for (cluster): re-issued when the cluster is whole again. */
  private readonly channels = new Set<string>();
  /** False from a lost master until every channel was confirmed again (cluster). */
  private subscriptionsConfirmed = true;
  private resubscribing = false;
  private readonly onError: RedisErrorReporter;
  private closed = false;

  constructor(private readonly options: RedisConnectionOptions) {
    this.prefix = options.keyPrefix ?? '';
    const target = redisTarget(options);
    this.target = target;
    // Commands fail fast during an outage (the caller answers 503 or counts a failed
    // publish) instead of piling up in a queue that replays stale work later.
    this.command = createRedisClient(target, options);
    // SUBSCRIBE issued before the first connect waits for it, and is re-issued after every reconnect.
    this.#subscriber = createSubscriberClient(target, options);
    this.isCluster = this.command instanceof Cluster;
    this.onError = options.onError ?? (() => undefined);
    this.clusterHealth =
      this.command instanceof Cluster ? new ClusterHealth(this.command, options.clusterHealthIntervalMs, (healthy) => this.onClusterVerdict(healthy)) : null;
  }

  /** The pub/sub client. */
  get subscriber(): RedisClient {
    return this.#subscriber;
  }

  /** A full key or channel name under this connection's prefix. */
  key(name: string): string {
    return this.prefix + name;
  }

  /** PUBLISH, or SPUBLISH on a cluster; resolves with the receivers Redis counted. */
  async publish(channel: string, message: string): Promise<number> {
    return Number(this.isCluster ? await this.command.spublish(channel, message) : await this.command.publish(channel, message));
  }

  /** The command a Lua script uses to publish from inside Redis (the same choice as `publish`). */
  get publishCommand(): 'publish' | 'spublish' {
    return this.isCluster ? 'spublish' : 'publish';
  }

  /**
   * SUBSCRIBE (SSUBSCRIBE on a cluster, one call per slot) to `channels`; resolves once Redis
   * confirmed every one. Messages go to the listeners of `onMessage`.
   */
  async subscribe(channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return;
    if (!this.isCluster) {
      await this.subscriber.subscribe(...channels);
      return;
    }
    for (const channel of channels) this.channels.add(channel);
    // A sharded SSUBSCRIBE takes channels of one slot only; ours each carry their own hash tag.
    await Promise.all(channels.map((channel) => this.subscriber.ssubscribe(channel)));
  }

  async unsubscribe(channels: readonly string[]): Promise<void> {
    if (channels.length === 0 || this.subscriber.status !== 'ready') return;
    if (!this.isCluster) {
      await this.subscriber.unsubscribe(...channels);
      return;
    }
    for (const channel of channels) this.channels.delete(channel);
    await Promise.all(channels.map((channel) => this.subscriber.sunsubscribe(channel)));
  }

  onMessage(listener: ChannelListener): void {
    this.listeners.add(listener);
    this.subscriber.on(this.messageEvent, listener);
  }

  offMessage(listener: ChannelListener): void {
    this.listeners.delete(listener);
    this.subscriber.off(this.messageEvent, listener);
  }

  private get messageEvent(): 'smessage' | 'message' {
    return this.isCluster ? 'smessage' : 'message';
  }

  /**
   * Both clients are connected and, on a cluster, every master that owns slots answers with
   * the cluster whole (readiness is 503 otherwise: a lost master makes part of the topics,
   * leases and rooms unreachable).
   */
  isReady(): boolean {
    return (
      !this.closed &&
      this.command.status === 'ready' &&
      this.subscriber.status === 'ready' &&
      (this.clusterHealth?.isHealthy() ?? true) &&
      this.subscriptionsConfirmed
    );
  }

  /**
   * After a lost master (or the whole cluster) came back, ioredis' sharded subscribers do not
   * always re-issue every SSUBSCRIBE: a node could turn ready while deaf to some shard
   * channels, and its stream subscribers (delivered from the relay) would miss pushes. So a
   * lost master marks the subscriptions unconfirmed, and once the cluster is whole every
   * channel is subscribed again (idempotent in Redis); readiness waits for the confirmations
   * and retries on the next verdict if they fail.
   */
  private onClusterVerdict(healthy: boolean): void {
    if (!healthy) {
      if (this.channels.size > 0) this.subscriptionsConfirmed = false;
      return;
    }
    if (this.subscriptionsConfirmed || this.resubscribing || this.closed) return;
    this.resubscribing = true;
    void this.resubscribe().finally(() => {
      this.resubscribing = false;
    });
  }

  /** Every channel again on the current subscriber; when that fails, on a new subscriber client. */
  private async resubscribe(): Promise<void> {
    const channels = [...this.channels];
    const confirm = (client: RedisClient): Promise<unknown> =>
      withTimeout(Promise.all(channels.map((channel) => client.ssubscribe(channel))), RESUBSCRIBE_TIMEOUT_MS);
    try {
      await confirm(this.subscriber);
      this.subscriptionsConfirmed = true;
      return;
    } catch (error) {
      this.onError('redis cluster resubscribe', error);
    }
    // Messages in flight between the two clients may be lost; the node is not ready meanwhile,
    // and stream subscribers recover what they missed with `since`.
    const stale = this.#subscriber;
    for (const listener of this.listeners) stale.off(this.messageEvent, listener);
    stale.disconnect(false);
    if (this.closed) return;
    const fresh = createSubscriberClient(this.target, this.options);
    this.#subscriber = fresh;
    for (const listener of this.listeners) fresh.on(this.messageEvent, listener);
    try {
      await confirm(fresh);
      this.subscriptionsConfirmed = true;
    } catch (error) {
      this.onError('redis cluster resubscribe (new client)', error);
    }
  }

  /** Resolves once both clients are connected; rejects after `timeoutMs`. */
  async waitUntilReady(timeoutMs = 10_000): Promise<void> {
    await Promise.all([whenClientReady(this.command, timeoutMs), whenClientReady(this.subscriber, timeoutMs)]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clusterHealth?.close();
    await Promise.all([quit(this.command), quit(this.subscriber)]);
  }
}

/** How long a re-subscription after a lost master may take before the next verdict retries it (ms). */
const RESUBSCRIBE_TIMEOUT_MS = 5000;

function redisTarget(options: RedisConnectionOptions): RedisTarget {
  if ((options.url === undefined) === (options.clusterNodes === undefined)) {
    throw new RangeError('a Redis connection needs exactly one of url and clusterNodes');
  }
  return options.url !== undefined ? { url: options.url } : { clusterNodes: options.clusterNodes! };
}

/** QUIT when connected (flushes pending replies), otherwise just stop reconnecting. */
async function quit(client: RedisClient): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through: the connection went away meanwhile
    }
  }
  client.disconnect(false);
}
