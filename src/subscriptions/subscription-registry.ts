import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { RealtimeSocket } from '../connection/client-session.js';
import type { NamespaceName } from '../protocol/namespaces.js';
import { addMember, countMembers, hasMember, KeyedSets, membersOf, removeMember } from '../common/keyed-sets.js';

export type SubscribeResult = 'subscribed' | 'already' | 'limit';

/**
 * The one owner of topic ↔ connection membership for every namespace (findings 3, 4, 5,
 * 7, 8, 20). A connection's topics are removed in one call when it closes, and a topic
 * with no members is deleted at once. Bounded: WS_MAX_SUBSCRIPTIONS per connection.
 * A connection's own topic list is kept on its session (`ClientSession.topics`, written
 * only here), so it needs no index entry of its own and is released with the socket.
 */
@Injectable()
export class SubscriptionRegistry {
  private readonly topics = new Map<NamespaceName, KeyedSets<string, RealtimeSocket>>();
  /** Connections with at least one topic (their own topics live on their session). */
  private subscribedConnections = 0;

  constructor(@Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig) {}

  subscribe(socket: RealtimeSocket, topic: string, limit = this.config.maxSubscriptions): SubscribeResult {
    const session = socket.session;
    if (session.closed) return 'limit';
    if (hasMember(session.topics, topic)) return 'already';
    const count = countMembers(session.topics);
    if (count >= limit) return 'limit';
    if (count === 0) this.subscribedConnections += 1;
    session.topics = addMember(session.topics, topic);
    const ns = session.namespace.name;
    let nsTopics = this.topics.get(ns);
    if (!nsTopics) {
      nsTopics = new KeyedSets();
      this.topics.set(ns, nsTopics);
    }
    nsTopics.add(topic, socket);
    return 'subscribed';
  }

  /** Returns true when the socket was subscribed. */
  unsubscribe(socket: RealtimeSocket, topic: string): boolean {
    const session = socket.session;
    if (!hasMember(session.topics, topic)) return false;
    session.topics = removeMember(session.topics, topic);
    if (session.topics === undefined) this.subscribedConnections -= 1;
    this.detach(socket, topic);
    return true;
  }

  /** Removes every subscription of a closing socket; returns the topics it had. */
  removeConnection(socket: RealtimeSocket): readonly string[] {
    const session = socket.session;
    if (session.topics === undefined) return [];
    const own = [...membersOf(session.topics)];
    session.topics = undefined;
    this.subscribedConnections -= 1;
    for (const topic of own) this.detach(socket, topic);
    return own;
  }

  subscribers(ns: NamespaceName, topic: string): Iterable<RealtimeSocket> {
    return this.topics.get(ns)?.members(topic) ?? NONE;
  }

  topicsOf(socket: RealtimeSocket): Iterable<string> {
    return membersOf(socket.session.topics);
  }

  isSubscribed(socket: RealtimeSocket, topic: string): boolean {
    return hasMember(socket.session.topics, topic);
  }

  /** Sizes for tests and metrics: topics per namespace, total subscriptions, tracked sockets. */
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
  namespaceSizes(ns: NamespaceName): [number, number] {
    const nsTopics = this.topics.get(ns);
    return nsTopics ? [nsTopics.totalMembers(), nsTopics.size] : [0, 0];
  }

  private detach(socket: RealtimeSocket, topic: string): void {
    const ns = socket.session.namespace.name;
    const nsTopics = this.topics.get(ns);
    if (nsTopics?.delete(topic, socket) && nsTopics.size === 0) this.topics.delete(ns);
  }
}

const NONE: readonly RealtimeSocket[] = [];
