export { RealtimeModule, type RealtimeModuleAsyncOptions, type RealtimeExtensions } from './realtime.module.js';
export { RealtimeWsAdapter } from './adapter/realtime-ws.adapter.js';
export {
  type RealtimeOptions,
  type RealtimeConfig,
  type JwtOptions,
  RealtimeConfigError,
  resolveRealtimeOptions,
} from './config/realtime-options.js';
export { REALTIME_CONFIG } from './realtime.constants.js';
export { RealtimePublisher, PublishRejected, BatchRejected, type BatchItem, type PushData, type Revocation, type MololinkTarget } from './publishing/realtime-publisher.js';
export { MAX_PUBLISH_BODY_BYTES } from './http/dto/publish.dto.js';
export { BROKER, type Broker, type BrokerMessage, InMemoryBroker, type StreamAppend } from './publishing/broker.js';
export {
  InMemoryRecoveryHistory,
  RECOVERY_HISTORY,
  type Recovery,
  type RecoveryBounds,
  type RecoveryHistory,
  type StreamPosition,
} from './recovery/recovery-history.js';
export { RecoverableStreams } from './recovery/recoverable-streams.service.js';
export { REVOCATION_STORE, type RevocationStore, InMemoryRevocationStore, RevocationCapacityError } from './auth/revocation-store.js';
export type { Identity } from './auth/identity.js';
export { SubscriptionRegistry } from './subscriptions/subscription-registry.js';
export { ConnectionRegistry } from './connection/connection-registry.js';
export { ConnectionLifecycle } from './connection/connection-lifecycle.js';
export { RealtimeSocket, Connection, type ConnectionOptions } from './connection/connection.js';
export { Public } from './decorators/public.decorator.js';
export { MaxMessageSize } from './decorators/max-message-size.decorator.js';
export { MessageRate, SkipMessageRate } from './decorators/message-rate.decorator.js';
export { ErrorCode } from './protocol/error-codes.js';
export { CloseCode } from './protocol/close-codes.js';
export { NAMESPACES, type NamespaceName } from './protocol/namespaces.js';
export {
  defineNamespace,
  payload,
  replyTo,
  type Payload,
  type EventSpec,
  type ClientEventSpec,
  type TopicSpec,
  type PublishRule,
  type NamespaceDescriptor,
  type PayloadOf,
  type ClientEventPayloads,
  type ReplyEvents,
  type ReplyPayloads,
  type PushPayloads,
} from './protocol/namespace-descriptor.js';
export { NAMESPACE_DESCRIPTORS, SESSION, type NamespaceDescriptors } from './protocol/namespace-descriptors.js';
export { RealtimeGateway } from './gateways/realtime.gateway.js';
export { RealtimeNamespace, OnClientEvent } from './gateways/realtime-namespace.decorator.js';
export { CurrentConnection } from './gateways/current-connection.decorator.js';
export { TopicSubscriptions } from './subscriptions/topic-subscriptions.service.js';
export { SessionAuthService } from './session/session-auth.service.js';
export { bootstrapRealtimeApp } from './bootstrap.js';
export { REALTIME_AUTHORIZATION, type RealtimeAuthorization, DefaultRealtimeAuthorization } from './auth/realtime-authorization.js';
export { CHAT_HISTORY_STORE, type ChatHistoryBounds, type ChatHistorySizes, type ChatHistoryStore, type ChatMessage, InMemoryChatHistoryStore } from './chat/chat-history.store.js';
export { ACTIVITY_SINK, type ActivitySink, type ActivityItem } from './activity/activity-sink.js';
export { ActivityBuffer } from './activity/activity-buffer.js';
export { AlertMonitor, type AlertEvent, type AlertName, type AlertListener } from './observability/alert-monitor.js';
export { RealtimeMetrics } from './observability/realtime-metrics.js';
export { READINESS_INDICATORS, type ReadinessIndicator } from './http/readiness-indicator.js';
export { RealtimeLogger, NestJsonLogger } from './logging/realtime-logger.js';
export type { AlertThresholds } from './config/realtime-options.js';
