import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { RealtimeSocket } from '../connection/client-session.js';
import type { NamespaceName } from '../protocol/namespaces.js';

export type SubscribeResult = 'subscribed' | 'already' | 'limit';

/**
 * The one owner of topic ↔ connection membership for every namespace (findings 3, 4, 5,
 * 7, 8, 20). A connection's topics are removed in one call when it closes, and a topic
 * with no members is deleted at once. Bounded: WS_MAX_SUBSCRIPTIONS per connection.
 */
@Injectable()
export class SubscriptionRegistry {
  private readonly topics = new Map<NamespaceName, Map<string, Set<RealtimeSocket>>>();
  private readonly bySocket = new Map<RealtimeSocket, Set<string>>();

  constructor(@Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig) {}

  subscribe(socket: RealtimeSocket, topic: string, limit = this.config.maxSubscriptions): SubscribeResult {
    if (socket.session.closed) return 'limit';
    let own = this.bySocket.get(socket);
    if (own?.has(topic)) return 'already';
    if ((own?.size ?? 0) >= limit) return 'limit';
    if (!own) {
      own = new Set();
      this.bySocket.set(socket, own);
    }
    own.add(topic);
    const ns = socket.session.namespace.name;
    let nsTopics = this.topics.get(ns);
    if (!nsTopics) {
      nsTopics = new Map();
      this.topics.set(ns, nsTopics);
    }
    let members = nsTopics.get(topic);
    if (!members) {
      members = new Set();
      nsTopics.set(topic, members);
    }
    members.add(socket);
    return 'subscribed';
  }

  /** Returns true when the socket was subscribed. */
  unsubscribe(socket: RealtimeSocket, topic: string): boolean {
    const own = this.bySocket.get(socket);
    if (!own?.delete(topic)) return false;
    if (own.size === 0) this.bySocket.delete(socket);
    this.detach(socket, topic);
    return true;
  }

  /** Removes every subscription of a closing socket; returns the topics it had. */
  removeConnection(socket: RealtimeSocket): readonly string[] {
    const own = this.bySocket.get(socket);
    if (!own) return [];
    this.bySocket.delete(socket);
    for (const topic of own) this.detach(socket, topic);
    return [...own];
  }

  subscribers(ns: NamespaceName, topic: string): ReadonlySet<RealtimeSocket> {
    return this.topics.get(ns)?.get(topic) ?? EMPTY;
  }

  topicsOf(socket: RealtimeSocket): ReadonlySet<string> {
    return this.bySocket.get(socket) ?? EMPTY_TOPICS;
  }

  isSubscribed(socket: RealtimeSocket, topic: string): boolean {
    return this.bySocket.get(socket)?.has(topic) ?? false;
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
    return { topics, subscriptions, connections: this.bySocket.size };
  }

  /** [subscriptions, topics] of one namespace. */
  namespaceSizes(ns: NamespaceName): [number, number] {
    const nsTopics = this.topics.get(ns);
    if (!nsTopics) return [0, 0];
    let subscriptions = 0;
    for (const members of nsTopics.values()) subscriptions += members.size;
    return [subscriptions, nsTopics.size];
  }

  private detach(socket: RealtimeSocket, topic: string): void {
    const ns = socket.session.namespace.name;
    const nsTopics = this.topics.get(ns);
    const members = nsTopics?.get(topic);
    if (!members?.delete(socket)) return;
    if (members.size === 0) {
      nsTopics!.delete(topic);
      if (nsTopics!.size === 0) this.topics.delete(ns);
    }
  }
}

const EMPTY: ReadonlySet<RealtimeSocket> = new Set();
const EMPTY_TOPICS: ReadonlySet<string> = new Set();
