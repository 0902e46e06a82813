import type { WebSocketAdapter } from '@nestjs/common';

export const MISSING_ADAPTER_MESSAGE =
  'RealtimeModule requires RealtimeWsAdapter: call app.useWebSocketAdapter(new RealtimeWsAdapter(app)) before app.init()/listen()';

/**
 * The WebSocket adapter RealtimeModule installs while the app has none, replaced by the
 * host's `app.useWebSocketAdapter(...)`. Without it, Nest's init would look for its default
 * (`@nestjs/platform-socket.io`) and, not finding it, `process.exit(1)` with its message
 * still in the log buffer (`bufferLogs: true`): nothing printed. With it, init fails on
 * the first gateway with an error that says what to call.
 */
export class MissingRealtimeWsAdapter implements WebSocketAdapter {
  create(): never {
    throw new Error(MISSING_ADAPTER_MESSAGE);
  }

  bindClientConnect(): never {
    throw new Error(MISSING_ADAPTER_MESSAGE);
  }

  bindMessageHandlers(): never {
    throw new Error(MISSING_ADAPTER_MESSAGE);
  }

  async close(): Promise<void> {}
}
