import type { NamespaceName } from '../protocol/namespaces.js';
import type { Relay, StreamPosition } from '../recovery/recovery-history.js';

/** A push to the subscribers of some topics of a namespace (a socket on several gets one copy each). */
export interface TopicMessage {
  readonly type: 'topic';
  readonly namespace: NamespaceName;
  readonly topics: readonly string[];
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Connection id that must not receive it (the sender of a room message or presence change). */
  readonly except?: string;
  /**
   * A push on a recoverable stream (one topic): its place in the stream, pushed as the frame's
   * `offset`/`epoch` (docs/protocol.md §10). Set by the broker on delivery, never sent inside
   * an envelope (the offset is assigned after signing).
   */
  readonly position?: StreamPosition;
  /**
   * `data` as JSON text when the publisher already made it (a stream push: the history's
   * text), so the frame does not serialise it again. Local only: never sent inside an envelope.
   */
  readonly dataJson?: string;
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
 * Appends a stream push to the recovery history and returns its position; `relay` (when the
 * broker passes one) is published by the history in the same atomic step.
 */
export type StreamAppend = (relay: Relay | undefined) => StreamPosition | Promise<StreamPosition>;

/**
 * Carries published messages to every node (one node in memory; many over Redis).
 * Gateways never see it: publishers call `publish`, the delivery service handles what
 * arrives. Replace it through the `BROKER` token.
 */
export interface Broker {
  publish(message: BrokerMessage): Promise<void>;
  /**
   * A push on a recoverable stream (`message.topics` is its one topic): calls `append` exactly
   * once and delivers the message with its position on every node, in offset order.
   */
  publishToStream(message: TopicMessage, append: StreamAppend): Promise<StreamPosition>;
  subscribe(handler: BrokerHandler): void;
  /** Resolves once messages published from now on reach this node's handlers. */
  whenSubscribed(): Promise<void>;
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

  /**
   * One process: offsets are assigned in call order and each push is delivered as soon as it
   * has one — in the caller's turn when the history answers at once (the in-memory one does).
   */
  publishToStream(message: TopicMessage, append: StreamAppend): Promise<StreamPosition> {
    try {
      const appended = append(undefined);
      if (appended instanceof Promise) return appended.then((position) => this.deliverAt(message, position));
      return Promise.resolve(this.deliverAt(message, appended));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  subscribe(handler: BrokerHandler): void {
    this.handlers.push(handler);
  }

  private deliverAt(message: TopicMessage, position: StreamPosition): StreamPosition {
    // Built field by field rather than spread: a spread of messages of several shapes was 4 %
    // of the server's CPU on many small topics. A stream push has no `except`.
    const positioned: TopicMessage = {
      type: 'topic',
      namespace: message.namespace,
      topics: message.topics,
      event: message.event,
      data: message.data,
      dataJson: message.dataJson,
      position,
    };
    for (const handler of this.handlers) handler(positioned);
    return position;
  }

  async whenSubscribed(): Promise<void> {}
}
