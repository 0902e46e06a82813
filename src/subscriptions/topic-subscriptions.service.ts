import { Inject, Injectable } from '@nestjs/common';
import type { Identity } from '../auth/identity.js';
import { REALTIME_AUTHORIZATION, type RealtimeAuthorization } from '../auth/realtime-authorization.js';
import type { Connection } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import type { TopicSpec } from '../protocol/namespace-descriptor.js';
import type { IdentityRefreshListener } from '../session/identity-refresh.listener.js';
import { SubscriptionRegistry } from './subscription-registry.js';

/**
 * Subscribing, for every namespace: authorisation (REALTIME_AUTHORIZATION) and caps over
 * the shared `SubscriptionRegistry`, on the connection's own namespace. On token refresh,
 * subscriptions the new claims no longer allow are dropped with the namespace's dropped
 * event and `reason: "revoked"`.
 */
@Injectable()
export class TopicSubscriptions implements IdentityRefreshListener {
  constructor(
    @Inject(SubscriptionRegistry) private readonly registry: SubscriptionRegistry,
    @Inject(REALTIME_AUTHORIZATION) private readonly authorization: RealtimeAuthorization,
  ) {}

  /**
   * Authorises, then subscribes; UNAUTHORIZED when denied, LIMIT_EXCEEDED at
   * WS_MAX_SUBSCRIPTIONS. Returns false when the connection was already subscribed.
   */
  async subscribe(connection: Connection, topic: string): Promise<boolean> {
    if (!(await this.authorization.canSubscribe(connection.identity, connection.namespace.name, topic))) {
      throw RealtimeException.unauthorized();
    }
    const result = this.registry.subscribe(connection, topic);
    if (result === 'limit') throw RealtimeException.limitExceeded('Subscription limit reached for this connection');
    return result === 'subscribed';
  }

  /** Returns true when the connection was subscribed. */
  unsubscribe(connection: Connection, topic: string): boolean {
    return this.registry.unsubscribe(connection, topic);
  }

  /** Undoes a subscription the namespace could not complete (e.g. a full room): no leave side effects. */
  reject(connection: Connection, topic: string): void {
    this.registry.unsubscribe(connection, topic, 'rejected');
  }

  /** UNAUTHORIZED unless the connection has joined `topic` (sending to a room not joined, §5). */
  assertMember(connection: Connection, topic: string): void {
    if (!connection.hasTopic(topic)) throw RealtimeException.unauthorized();
  }

  onIdentityRefreshed(connection: Connection, identity: Identity): void {
    const spec = connection.namespace.topic;
    if (!spec) return;
    for (const topic of connection.topics()) {
      void Promise.resolve(this.authorization.canSubscribe(identity, connection.namespace.name, topic)).then(
        (allowed) => {
          if (allowed || !this.registry.unsubscribe(connection, topic, 'revoked')) return;
          connection.send(JSON.stringify({ event: spec.dropped.event, data: { ...topicData(spec, topic), reason: 'revoked' } }));
        },
        () => undefined,
      );
    }
  }
}

/** `{[key]: topic}` as clients see it (a number for integer topics), or `{}` when the topic is not shown. */
export function topicData(spec: TopicSpec, topic: string): Record<string, string | number> {
  if (spec.key === undefined) return {};
  return { [spec.key]: spec.type === 'integer' ? Number(topic) : topic };
}
