import type { NamespaceDescriptor } from '../protocol/namespace-descriptor.js';
import { NAMESPACES, type NamespaceName } from '../protocol/namespaces.js';
import type { StreamPosition } from '../recovery/recovery-history.js';
import { type Broker, type BrokerHandler, type BrokerMessage, BrokerUnavailableError, type StreamAppend, type TopicMessage } from '../publishing/broker.js';
import { parseRelayed } from './redis-recovery-history.js';
import type { RedisConnection, RedisErrorReporter } from './redis-connection.js';
import { type ChannelRole, ShardChannels, shardOf } from './shard-channels.js';
import { type EnvelopeRejection, type EnvelopeSigner, ReplayGuard } from './signed-envelope.js';

/** Why a received message was dropped: a bad envelope, or a payload that is no broker message for its channel. */
export type BrokerRejection = EnvelopeRejection | 'invalid_message';

export interface RedisBrokerStats {
  /** Messages this node published to Redis successfully. */
  readonly published: number;
  /** Publishes that Redis did not accept (outage); each one rejected its caller. */
  readonly publishFailures: number;
  /** Messages from other nodes delivered to the local handlers. */
  readonly received: number;
  /** Our own messages coming back from Redis, ignored (already delivered locally). */
  readonly ownEchoes: number;
  /** Recoverable stream pushes delivered from their relay (every node's, this node's included). */
  readonly relayed: number;
  readonly rejected: Readonly<Record<BrokerRejection, number>>;
}

export interface RedisBrokerOptions {
  readonly connection: RedisConnection;
  readonly signer: EnvelopeSigner;
  /** Unique per process (e.g. a random UUID): envelopes from this id are our own echoes. */
  readonly nodeId: string;
  readonly onError?: RedisErrorReporter;
}

const MESSAGE_TYPES = new Set<string>(['topic', 'namespace', 'targeted', 'close']);

/**
 * Cross-node `Broker` over Redis pub/sub (sharded pub/sub on a Redis Cluster), with every
 * envelope signed.
 *
 * Channel layout (src/redis/shard-channels.ts): per namespace with topics a fixed set of
 * shard channels `<prefix>bus:{<namespace>.<shard>}`, shard = FNV-1a(topic) mod 64; per
 * namespace one channel `<prefix>bus:{<namespace>}` for namespace-wide and targeted
 * messages; one `<prefix>bus:{control}` for `close`. Each node subscribes to all of them
 * once, at start, and filters on receipt (a Map lookup in its subscription registry).
 *
 * Why not a channel per topic a node has local interest in: topics are unbounded (every
 * trackingId, projectId, room), so per-topic channels would mean a SUBSCRIBE/UNSUBSCRIBE
 * round trip on every first/last local subscriber, a window where a message published
 * before the SUBSCRIBE lands is lost, and Redis memory per (channel, node). With a fixed set
 * a node holds a few hundred subscriptions whatever the topic count.
 * Why shards at all, not one channel per namespace: on a Redis Cluster, SPUBLISH/SSUBSCRIBE
 * keep a channel on the master that owns its slot instead of broadcasting every message
 * over the cluster bus to every node; one channel per namespace would put a namespace's whole
 * traffic on one master. 64 hash-tagged shards spread it over every master (and give a
 * recoverable stream's history keys a slot shared with its channel, so the append script
 * can SPUBLISH its relay). The price: a message for topics of several shards is one publish
 * per shard, and every node still receives every message of a namespace, which is the right
 * trade for a fleet behind one load balancer where most nodes have a subscriber of most
 * busy topics.
 *
 * Whoever can PUBLISH on our Redis (without the key) could still replay what they captured:
 * envelopes carry the full channel name and a per-node (epoch, sequence) inside the signed
 * bytes, so a copy is dropped whether it comes again on the same channel, another channel or
 * under another key prefix, and counted by reason. A message must also be on the channel its
 * namespace and topics map to (else `invalid_message`). The replay guard tracks each sender
 * per channel: on a cluster the channels of one sender reach us over different connections,
 * so only the order within a channel is guaranteed.
 */
