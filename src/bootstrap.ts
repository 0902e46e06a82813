import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { RealtimeWsAdapter } from './adapter/realtime-ws.adapter.js';
import type { Server } from 'node:http';
import type { RealtimeConfig, RealtimeOptions } from './config/realtime-options.js';
import { REALTIME_CONFIG } from './realtime.constants.js';
import { NestJsonLogger, RealtimeLogger } from './logging/realtime-logger.js';
import { HttpErrorFilter } from './filters/http-error.filter.js';
import { MAX_PUBLISH_BODY_BYTES } from './http/dto/publish.dto.js';
import { servePublishFastPath } from './http/publish-fast-path.js';
import { RealtimePublisher } from './publishing/realtime-publisher.js';
import { type RealtimeExtensions, RealtimeModule } from './realtime.module.js';

export interface BootstrapOptions {
  readonly port: number;
  readonly host?: string;
}

/**
 * Creates and starts a standalone realtime server: RealtimeModule, RealtimeWsAdapter and
 * shutdown hooks (SIGTERM/SIGINT drain). Host apps that embed the module do the same three
 * steps in their own bootstrap.
 */
export async function bootstrapRealtimeApp(
  options: RealtimeOptions,
  listen: BootstrapOptions,
  extensions: RealtimeExtensions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(RealtimeModule.forRoot(options, extensions), { bufferLogs: true, abortOnError: false });
  // The API's answers are tiny and never cached: no ETag hashing per response.
  app.set('etag', false);
  // A batch publish may be up to 1 MiB (docs/protocol.md §8); over it, 413 PAYLOAD_TOO_LARGE.
  app.useBodyParser('json', { limit: MAX_PUBLISH_BODY_BYTES });
  const logger = app.get(RealtimeLogger);
  app.useLogger(new NestJsonLogger(logger));
  // Errors raised before any route (a body that is not JSON) get the contract's shapes too.
  app.useGlobalFilters(new HttpErrorFilter(logger));
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  // useProcessExit: exit 0 after the drain instead of re-raising the signal.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  // Upgrades that never finish their headers (slowloris) are dropped after headersTimeoutMs;
  // Node checks every `connectionsCheckingInterval` (30 s by default).
  const server = app.getHttpServer() as Server;
  const { headersTimeoutMs, apiKey } = app.get<symbol, RealtimeConfig>(REALTIME_CONFIG);
  // The standalone server owns its HTTP platform: publishes skip Express and Nest's router.
  if (apiKey !== undefined) servePublishFastPath(server, { apiKey, publisher: app.get(RealtimePublisher), logger });
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = Math.max(server.requestTimeout, headersTimeoutMs);
  await app.listen(listen.port, listen.host ?? '0.0.0.0');
  return app;
}
