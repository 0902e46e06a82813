import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult, HealthIndicatorService } from '@nestjs/terminus';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { DrainState } from '../connection/drain-state.js';
import { AlertMonitor } from '../observability/alert-monitor.js';
import { GatewayServers } from '../observability/gateway-servers.js';
import { NAMESPACE_NAMES } from '../protocol/namespaces.js';
import { READINESS_INDICATORS, type ReadinessIndicator } from './readiness-indicator.js';

const GATEWAY_COUNT = NAMESPACE_NAMES.length;

/**
 * Liveness and readiness through terminus (docs/protocol.md §1, §9). Readiness is 503 while
 * draining, when a ws server is missing, when the heap is over its limit, or when an
 * extra indicator (e.g. Redis) is down. Active alerts are listed but do not fail it.
 */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(DrainState) private readonly drain: DrainState,
    @Inject(GatewayServers) private readonly servers: GatewayServers,
    @Inject(AlertMonitor) private readonly alerts: AlertMonitor,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(READINESS_INDICATORS) private readonly extra: readonly ReadinessIndicator[],
  ) {}

  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => {
        const check = this.indicators.check('draining');
        return this.drain.isDraining ? check.down({ draining: true }) : check.up({ draining: false });
      },
      () => {
        const check = this.indicators.check('websocket');
        const details = { servers: this.servers.count, expected: GATEWAY_COUNT };
        return this.servers.count >= GATEWAY_COUNT ? check.up(details) : check.down(details);
      },
      () => {
        const check = this.indicators.check('heap');
        const details = { heapUsed: process.memoryUsage().heapUsed, limit: this.config.heapLimitBytes };
        return details.heapUsed <= details.limit ? check.up(details) : check.down(details);
      },
      () =>
        this.indicators.check('alerts').up({
          active: this.alerts.activeAlerts().map(({ namespace, alert, value, threshold, at }) => ({ namespace, alert, value, threshold, since: at })),
        }),
      ...this.extra.map((indicator) => async () => {
        const check = this.indicators.check(indicator.name);
        return (await indicator.isHealthy()) ? check.up() : check.down();
      }),
    ]);
  }
}
