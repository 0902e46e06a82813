import { NAMESPACE_NAMES, NAMESPACES, type NamespaceName } from '../protocol/namespaces.js';
import { type Broker, type BrokerHandler, type BrokerMessage, BrokerUnavailableError } from '../publishing/broker.js';
import type { RedisConnection, RedisErrorReporter } from './redis-connection.js';
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
  readonly rejected: Readonly<Record<BrokerRejection, number>>;
}

export interface RedisBrokerOptions {
  readonly connection: RedisConnection;
  readonly signer: EnvelopeSigner;
  /** Unique per process (e.g. a random UUID): envelopes from this id are our own echoes. */
  readonly nodeId: string;
  readonly onError?: RedisErrorReporter;
}

const CONTROL = 'control';
const MESSAGE_TYPES = new Set<string>(['topic', 'namespace', 'targeted', 'close']);

/**
 * Cross-node `Broker` over Redis pub/sub, with every envelope signed.
 *
 * Channel layout: one channel per namespace (`<prefix>bus:<namespace>`) plus one control
 * channel (`<prefix>bus:control`) for `close` messages; each node subscribes to all of them
 * once, at start, and filters on receipt. Why not a channel per topic a node has local
 * interest in: topics are unbounded (every trackingId, projectId, room), so per-topic
 * channels would mean a SUBSCRIBE/UNSUBSCRIBE round trip on every first/last local
 * subscriber, a window where a message published before the SUBSCRIBE lands is lost,
 * Redis memory per (channel, node), and one PUBLISH per topic of a multi-topic message.
 * With a fixed handful of channels a node holds O(1) subscriptions whatever the topic
 * count, a publish is one PUBLISH, and the filtering costs nothing extra: the receiving
 * node looks the topic up in its own subscription registry anyway (a Map hit or miss).
 * The price is that every node receives every message of a namespace, which is the right
 * trade for a few nodes behind one load balancer; for very many nodes with sparse interest,
 * per-topic channels (or sharded pub/sub) would become worth their cost.
 *
 * Whoever can PUBLISH on our Redis (without the key) could still replay what they captured:
 * envelopes carry the full channel name and a per-node (epoch, sequence) inside the signed
 * bytes, so a copy is dropped whether it comes again on the same channel, another channel or
 * under another key prefix, and counted by reason.
 */
export class RedisBroker implements Broker {
  private readonly handlers: BrokerHandler[] = [];
  private readonly channels: ReadonlyMap<string, NamespaceName | typeof CONTROL>;
  private readonly subscribed: Promise<void>;
  private readonly counters = { published: 0, publishFailures: 0, received: 0, ownEchoes: 0 };
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
    const names = [...NAMESPACE_NAMES, CONTROL] as const;
    this.channels = new Map(names.map((name) => [this.channelName(name), name]));
    options.connection.subscriber.on('message', this.onMessage);
    // Queued by the subscriber client until it connects; re-issued by ioredis on reconnect.
    this.subscribed = options.connection.subscriber.subscribe(...this.channels.keys()).then(
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
   * Redis. Rejects if Redis does not take it: the local delivery already happened, the
   * remote one did not. A message too large for any receiver (EnvelopeTooLargeError) is
   * refused before anything is delivered.
   */
  async publish(message: BrokerMessage): Promise<void> {
    const channel = this.channelFor(message);
    const wire = this.options.signer.sign(this.options.nodeId, channel, message);
    this.deliver(message);
    try {
      await this.options.connection.command.publish(channel, wire);
      this.counters.published += 1;
    } catch (error) {
      this.counters.publishFailures += 1;
      this.report('redis broker publish', error);
      throw new BrokerUnavailableError('the message could not be published to Redis', { cause: error });
    }
  }

  stats(): RedisBrokerStats {
    return { ...this.counters, rejected: { ...this.rejected } };
  }

  /** Stops receiving; the connection (shared, owned by the caller) stays open. */
  async close(): Promise<void> {
    const subscriber = this.options.connection.subscriber;
    subscriber.off('message', this.onMessage);
    if (subscriber.status === 'ready') {
      await subscriber.unsubscribe(...this.channels.keys()).catch((error: unknown) => this.report('redis broker unsubscribe', error));
    }
  }

  private receive(channel: string, wire: string): void {
    const expected = this.channels.get(channel);
    if (expected === undefined) return;
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
    if (verified.envelope.node === this.options.nodeId) {
      this.counters.ownEchoes += 1;
      return;
    }
    const message = verified.envelope.msg;
    if (!isBrokerMessage(message) || channelOf(message) !== expected) {
      this.rejected.invalid_message += 1;
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

  private channelFor(message: BrokerMessage): string {
    return this.channelName(channelOf(message));
  }

  private channelName(name: NamespaceName | typeof CONTROL): string {
    return this.options.connection.key(`bus:${name}`);
  }
}

function channelOf(message: BrokerMessage): NamespaceName | typeof CONTROL {
  return message.type === 'close' ? CONTROL : message.namespace;
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
