import { type DynamicModule, Inject, type InjectionToken, Module, type ModuleMetadata, type OnModuleInit, type Provider, type Type } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { TerminusModule } from '@nestjs/terminus';
import { HandshakeService } from './adapter/handshake.service.js';
import { MISSING_ADAPTER_MESSAGE, MissingRealtimeWsAdapter } from './adapter/missing-adapter.js';
import { RealtimeWsAdapter } from './adapter/realtime-ws.adapter.js';
import { REVOCATION_STORE } from './auth/revocation-store.js';
import { SCALE_OUT_PROVIDERS } from './redis/scale-out.providers.js';
import { jwtModuleOptions, TokenVerifier } from './auth/token-verifier.js';
import { type RealtimeConfig, type RealtimeOptions, resolveRealtimeOptions } from './config/realtime-options.js';
import { ConnectionLifecycle } from './connection/connection-lifecycle.js';
import { ConnectionLimiter } from './connection/connection-limiter.js';
import { ConnectionRegistry } from './connection/connection-registry.js';
import { DrainState } from './connection/drain-state.js';
import { HandshakeRateLimiter } from './connection/handshake-rate-limiter.js';
import { USER_CONNECTION_COUNTER } from './connection/user-connection-counter.js';
import { ShutdownService } from './connection/shutdown.service.js';
import { WsExceptionFilter } from './filters/ws-exception.filter.js';
import { MainGateway } from './gateways/main.gateway.js';
import { TrackingGateway } from './gateways/tracking.gateway.js';
import { HealthController } from './http/health.controller.js';
import { MetricsController } from './http/metrics.controller.js';
import { AlertMonitor } from './observability/alert-monitor.js';
import { GatewayServers } from './observability/gateway-servers.js';
import { MetricsSources } from './metrics-sources.js';
import { ALERT_SETTINGS, type AlertSettings, OBSERVABILITY_LOGGER } from './observability/ports.js';
import { NAMESPACE_NAMES } from './protocol/namespaces.js';
import { RealtimeMetrics } from './observability/realtime-metrics.js';
import { SecurityAuditLog } from './observability/security-audit-log.js';
import { SecurityEvents } from './observability/security-events.js';
import { RealtimeApiController } from './http/realtime-api.controller.js';
import { RealtimeLogger } from './logging/realtime-logger.js';
import { BROKER } from './publishing/broker.js';
import { LocalDeliveryService } from './publishing/local-delivery.service.js';
import { RecoverableStreams } from './recovery/recoverable-streams.service.js';
import { RealtimePublisher } from './publishing/realtime-publisher.js';
import { REALTIME_CONFIG, REALTIME_OPTIONS } from './realtime.constants.js';
import { IDENTITY_REFRESH_LISTENERS } from './session/identity-refresh.listener.js';
import { SessionAuthService } from './session/session-auth.service.js';
import { SubscriptionRegistry } from './subscriptions/subscription-registry.js';
import { TopicSubscriptions } from './subscriptions/topic-subscriptions.service.js';
import { CollaborationRooms } from './subscriptions/collaboration-rooms.service.js';
import { COMMODITY_MEMBER_STORE, ROOM_PRESENCE_STORE } from './subscriptions/room-presence.store.js';
import { CHAT_RATE_LIMITER } from './chat/chat-rate-limiter.js';
import { CommodityChat } from './chat/commodity-chat.service.js';
import { CHAT_HISTORY_STORE } from './chat/chat-history.store.js';
import { ActivityBuffer } from './activity/activity-buffer.js';
import { ACTIVITY_SINK } from './activity/activity-sink.js';
import { BroadcastActivitySink } from './activity/broadcast-activity.sink.js';
import { DefaultRealtimeAuthorization, REALTIME_AUTHORIZATION } from './auth/realtime-authorization.js';
import { NotificationsGateway } from './gateways/notifications.gateway.js';
import { ProjectsGateway } from './gateways/projects.gateway.js';
import { CollaborationGateway } from './gateways/collaboration.gateway.js';
import { CommodityGateway } from './gateways/commodity.gateway.js';
import { ActivityGateway } from './gateways/activity.gateway.js';
import { MololinkGateway } from './gateways/mololink.gateway.js';

/**
 * Replaceable parts: providers given here replace the defaults with the same token
 * (REVOCATION_STORE, BROKER, ...). `imports` makes the host's modules available to them.
 */
export interface RealtimeExtensions extends Pick<ModuleMetadata, 'imports'> {
  readonly overrides?: Provider[];
  /**
   * Gateways of namespaces the host application adds: each declared with
   * `@RealtimeNamespace(descriptor)`, extending `RealtimeGateway`, handlers with
   * `@OnClientEvent(spec)`. They get the same pipeline and cleanup as the contract's.
   */
  readonly gateways?: Type[];
}

export interface RealtimeModuleAsyncOptions extends RealtimeExtensions {
  useFactory: (...args: never[]) => RealtimeOptions | Promise<RealtimeOptions>;
  inject?: InjectionToken[];
  /** Modules the options factory needs. */
  factoryImports?: ModuleMetadata['imports'];
}

