import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult, HealthIndicatorService } from '@nestjs/terminus';
import { DrainState } from '../connection/drain-state.js';

/** Liveness and readiness through terminus (PROTOCOL.md §1, §9). */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(DrainState) private readonly drain: DrainState,
  ) {}

  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** 503 while draining. Metrics and alert details plug in here as further indicators. */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => {
        const check = this.indicators.check('realtime');
        return this.drain.isDraining ? check.down({ draining: true }) : check.up({ draining: false });
      },
    ]);
  }
}
