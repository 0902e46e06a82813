import { type BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { RealtimeLogger } from '../logging/realtime-logger.js';
import { CloseCode } from '../protocol/close-codes.js';
import { ConnectionLifecycle } from './connection-lifecycle.js';
import { ConnectionRegistry } from './connection-registry.js';
import { DrainState } from './drain-state.js';

/** Share of SHUTDOWN_TIMEOUT_MS spent waiting for clients to complete the close handshake. */
const GRACEFUL_SHARE = 0.8;
const POLL_MS = 20;

/**
 * Drain on shutdown (§9): readiness and new upgrades turn 503, every connection gets
 * 1001, and whatever has not closed within the budget is terminated.
 */
@Injectable()
export class ShutdownService implements BeforeApplicationShutdown {
  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(DrainState) private readonly drain: DrainState,
    @Inject(ConnectionLifecycle) private readonly lifecycle: ConnectionLifecycle,
    @Inject(ConnectionRegistry) private readonly registry: ConnectionRegistry,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
  ) {}

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.drain.begin();
    const open = this.registry.count();
    this.logger.info('draining', { signal: signal ?? null, connections: open });
    this.lifecycle.closeAll(CloseCode.GOING_AWAY);
    const deadline = Date.now() + this.config.shutdownTimeoutMs * GRACEFUL_SHARE;
    while (this.registry.count() > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const remaining = this.registry.all();
    for (const socket of remaining) socket.terminate();
    this.logger.info('drained', { closed: open - remaining.length, terminated: remaining.length });
  }
}