/** The resolved config, shared with JwtModule's async factory. */
@Module({})
class RealtimeConfigModule {
  static register(optionsProvider: Provider, imports: ModuleMetadata['imports'] = []): DynamicModule {
    return {
      module: RealtimeConfigModule,
      imports,
      providers: [
        optionsProvider,
        {
          provide: REALTIME_CONFIG,
          inject: [REALTIME_OPTIONS],
          // Throws RealtimeConfigError at startup, before anything listens (finding 1).
          useFactory: (options: RealtimeOptions): RealtimeConfig => resolveRealtimeOptions(options),
        },
      ],
      exports: [REALTIME_CONFIG],
    };
  }
}

const SERVICES: Provider[] = [
  ...SCALE_OUT_PROVIDERS,
  {
    provide: RealtimeLogger,
    inject: [REALTIME_CONFIG],
    useFactory: (config: RealtimeConfig) => RealtimeLogger.create(config.logLevel),
  },
  { provide: REALTIME_AUTHORIZATION, useClass: DefaultRealtimeAuthorization },
  { provide: ACTIVITY_SINK, useClass: BroadcastActivitySink },
  { provide: OBSERVABILITY_LOGGER, useExisting: RealtimeLogger },
  {
    provide: ALERT_SETTINGS,
    inject: [REALTIME_CONFIG, ConnectionRegistry],
    useFactory: (config: RealtimeConfig, connections: ConnectionRegistry): AlertSettings => ({
      evalIntervalMs: config.alertEvalIntervalMs,
      thresholds: NAMESPACE_NAMES.map((ns) => [ns, config.alertThresholds[ns]] as const),
      connections: (ns) => connections.inNamespace(ns).size,
    }),
  },
  RealtimeMetrics,
  SecurityAuditLog,
  SecurityEvents,
  AlertMonitor,
  GatewayServers,
  MetricsSources,
  TopicSubscriptions,
  // Re-checks every namespace's subscriptions on token refresh.
  { provide: IDENTITY_REFRESH_LISTENERS, inject: [TopicSubscriptions], useFactory: (topics: TopicSubscriptions) => [topics] },
  CollaborationRooms,
  CommodityChat,
  ActivityBuffer,
  TokenVerifier,
  DrainState,
  HandshakeRateLimiter,
  ConnectionLimiter,
  ConnectionRegistry,
  ConnectionLifecycle,
  HandshakeService,
  SessionAuthService,
  SubscriptionRegistry,
  RecoverableStreams,
  LocalDeliveryService,
  RealtimePublisher,
  ShutdownService,
  WsExceptionFilter,
  MainGateway,
  TrackingGateway,
  NotificationsGateway,
  ProjectsGateway,
  CollaborationGateway,
  CommodityGateway,
  ActivityGateway,
  MololinkGateway,
];

const EXPORTS = [
  RealtimePublisher,
  SubscriptionRegistry,
  ConnectionRegistry,
  ConnectionLifecycle,
  ActivityBuffer,
  AlertMonitor,
  RealtimeMetrics,
  REVOCATION_STORE,
  BROKER,
  CHAT_HISTORY_STORE,
  REALTIME_AUTHORIZATION,
  ACTIVITY_SINK,
  ROOM_PRESENCE_STORE,
  COMMODITY_MEMBER_STORE,
  CHAT_RATE_LIMITER,
  USER_CONNECTION_COUNTER,
];

/**
 * The realtime layer as a Nest module. Use it with `RealtimeWsAdapter`
 * (`app.useWebSocketAdapter(new RealtimeWsAdapter(app))`); startup fails otherwise.
 */
@Module({})
export class RealtimeModule implements OnModuleInit {
  constructor(@Inject(ApplicationConfig) private readonly appConfig: ApplicationConfig) {
    // Instantiated by NestFactory.create, before the host can call useWebSocketAdapter.
    if (!appConfig.getIoAdapter()) appConfig.setIoAdapter(new MissingRealtimeWsAdapter());
  }

  static forRoot(options: RealtimeOptions = {}, extensions: RealtimeExtensions = {}): DynamicModule {
    return RealtimeModule.build(RealtimeConfigModule.register({ provide: REALTIME_OPTIONS, useValue: options }), extensions);
  }

  static forRootAsync(options: RealtimeModuleAsyncOptions): DynamicModule {
    return RealtimeModule.build(
      RealtimeConfigModule.register(
        { provide: REALTIME_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        options.factoryImports,
      ),
      options,
    );
  }

  private static build(configModule: DynamicModule, extensions: RealtimeExtensions): DynamicModule {
    return {
      module: RealtimeModule,
      imports: [
        configModule,
        ...(extensions.imports ?? []),
        JwtModule.registerAsync({
          imports: [configModule],
          inject: [REALTIME_CONFIG],
          useFactory: jwtModuleOptions,
        }),
        TerminusModule,
      ],
      controllers: [HealthController, RealtimeApiController, MetricsController],
      // Later providers win over earlier ones with the same token.
      providers: [...SERVICES, ...(extensions.gateways ?? []), ...(extensions.overrides ?? [])],
      exports: [...EXPORTS, configModule],
    };
  }

  onModuleInit(): void {
    if (!(this.appConfig.getIoAdapter() instanceof RealtimeWsAdapter)) {
      throw new Error(MISSING_ADAPTER_MESSAGE);
    }
  }
}
