import { Controller, Get, Header, HttpException, Inject, Req, UseFilters } from '@nestjs/common';
import type { Request } from 'express';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { SecretMatcher } from '../common/secret-matcher.js';
import { HttpErrorFilter } from '../filters/http-error.filter.js';
import { RealtimeLogger } from '../logging/realtime-logger.js';
import { RealtimeMetrics } from '../observability/realtime-metrics.js';
import { HTTP_REJECTIONS } from '../protocol/error-codes.js';

/**
 * GET /metrics in Prometheus text format (docs/protocol.md §9): bearer METRICS_TOKEN when
 * set; without it open outside production and 404 in production unless METRICS_PUBLIC=true
 * (the metrics carry the 401 reasons that finding 19 hides from clients, finding R5).
 *
 * A rendered answer is reused for `metricsCacheMs` and concurrent scrapes share one render,
 * so a scrape loop costs at most one render (and its Redis reads) per period.
 */
@Controller('metrics')
@UseFilters(HttpErrorFilter)
export class MetricsController {
  private readonly token: SecretMatcher | undefined;
  private cached: { readonly at: number; readonly text: Promise<string> } | undefined;

  constructor(
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(RealtimeLogger) logger: RealtimeLogger,
  ) {
    this.token = config.metricsToken === undefined ? undefined : new SecretMatcher(config.metricsToken);
    if (config.metricsAccess === 'closed') {
      logger.warn('GET /metrics answers 404 under NODE_ENV=production: set METRICS_TOKEN (at least 32 characters) to scrape with a bearer token, or METRICS_PUBLIC=true to open it');
    }
  }

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  scrape(@Req() request: Request): Promise<string> {
    if (this.config.metricsAccess === 'closed') throw new HttpException(HTTP_REJECTIONS[404], 404);
    if (this.token && !this.token.matches(/^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1])) {
      throw new HttpException(HTTP_REJECTIONS[401], 401);
    }
    return this.render();
  }

  private render(): Promise<string> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.config.metricsCacheMs) return this.cached.text;
    const text = this.metrics.scrape();
    this.cached = { at: now, text };
    // A failed render is not reused.
    text.catch(() => {
      if (this.cached?.text === text) this.cached = undefined;
    });
    return text;
  }
}
