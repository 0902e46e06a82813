import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type Connection, PreparedFrame } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { NamespaceDescriptor } from '../protocol/namespace-descriptor.js';
import type { PushData, StreamPositionData } from '../protocol/namespace-descriptors.js';
import { knownNamespaces, type NamespaceName } from '../protocol/namespaces.js';
import { BROKER, type Broker } from '../publishing/broker.js';
import { SubscriptionRegistry } from '../subscriptions/subscription-registry.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import {
  InMemoryRecoveryHistory,
  RECOVERY_HISTORY,
  RECOVERY_MAX_DATA_BYTES,
  RECOVERY_MAX_PUBLICATIONS,
  type RecoveryHistory,
  recoveryStream,
  type StreamPosition,
} from './recovery-history.js';

/** A stream push as this node writes it: `{"event","data","offset","epoch"}`, framed once for every local recipient. */
export class StreamPushFrame {
  private prepared: PreparedFrame | undefined;

  constructor(
    private readonly event: string,
    /** The push's `data` as JSON text. */
    private readonly dataJson: string,
    readonly position: StreamPosition,
  ) {}

  get frame(): PreparedFrame {
    this.prepared ??= new PreparedFrame(
      `{"event":${JSON.stringify(this.event)},"data":${this.dataJson},"offset":${this.position.offset},"epoch":${JSON.stringify(this.position.epoch)}}`,
    );
    return this.prepared;
  }
}

/** Pushes held back while a subscribe reads the stream (docs/recovery.md "Subscribing without gaps or repeats"). */
interface PendingPushes {
  frames: StreamPushFrame[];
  bytes: number;
  /** The buffer went past one answer's worth and was dropped: the read must be repeated. */
  overflowed: boolean;
}

/**
 * One connection's subscription to one stream: the last position it was given (an answer or a
 * push), so a push at or below it is never sent twice, and the pushes held back while a
 * subscribe is in flight.
 */
class StreamGate {
  constructor(readonly topic: string) {}

  epoch: string | undefined;
  offset = 0;
  pending: PendingPushes | undefined;
  /** The subscribe in flight, if any: a second one on the same stream waits for it. */
  inFlight: Promise<unknown> | undefined;
}

/** A subscribe answer's stream fields and the step that must follow sending it. */
export interface StreamSubscription {
  readonly data: StreamPositionData;
  /** Call right after the answer was sent: delivers the held-back pushes after it, and goes live. */
  readonly flush: () => void;
}

/** How many times a subscribe re-reads when its held-back pushes overflowed during the read. */
const MAX_READS = 4;
/** The in-memory history drops expired streams this often (and when touched). */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Recoverable streams (docs/protocol.md §10, design in docs/recovery.md): publishing with one
 * history append per push, and subscribing so that the answer's position and the live pushes
 * meet exactly: the subscription is registered at once but held back (pushes buffered), the
 * stream is read atomically, the answer is sent, then the buffer is flushed dropping what the
 * answer already covers. The same per-subscription gate drops a push that arrives after a
 * newer position was given (a relay that lagged behind the read).
 *
 * Owns the gates (one per subscription of a recoverable namespace, removed with it) and the
 * in-memory history's sweep timer.
 */
