import { Controller, Get, Header, HttpException, Inject, Req, UseFilters } from '@nestjs/common';
import type { Request } from 'express';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { SecretMatcher } from '../common/secret-matcher.js';
import { HttpErrorFilter } from '../filters/http-error.filter.js';
import { RealtimeMetrics } from '../observability/realtime-metrics.js';
import { HTTP_REJECTIONS } from '../protocol/error-codes.js';

/** GET /metrics in Prometheus text format; `Authorization: Bearer <METRICS_TOKEN>` when set (§9). */
@Controller('metrics')
@UseFilters(HttpErrorFilter)
export class MetricsController {
  private readonly token: SecretMatcher | undefined;

  constructor(
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.token = config.metricsToken === undefined ? undefined : new SecretMatcher(config.metricsToken);
  }

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  scrape(@Req() request: Request): Promise<string> {
    if (this.token && !this.token.matches(/^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1])) {
      throw new HttpException(HTTP_REJECTIONS[401], 401);
    }
    return this.metrics.scrape();
  }
}