export class RedisBroker implements Broker {
  private readonly handlers: BrokerHandler[] = [];
  private readonly channels: ShardChannels;
  private readonly subscribed: Promise<void>;
  private readonly counters = { published: 0, publishFailures: 0, received: 0, ownEchoes: 0, relayed: 0 };
  private readonly rejected: Record<BrokerRejection, number> = {
    unsigned: 0,
    malformed: 0,
    forged: 0,
    stale: 0,
    oversized: 0,
    wrong_channel: 0,
    replayed: 0,
    invalid_message: 0,
  };
  private readonly onMessage = (channel: string, wire: string): void => this.receive(channel, wire);
  private readonly report: RedisErrorReporter;
  private readonly replays = new ReplayGuard();

  constructor(private readonly options: RedisBrokerOptions) {
    this.report = options.onError ?? (() => undefined);
    this.channels = new ShardChannels(options.connection.prefix);
    options.connection.onMessage(this.onMessage);
    // Queued by the subscriber client until it connects; re-issued by ioredis on reconnect.
    this.subscribed = options.connection.subscribe(this.channels.all()).then(
      () => undefined,
      (error: unknown) => this.report('redis broker subscribe', error),
    );
  }

  /** Resolves once the channels are subscribed (tests, readiness). */
  whenSubscribed(): Promise<void> {
    return this.subscribed;
  }

  subscribe(handler: BrokerHandler): void {
    this.handlers.push(handler);
  }

  /**
   * Delivers to this node's handlers at once (synchronously, before the first await, so the
   * publishing node never waits on the Redis round trip), then to the other nodes through
   * Redis: one publish per channel the message maps to (a topic message for topics of
   * several shards is split by shard). Rejects if Redis does not take all of it: the local
   * delivery already happened, some remote ones did not. A message too large for any
   * receiver (EnvelopeTooLargeError) is refused before anything is delivered.
   */
  async publish(message: BrokerMessage): Promise<void> {
    const wires = this.routes(message).map(([channel, part]) => [channel, this.options.signer.sign(this.options.nodeId, channel, part)] as const);
    this.deliver(message);
    const results = await Promise.allSettled(wires.map(([channel, wire]) => this.options.connection.publish(channel, wire)));
    const failure = results.find((result) => result.status === 'rejected');
    this.counters.published += results.length - results.filter((result) => result.status === 'rejected').length;
    if (failure) {
      this.counters.publishFailures += 1;
      this.report('redis broker publish', failure.reason);
      throw new BrokerUnavailableError('the message could not be published to Redis', { cause: failure.reason });
    }
  }

  /**
   * A recoverable stream push: signed for its shard channel and handed to `append` as the
   * relay, so the history script assigns the offset and publishes `<offset>:<epoch>:<envelope>`
   * in one step. Every node, this one included, delivers it from the relay: the append reply
   * and other nodes' relays travel on different connections, so delivering from the reply
   * could put offset 6 before offset 5.
   */
  async publishToStream(message: TopicMessage, append: StreamAppend): Promise<StreamPosition> {
    const channel = this.channels.forTopic(message.namespace, message.topics[0] ?? '');
    if (message.topics.length !== 1 || channel === undefined) throw new RangeError('a stream push names one topic of a namespace with topics');
    // The local JSON text of `data` stays local: the envelope carries `data` once.
    const { dataJson: _local, ...carried } = message;
    const wire = this.options.signer.sign(this.options.nodeId, channel, carried);
    try {
      const position = await append({ channel, message: wire });
      this.counters.published += 1;
      return position;
    } catch (error) {
      this.counters.publishFailures += 1;
      this.report('redis broker stream publish', error);
      throw new BrokerUnavailableError('the stream push could not be appended and published on Redis', { cause: error });
    }
  }

  stats(): RedisBrokerStats {
    return { ...this.counters, rejected: { ...this.rejected } };
  }

  /** Stops receiving; the connection (shared, owned by the caller) stays open. */
  async close(): Promise<void> {
    this.options.connection.offMessage(this.onMessage);
    await this.options.connection.unsubscribe(this.channels.all()).catch((error: unknown) => this.report('redis broker unsubscribe', error));
  }

