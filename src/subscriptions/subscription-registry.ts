import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { Connection } from '../connection/connection.js';
import { KeyedSets } from '../common/keyed-sets.js';

export type SubscribeResult = 'subscribed' | 'already' | 'limit';

/** Why a connection left a topic. */
/** `rejected`: the namespace itself undid a subscription it could not complete (e.g. a full room). */
export type LeaveReason = 'left' | 'revoked' | 'closed' | 'rejected';

/** A namespace's side effect of a connection leaving one of its topics (e.g. presence leave). */
export type LeaveHook = (connection: Connection, topic: string, reason: LeaveReason) => void;

/**
 * The one owner of topic ↔ connection membership for every namespace (findings 3, 4, 5,
 * 7, 8, 20). A connection's topics are removed in one call when it closes, and a topic
 * with no members is deleted at once. Bounded: WS_MAX_SUBSCRIPTIONS per connection.
 * A connection keeps its own topic list (`Connection.addTopic`), so it needs no index
 * entry of its own here. Every removal runs the namespace's leave hook after the fact.
 */
@Injectable()
export class SubscriptionRegistry {
  private readonly topics = new Map<string, KeyedSets<string, Connection>>();
  private readonly leaveHooks = new Map<string, LeaveHook>();
  /** Connections with at least one topic. */
  private subscribedConnections = 0;

  constructor(@Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig) {}

  /** Registers the side effect of leaving a topic of `namespace` (one per namespace). */
  onLeave(namespace: string, hook: LeaveHook): void {
    if (this.leaveHooks.has(namespace)) throw new Error(`SubscriptionRegistry: a leave hook for ${namespace} exists`);
    this.leaveHooks.set(namespace, hook);
  }

  subscribe(connection: Connection, topic: string, limit = this.config.maxSubscriptions): SubscribeResult {
    const result = connection.addTopic(topic, limit);
    if (result !== 'added') return result;
    if (connection.topicCount === 1) this.subscribedConnections += 1;
    const ns = connection.namespace.name;
    let nsTopics = this.topics.get(ns);
    if (!nsTopics) {
      nsTopics = new KeyedSets();
      this.topics.set(ns, nsTopics);
    }
    nsTopics.add(topic, connection);
    return 'subscribed';
  }

  /** Returns true when the connection was subscribed. */
  unsubscribe(connection: Connection, topic: string, reason: LeaveReason = 'left'): boolean {
    if (!connection.removeTopic(topic)) return false;
    if (connection.topicCount === 0) this.subscribedConnections -= 1;
    this.detach(connection, topic);
    this.leaveHooks.get(connection.namespace.name)?.(connection, topic, reason);
    return true;
  }

  /** Removes every subscription of a closing connection; returns the topics it had. */
  removeConnection(connection: Connection): readonly string[] {
    const own = connection.removeAllTopics();
    if (own.length === 0) return own;
    this.subscribedConnections -= 1;
    for (const topic of own) this.detach(connection, topic);
    const hook = this.leaveHooks.get(connection.namespace.name);
    if (hook) for (const topic of own) hook(connection, topic, 'closed');
    return own;
  }

  subscribers(ns: string, topic: string): Iterable<Connection> {
    return this.topics.get(ns)?.members(topic) ?? NONE;
  }

  /** Sizes for tests and metrics: topics per namespace, total subscriptions, tracked connections. */
  sizes(): { topics: number; subscriptions: number; connections: number } {
    let topics = 0;
    let subscriptions = 0;
    for (const ns of this.topics.keys()) {
      const [nsSubscriptions, nsTopics] = this.namespaceSizes(ns);
      subscriptions += nsSubscriptions;
      topics += nsTopics;
    }
    return { topics, subscriptions, connections: this.subscribedConnections };
  }

  /** [subscriptions, topics] of one namespace. */
  namespaceSizes(ns: string): [number, number] {
    const nsTopics = this.topics.get(ns);
    return nsTopics ? [nsTopics.totalMembers(), nsTopics.size] : [0, 0];
  }

  private detach(connection: Connection, topic: string): void {
    const ns = connection.namespace.name;
    const nsTopics = this.topics.get(ns);
    if (nsTopics?.delete(topic, connection) && nsTopics.size === 0) this.topics.delete(ns);
  }
}

const NONE: readonly Connection[] = [];
