import type { NamespaceName } from '../protocol/namespaces.js';

/** A push to the subscribers of some topics of a namespace (a socket on several gets one copy each). */
export interface TopicMessage {
  readonly type: 'topic';
  readonly namespace: NamespaceName;
  readonly topics: readonly string[];
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Connection id that must not receive it (the sender of a room message or presence change). */
  readonly except?: string;
}

/** A push to every connection of a namespace. */
export interface NamespaceMessage {
  readonly type: 'namespace';
  readonly namespace: NamespaceName;
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** A push to the connections of a namespace whose user is listed or holds a listed role (finding 18). */
export interface TargetedMessage {
  readonly type: 'targeted';
  readonly namespace: NamespaceName;
  readonly userIds: readonly string[];
  readonly roles: readonly string[];
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Close every connection of a user, or of a token id. */
export interface CloseMessage {
  readonly type: 'close';
  readonly userId?: string;
  readonly jti?: string;
}

export type BrokerMessage = TopicMessage | NamespaceMessage | TargetedMessage | CloseMessage;

export type BrokerHandler = (message: BrokerMessage) => void;

/**
 * Carries published messages to every node (one node in memory; many over Redis).
 * Gateways never see it: publishers call `publish`, the delivery service handles what
 * arrives. Replace it through the `BROKER` token.
 */
export interface Broker {
  publish(message: BrokerMessage): Promise<void>;
  subscribe(handler: BrokerHandler): void;
}

export const BROKER = Symbol('BROKER');

/** The broker could not carry a message to the other nodes (e.g. Redis is down); local delivery happened. */
export class BrokerUnavailableError extends Error {
  override name = 'BrokerUnavailableError';
}

/** Single-node broker: delivers synchronously to the local handlers. */
export class InMemoryBroker implements Broker {
  private readonly handlers: BrokerHandler[] = [];

  async publish(message: BrokerMessage): Promise<void> {
    for (const handler of this.handlers) handler(message);
  }

  subscribe(handler: BrokerHandler): void {
    this.handlers.push(handler);
  }
}
