import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { type Connection, PreparedFrame } from '../connection/connection.js';
import { ConnectionLifecycle } from '../connection/connection-lifecycle.js';
import { ConnectionRegistry } from '../connection/connection-registry.js';
import { CloseCode } from '../protocol/close-codes.js';
import { SubscriptionRegistry } from '../subscriptions/subscription-registry.js';
import { RealtimeMetrics } from '../observability/realtime-metrics.js';
import { namespaceByName } from '../protocol/namespaces.js';
import { RecoverableStreams, StreamPushFrame } from '../recovery/recoverable-streams.service.js';
import type { StreamPosition } from '../recovery/recovery-history.js';
import { BROKER, type Broker, type BrokerMessage, type TargetedMessage, type TopicMessage } from './broker.js';

/**
 * Delivers what the broker carries to the connections on this node. A pushed frame is
 * serialised once per message, not once per recipient.
 */
@Injectable()
export class LocalDeliveryService implements OnModuleInit {
  constructor(
    @Inject(BROKER) private readonly broker: Broker,
    @Inject(SubscriptionRegistry) private readonly subscriptions: SubscriptionRegistry,
    @Inject(ConnectionRegistry) private readonly connections: ConnectionRegistry,
    @Inject(ConnectionLifecycle) private readonly lifecycle: ConnectionLifecycle,
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(RecoverableStreams) private readonly streams: RecoverableStreams,
  ) {}

  onModuleInit(): void {
    this.broker.subscribe((message) => this.deliver(message));
  }

  /** Returns how many connections on this node were written to (or closed). */
  deliver(message: BrokerMessage): number {
    switch (message.type) {
      case 'topic':
        return this.counted(message.namespace, message.event, this.deliverTopics(message));
      case 'namespace':
        return this.counted(message.namespace, message.event, new OutboundFrame(message.event, message.data).sendToAll(this.admitted(message.namespace)));
      case 'targeted':
        return this.counted(message.namespace, message.event, new OutboundFrame(message.event, message.data).sendToAll(this.targets(message)));
      case 'close':
        return (
          (message.userId !== undefined ? this.lifecycle.closeUser(message.userId, CloseCode.UNAUTHORIZED) : 0) +
          (message.jti !== undefined ? this.lifecycle.closeToken(message.jti, CloseCode.UNAUTHORIZED) : 0)
        );
    }
  }

  private counted(namespace: string, event: string, sent: number): number {
    if (sent > 0) this.metrics.framesOut.inc({ namespace, event: eventLabel(namespace, event) }, sent);
    return sent;
  }

  /** Connections of a namespace that may receive its pushes: pending ones get session frames only. */
  private *admitted(namespace: string): Iterable<Connection> {
    for (const connection of this.connections.inNamespace(namespace)) {
      if (connection.state !== 'pending') yield connection;
    }
  }

  private deliverTopics(message: TopicMessage): number {
    if (message.position) return this.deliverStreamPush(message, message.position);
    const frame = new OutboundFrame(message.event, message.data);
    let sent = 0;
    for (const topic of message.topics) {
      sent += frame.sendToAll(this.subscriptions.subscribers(message.namespace, topic), message.except);
    }
    return sent;
  }

  /** A recoverable stream push (one topic): each subscription's gate sends, holds back or drops it. */
  private deliverStreamPush(message: TopicMessage, position: StreamPosition): number {
    const push = new StreamPushFrame(message.event, message.dataJson ?? JSON.stringify(message.data), position);
    let sent = 0;
    for (const topic of message.topics) {
      for (const connection of this.subscriptions.subscribers(message.namespace, topic)) {
        if (this.streams.offer(connection, topic, push)) sent += 1;
      }
    }
    return sent;
  }

  private targets(message: TargetedMessage): Set<Connection> {
    const targets = new Set<Connection>();
    for (const userId of message.userIds) {
      for (const connection of this.connections.forUser(userId)) {
        if (connection.namespace.name === message.namespace) targets.add(connection);
      }
    }
    if (message.roles.length > 0) {
      for (const connection of this.connections.inNamespace(message.namespace)) {
        const roles = connection.identity?.roles;
        if (roles?.some((role) => message.roles.includes(role))) targets.add(connection);
      }
    }
    return targets;
  }
}

/** One pushed frame, serialised and framed at most once however many connections it goes to. */
export class OutboundFrame {
  private prepared: PreparedFrame | undefined;

  constructor(
    private readonly event: string,
    private readonly data: unknown,
  ) {}

  sendTo(connection: Connection): boolean {
    this.prepared ??= new PreparedFrame(JSON.stringify({ event: this.event, data: this.data }));
    return connection.sendPrepared(this.prepared);
  }

  sendToAll(connections: Iterable<Connection>, exceptConnectionId?: string): number {
    let sent = 0;
    for (const connection of connections) {
      if (connection.id !== exceptConnectionId && this.sendTo(connection)) sent += 1;
    }
    return sent;
  }
}

/** Targeted event names are publisher-chosen (`mololink.*`): one label for all keeps cardinality bounded. */
function eventLabel(namespace: string, event: string): string {
  const rule = namespaceByName(namespace)?.publish;
  return rule?.to === 'targeted' ? rule.metricsLabel : event;
}