  private receive(channel: string, text: string): void {
    const role = this.channels.roleOf(channel);
    if (role === undefined) return;
    // A relayed stream push is `<offset>:<epoch>:<envelope>`; an envelope never has a `:` before its `.`.
    const relayed = role.kind === 'shard' ? parseRelayed(text) : undefined;
    const wire = relayed?.message ?? text;
    const verified = this.options.signer.verify(wire, channel);
    if (!verified.ok) {
      this.rejected[verified.reason] += 1;
      return;
    }
    // At most once per receiving node (docs/protocol.md §9): a captured envelope published
    // again, on any channel or prefix, is dropped here or by the checks above (finding R6).
    if (!this.replays.accept(verified.envelope)) {
      this.rejected.replayed += 1;
      return;
    }
    if (relayed === undefined && verified.envelope.node === this.options.nodeId) {
      this.counters.ownEchoes += 1;
      return;
    }
    const message = verified.envelope.msg;
    // Stream pushes of recoverable namespaces travel only as relays (they need their position).
    if (!isBrokerMessage(message) || !belongsOn(message, role) || isStreamPush(message) !== (relayed !== undefined)) {
      this.rejected.invalid_message += 1;
      return;
    }
    if (relayed !== undefined) {
      const push = message as TopicMessage;
      if (push.topics.length !== 1) {
        this.rejected.invalid_message += 1;
        return;
      }
      this.counters.relayed += 1;
      this.deliver({ ...push, position: relayed.position });
      return;
    }
    this.counters.received += 1;
    this.deliver(message);
  }

  private deliver(message: BrokerMessage): void {
    for (const handler of this.handlers) {
      try {
        handler(message);
      } catch (error) {
        // One failing handler must not stop the others nor the cross-node publish.
        this.report('broker handler', error);
      }
    }
  }

  /** The channels `message` goes to, each with the part of it that belongs there. */
  private routes(message: BrokerMessage): Array<readonly [string, BrokerMessage]> {
    if (message.type === 'close') return [[this.channels.control(), message]];
    if (message.type !== 'topic') return [[this.channels.forNamespace(message.namespace), message]];
    const byChannel = new Map<string, string[]>();
    for (const topic of message.topics) {
      const channel = this.channels.forTopic(message.namespace, topic) ?? this.channels.forNamespace(message.namespace);
      const topics = byChannel.get(channel);
      if (topics) topics.push(topic);
      else byChannel.set(channel, [topic]);
    }
    if (byChannel.size === 1) return [[byChannel.keys().next().value!, message]];
    return [...byChannel].map(([channel, topics]) => [channel, { ...message, topics }] as const);
  }
}

/** A message is only valid on the channel `routes` would have sent it to. */
function belongsOn(message: BrokerMessage, role: ChannelRole): boolean {
  switch (role.kind) {
    case 'control':
      return message.type === 'close';
    case 'namespace':
      return message.type !== 'close' && message.namespace === role.namespace && (message.type !== 'topic' || !hasShards(role.namespace));
    case 'shard':
      return message.type === 'topic' && message.namespace === role.namespace && message.topics.every((topic) => shardOf(topic) === role.shard);
  }
}

/** A topic message of a recoverable namespace (docs/protocol.md §10): one topic, delivered with a position. */
function isStreamPush(message: BrokerMessage): boolean {
  return message.type === 'topic' && (NAMESPACES[message.namespace] as NamespaceDescriptor).recoverable;
}

function hasShards(namespace: NamespaceName): boolean {
  return (NAMESPACES[namespace] as NamespaceDescriptor).topic !== undefined;
}

/** Shape check of a verified payload: signed by a node, but possibly from another version. */
function isBrokerMessage(value: unknown): value is BrokerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  if (typeof m['type'] !== 'string' || !MESSAGE_TYPES.has(m['type'])) return false;
  if (m['type'] === 'close') return typeof m['userId'] === 'string' || typeof m['jti'] === 'string';
  if (typeof m['namespace'] !== 'string' || !Object.hasOwn(NAMESPACES, m['namespace'])) return false;
  if (typeof m['event'] !== 'string' || typeof m['data'] !== 'object' || m['data'] === null) return false;
  if (m['type'] === 'topic') return isStringArray(m['topics']);
  if (m['type'] === 'targeted') return isStringArray(m['userIds']) && isStringArray(m['roles']);
  return true;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
