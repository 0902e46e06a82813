import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestJsonLogger, RealtimeLogger, RealtimeWsAdapter } from '@logistics/realtime-layer';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  app.useLogger(new NestJsonLogger(app.get(RealtimeLogger)));
  app.useWebSocketAdapter(new RealtimeWsAdapter(app)); // required: the handshake checks live here
  app.enableShutdownHooks();                           // SIGTERM/SIGINT drain
  await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '0.0.0.0');
  new Logger('ShipmentsHost').log(`shipments host listening on ${await app.getUrl()}`);
}

void bootstrap();
