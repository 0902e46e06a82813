import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ActivityBuffer } from './activity/activity-buffer.js';
import { CHAT_HISTORY_STORE, type ChatHistoryStore } from './chat/chat-history.store.js';
import { ConnectionRegistry } from './connection/connection-registry.js';
import { NAMESPACE_NAMES } from './protocol/namespaces.js';
import { SubscriptionRegistry } from './subscriptions/subscription-registry.js';
import { BROKER, type Broker } from './publishing/broker.js';
import { RealtimeMetrics } from './observability/realtime-metrics.js';

interface BrokerCounters {
  stats(): { publishFailures: number; rejected: Readonly<Record<string, number>> };
}

function hasCounters(broker: Broker): broker is Broker & BrokerCounters {
  return typeof (broker as Partial<BrokerCounters>).stats === 'function';
}

/** Points the scrape-time gauges at the services that own the figures. */
@Injectable()
export class MetricsSources implements OnModuleInit {
  constructor(
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(ConnectionRegistry) private readonly connections: ConnectionRegistry,
    @Inject(SubscriptionRegistry) private readonly subscriptions: SubscriptionRegistry,
    @Inject(CHAT_HISTORY_STORE) private readonly chat: ChatHistoryStore,
    @Inject(ActivityBuffer) private readonly activity: ActivityBuffer,
    @Inject(BROKER) private readonly broker: Broker,
  ) {}

  onModuleInit(): void {
    this.metrics.setSources({
      connections: () => {
        const now = Date.now();
        return NAMESPACE_NAMES.map((ns) => {
          let oldest = now;
          const sockets = this.connections.inNamespace(ns);
          for (const socket of sockets) oldest = Math.min(oldest, socket.openedAt);
          return [ns, sockets.size, (now - oldest) / 1000] as const;
        });
      },
      subscriptions: () => NAMESPACE_NAMES.map((ns) => [ns, ...this.subscriptions.namespaceSizes(ns)] as const),
      chat: () => this.chat.sizes(),
      activityBuffered: () => this.activity.stats().buffered,
      broker: () => (hasCounters(this.broker) ? this.broker.stats() : undefined),
    });
  }
}
