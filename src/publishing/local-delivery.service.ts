import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { RealtimeSocket } from '../connection/client-session.js';
import { ConnectionLifecycle } from '../connection/connection-lifecycle.js';
import { ConnectionRegistry } from '../connection/connection-registry.js';
import { CloseCode } from '../protocol/close-codes.js';
import { SubscriptionRegistry } from '../subscriptions/subscription-registry.js';
import { BROKER, type Broker, type BrokerMessage } from './broker.js';

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
  ) {}

  onModuleInit(): void {
    this.broker.subscribe((message) => this.deliver(message));
  }

  deliver(message: BrokerMessage): number {
    switch (message.type) {
      case 'topic':
        return sendToAll(this.subscriptions.subscribers(message.namespace, message.topic), message.event, message.data);
      case 'namespace':
        return sendToAll(this.connections.inNamespace(message.namespace), message.event, message.data);
      case 'close':
        return (
          (message.userId !== undefined ? this.lifecycle.closeUser(message.userId, CloseCode.UNAUTHORIZED) : 0) +
          (message.jti !== undefined ? this.lifecycle.closeToken(message.jti, CloseCode.UNAUTHORIZED) : 0)
        );
    }
  }
}

/** Serialises once and writes the same buffer to every recipient. */
export function sendToAll(sockets: Iterable<RealtimeSocket>, event: string, data: unknown): number {
  let frame: Buffer | undefined;
  let sent = 0;
  for (const socket of sockets) {
    frame ??= Buffer.from(JSON.stringify({ event, data }));
    if (socket.sendFrame(frame)) sent += 1;
  }
  return sent;
}
