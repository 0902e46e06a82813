import 'reflect-metadata';
import { bootstrapRealtimeApp } from './bootstrap.js';
import { RealtimeConfigError, resolveRealtimeOptions } from './config/realtime-options.js';
import { RealtimeLogger, scrubSecrets } from './logging/realtime-logger.js';

/** `npm start`: the realtime server configured from the environment (docs/protocol.md §9). */
async function main(): Promise<void> {
  const env = process.env;
  // Validate before Nest starts so a bad config is one clear line and a non-zero exit.
  const config = resolveRealtimeOptions({ env });
  const port = Number(env.PORT ?? 3000);
  const app = await bootstrapRealtimeApp({ env }, { port, host: env.HOST });
  // A hard stop in case draining hangs: the process must exit within SHUTDOWN_TIMEOUT_MS.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 1000).unref());
  }
  app.get(RealtimeLogger).info('listening', { url: await app.getUrl() });
}

main().catch((err: unknown) => {
  const message = err instanceof RealtimeConfigError ? err.message : err instanceof Error ? `${err.name}: ${scrubSecrets(err.message)}` : String(err);
  // Logs are JSON lines, the fatal one included (it goes to stderr).
  process.stderr.write(JSON.stringify({ level: 'error', time: new Date().toISOString(), service: 'realtime', msg: `startup failed: ${message}` }) + '\n');
  process.exit(1);
});