@Injectable()
export class RecoverableStreams implements OnModuleInit, OnModuleDestroy {
  /** A connection's gates: the gate itself while it has one (most connections), a map from two on. */
  private readonly gates = new Map<Connection, StreamGate | Map<string, StreamGate>>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(RECOVERY_HISTORY) private readonly history: RecoveryHistory,
    @Inject(BROKER) private readonly broker: Broker,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(SubscriptionRegistry) private readonly registry: SubscriptionRegistry,
  ) {}

  onModuleInit(): void {
    for (const descriptor of knownNamespaces()) {
      if (descriptor.recoverable) this.registry.onLeave(descriptor.name, (connection, topic) => this.forget(connection, topic));
    }
    const history = this.history;
    if (history instanceof InMemoryRecoveryHistory) {
      this.sweepTimer = setInterval(() => history.sweep(), SWEEP_INTERVAL_MS);
      this.sweepTimer.unref();
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * One push on `topic`'s stream: one history append, delivered with its position on every
   * node. Nothing is awaited before the append is issued, so pushes published in a row (a
   * batch) get their offsets in call order.
   */
  publish(descriptor: NamespaceDescriptor, topic: string, event: string, data: PushData): Promise<StreamPosition> {
    const dataJson = JSON.stringify(data);
    const stream = recoveryStream(descriptor.name, topic);
    const message = { type: 'topic', namespace: descriptor.name as NamespaceName, topics: [topic], event, data, dataJson } as const;
    return this.broker.publishToStream(message, (relay) => this.history.append(stream, dataJson, relay));
  }

  /**
   * Authorises and subscribes (TopicSubscriptions) and reads the stream: `since` → recovery.
   * The caller sends the answer with `data` and then calls `flush`.
   */
  async subscribe(connection: Connection, topic: string, since: StreamPosition | undefined): Promise<StreamSubscription> {
    const gate = this.gateOf(connection, topic);
    while (gate.inFlight) await gate.inFlight.catch(() => undefined);
    const flow = this.read(connection, topic, gate, since);
    gate.inFlight = flow;
    try {
      return await flow;
    } finally {
      gate.inFlight = undefined;
      if (!connection.hasTopic(topic)) this.forget(connection, topic);
    }
  }

  /**
   * Live delivery of a stream push to one subscriber: sent, held back (subscribe in flight),
   * or dropped (the connection was already given this position). True when sent.
   */
  offer(connection: Connection, topic: string, push: StreamPushFrame): boolean {
    const gate = this.gateIfAny(connection, topic);
    if (!gate) return connection.sendPrepared(push.frame);
    if (gate.pending) {
      hold(gate.pending, push);
      return false;
    }
    return this.pass(connection, gate, push);
  }

  /** Subscriptions tracked (tests: nothing is left behind). */
  size(): number {
    let count = 0;
    for (const entry of this.gates.values()) count += entry instanceof StreamGate ? 1 : entry.size;
    return count;
  }

  private async read(connection: Connection, topic: string, gate: StreamGate, since: StreamPosition | undefined): Promise<StreamSubscription> {
    const pending: PendingPushes = { frames: [], bytes: 0, overflowed: false };
    gate.pending = pending;
    let newlySubscribed = false;
    try {
      newlySubscribed = await this.topics.subscribe(connection, topic);
      // With Redis: the node's relay subscription exists before the read, so every later push reaches the buffer.
      await this.broker.whenSubscribed();
      const stream = recoveryStream(connection.namespace.name, topic);
      for (let reads = 1; ; reads += 1) {
        pending.overflowed = false;
        const answer = since === undefined ? { position: await this.history.position(stream) } : await this.history.recover(stream, since);
        if (!pending.overflowed) return { data: answerData(answer), flush: () => this.flush(connection, gate, answer.position) };
        if (reads === MAX_READS) throw new RealtimeException(ErrorCode.INTERNAL_ERROR, { message: 'Stream too busy to subscribe, retry' });
      }
    } catch (error) {
      if (newlySubscribed) this.topics.reject(connection, topic);
      else this.flush(connection, gate, undefined);
      throw error;
    }
  }

  /** Goes live: the answer's position first, then the held-back pushes after it. */
  private flush(connection: Connection, gate: StreamGate, answered: StreamPosition | undefined): void {
    const pending = gate.pending;
    gate.pending = undefined;
    if (answered) {
      gate.epoch = answered.epoch;
      gate.offset = answered.offset;
    }
    for (const push of pending?.frames ?? []) this.pass(connection, gate, push);
  }

  private pass(connection: Connection, gate: StreamGate, push: StreamPushFrame): boolean {
    const { offset, epoch } = push.position;
    if (epoch === gate.epoch && offset <= gate.offset) return false;
    gate.epoch = epoch;
    gate.offset = offset;
    return connection.sendPrepared(push.frame);
  }

  private gateIfAny(connection: Connection, topic: string): StreamGate | undefined {
    const entry = this.gates.get(connection);
    if (entry instanceof StreamGate) return entry.topic === topic ? entry : undefined;
    return entry?.get(topic);
  }

  private gateOf(connection: Connection, topic: string): StreamGate {
    const entry = this.gates.get(connection);
    if (entry instanceof StreamGate && entry.topic === topic) return entry;
    if (entry instanceof Map) {
      let gate = entry.get(topic);
      if (!gate) entry.set(topic, (gate = new StreamGate(topic)));
      return gate;
    }
    const gate = new StreamGate(topic);
    this.gates.set(connection, entry ? new Map([[entry.topic, entry], [topic, gate]]) : gate);
    return gate;
  }

  private forget(connection: Connection, topic: string): void {
    const entry = this.gates.get(connection);
    const gate = this.gateIfAny(connection, topic);
    // A subscribe in flight keeps its gate; it removes it itself if it ends unsubscribed.
    if (!entry || !gate || gate.inFlight) return;
    if (entry instanceof StreamGate) {
      this.gates.delete(connection);
      return;
    }
    entry.delete(topic);
    if (entry.size === 1) this.gates.set(connection, entry.values().next().value!);
  }
}

/** Holds a push back; past one answer's worth (100 pushes / 512 KiB) the buffer is dropped and the read repeated. */
function hold(pending: PendingPushes, push: StreamPushFrame): void {
  pending.frames.push(push);
  pending.bytes += push.frame.wire.length;
  if (pending.frames.length > RECOVERY_MAX_PUBLICATIONS || pending.bytes > RECOVERY_MAX_DATA_BYTES) {
    pending.frames = [];
    pending.bytes = 0;
    pending.overflowed = true;
  }
}

function answerData(answer: { position: StreamPosition; recovered?: boolean; publications?: readonly { offset: number; data: string }[] }): StreamPositionData {
  const { offset, epoch } = answer.position;
  if (answer.recovered === undefined) return { offset, epoch };
  const publications = (answer.publications ?? []).map((publication) => ({ offset: publication.offset, data: JSON.parse(publication.data) as PushData }));
  return { offset, epoch, recovered: answer.recovered, publications };
}
