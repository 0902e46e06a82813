import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { Identity } from '../auth/identity.js';
import { REVOCATION_STORE, type RevocationStore } from '../auth/revocation-store.js';
import { RandomIds } from '../common/random-ids.js';
import { TimerWheel } from '../common/timer-wheel.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { RealtimeMetrics } from '../observability/realtime-metrics.js';
import { SecurityAuditLog } from '../observability/security-audit-log.js';
import { CloseCode } from '../protocol/close-codes.js';
import { SessionEvent } from '../protocol/events.js';
import type { NamespaceDefinition } from '../protocol/namespaces.js';
import { SubscriptionRegistry } from '../subscriptions/subscription-registry.js';
import { Connection, type ConnectionLimits, type ConnectionTimers, type RealtimeSocket } from './connection.js';
import { WriteBatcher } from './write-batcher.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { ConnectionRegistry } from './connection-registry.js';

/** Revocation checks in flight at once during a revalidation run. */
const REVALIDATION_CHUNK = 32;
/** Resolution of the shared timer wheel: deadlines fire at most this late. */
const TIMER_RESOLUTION_MS = 50;

export interface OpenConnection {
  readonly namespace: NamespaceDefinition;
  readonly ip: string;
  readonly identity?: Identity;
  readonly leaseId?: string;
}

export interface LifecycleStats {
  readonly heartbeatTerminations: number;
  readonly timers: number;
  /** Completed runs, ticks skipped while a run was in progress, store calls made, calls that failed. */
  readonly revalidation: { readonly runs: number; readonly skipped: number; readonly checks: number; readonly failures: number };
}

/**
 * Owns a connection from upgrade to close: the `connected` frame, heartbeats (finding 13),
 * the pending-auth timeout, token expiry (finding 17), periodic revalidation against the
 * revocation store, forced closes, and the one cleanup that runs on every close path.
 */
@Injectable()
export class ConnectionLifecycle implements OnApplicationShutdown {
  private readonly wheel: TimerWheel;
  private readonly revalidation: NodeJS.Timeout;
  private heartbeatTerminations = 0;
  /** True while a revalidation run is in progress (single flight). */
  private revalidating = false;
  private revalidationRuns = 0;
  private revalidationSkipped = 0;
  private revalidationChecks = 0;
  private revalidationFailures = 0;
  private readonly connectionIds = new RandomIds();
  /** The same object for every connection: one allocation, not one per connection. */
  private readonly limits: ConnectionLimits;
  private readonly timers: ConnectionTimers = {
    heartbeat: (connection) => this.heartbeat(connection),
    deadline: (connection) => this.deadline(connection),
  };
  // Socket listeners shared by every connection (ws calls them with the socket as `this`).
  private readonly closeListener: (this: WebSocket, code: number) => void;
  private readonly pongListener: (this: WebSocket) => void;

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(ConnectionRegistry) private readonly registry: ConnectionRegistry,
    @Inject(SubscriptionRegistry) private readonly subscriptions: SubscriptionRegistry,
    @Inject(ConnectionLimiter) private readonly limiter: ConnectionLimiter,
    @Inject(REVOCATION_STORE) private readonly revocations: RevocationStore,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(SecurityAuditLog) private readonly audit: SecurityAuditLog,
  ) {
    this.wheel = new TimerWheel(TIMER_RESOLUTION_MS, (err) => this.logger.error('timer task failed', describeError(err)));
    this.limits = {
      batcher: new WriteBatcher(config.writeDelayMs),
      hashIp: (ip: string) => logger.hashIp(ip),
      maxBufferedBytes: config.maxBufferedBytes,
      maxInvalidFrames: config.maxInvalidFrames,
      maxRateLimitStrikes: config.maxRateLimitStrikes,
    };
    this.revalidation = setInterval(() => void this.revalidate(), config.revalidateIntervalMs);
    this.revalidation.unref();
    const cleanup = (connection: Connection, code: number): void => this.cleanup(connection, code);
    const onPong = (connection: Connection): void => this.onPong(connection);
    // Only sockets opened by `open` get these listeners.
    this.closeListener = function (this: WebSocket, code: number) {
      cleanup((this as RealtimeSocket).connection, code);
    };
    this.pongListener = function (this: WebSocket) {
      onPong((this as RealtimeSocket).connection);
    };
  }

  onApplicationShutdown(): void {
    clearInterval(this.revalidation);
    this.limits.batcher.close();
    this.wheel.clear();
  }

  /**
   * Holds the upgrade's writes (ws writes the 101 response synchronously) so that they leave
   * with the `connected` frame in one write: one syscall less per handshake.
   */
  holdWrites(transport: Socket): void {
    this.limits.batcher.hold(transport);
  }

  /** Called once the upgrade completed and the connection's slot was acquired. */
  open(socket: RealtimeSocket, transport: Socket, init: OpenConnection): Connection {
    const now = Date.now();
    const connection = new Connection({
      // 96 random bits, 16 characters: a third of a UUID string's heap per connection.
      id: this.connectionIds.next(),
      namespace: init.namespace,
      ip: init.ip,
      openedAt: now,
      identity: init.identity,
      leaseId: init.leaseId,
      socket,
      transport,
      limits: this.limits,
      timers: this.timers,
    });
    this.registry.add(connection);
    // The first close listener: every trace of the connection goes before anything else
    // hears of the close. `on`, not `once`: ws emits close once, `once` wraps.
    socket.on('close', this.closeListener);
    socket.on('pong', this.pongListener);
    const identity = init.identity;
    connection.send(
      JSON.stringify({
        event: SessionEvent.CONNECTED,
        data: {
          connectionId: connection.id,
          namespace: connection.namespace.name,
          authenticated: connection.authenticated,
          userId: identity?.userId ?? null,
          expiresAt: identity ? new Date(identity.expiresAt).toISOString() : null,
          heartbeatMs: this.config.heartbeatIntervalMs,
        },
      }),
    );
    this.wheel.schedule(connection.heartbeatTask, now + this.config.heartbeatIntervalMs);
    if (connection.state === 'pending') {
      this.wheel.schedule(connection.deadlineTask, now + this.config.authTimeoutMs);
    } else if (identity) {
      this.scheduleExpiry(connection);
    }
    this.metrics.connectionsOpened.inc({ namespace: connection.namespace.name });
    if (this.logger.debugEnabled) {
      this.logger.debug('connection opened', { connectionId: connection.id, namespace: connection.namespace.name, state: connection.state, ip: connection.ipHash });
    }
    return connection;
  }

  /** A pending or anonymous connection proved who it is (in-band `auth`). */
  promote(connection: Connection, identity: Identity, leaseId: string): void {
    this.limiter.releaseAnonymous(connection.ip);
    connection.authenticate(identity, leaseId);
    this.registry.indexUser(connection, identity.userId);
    this.scheduleExpiry(connection);
  }

  /** Same user, fresh token (`auth.refresh`): new expiry. */
  refresh(connection: Connection, identity: Identity): void {
    connection.refresh(identity);
    this.scheduleExpiry(connection);
  }

  /** Closes every connection of a user on this node; returns how many. */
  closeUser(userId: string, code: CloseCode): number {
    const connections = this.registry.forUser(userId);
    for (const connection of connections) this.forceClose(connection, code);
    return connections.length;
  }

  /** Closes connections whose token has this id; returns how many. */
  closeToken(jti: string, code: CloseCode): number {
    let closed = 0;
    for (const connection of this.registry.all()) {
      if (connection.identity?.jti === jti) {
        this.forceClose(connection, code);
        closed += 1;
      }
    }
    return closed;
  }

  closeAll(code: CloseCode): void {
    for (const connection of this.registry.all()) connection.close(code);
  }

  stats(): LifecycleStats {
    return {
      heartbeatTerminations: this.heartbeatTerminations,
      timers: this.wheel.size,
      revalidation: {
        runs: this.revalidationRuns,
        skipped: this.revalidationSkipped,
        checks: this.revalidationChecks,
        failures: this.revalidationFailures,
      },
    };
  }

  private forceClose(connection: Connection, code: CloseCode): void {
    this.audit.record('forced_disconnect', connection.ipHash, { namespace: connection.namespace.name, connectionId: connection.id, code });
    connection.close(code);
  }

  /** The next expiry step of an authenticated connection: the `auth.expiring` notice, then the close. */
  private scheduleExpiry(connection: Connection): void {
    const identity = connection.identity;
    if (!identity) return;
    this.wheel.schedule(connection.deadlineTask, Math.max(Date.now(), identity.expiresAt - this.config.refreshWindowMs));
  }

  private heartbeat(connection: Connection): void {
    if (connection.closed) return;
    const now = Date.now();
    if (!connection.ping(now)) {
      this.heartbeatTerminations += 1;
      this.metrics.countHeartbeatTermination(connection.namespace.name);
      this.logger.debug('heartbeat timeout, terminating', { connectionId: connection.id, namespace: connection.namespace.name });
      connection.terminate();
      return;
    }
    this.wheel.schedule(connection.heartbeatTask, now + this.config.pongTimeoutMs);
  }

  private onPong(connection: Connection): void {
    if (connection.closed) return;
    const pingedAt = connection.pong();
    if (pingedAt === undefined) return;
    this.wheel.schedule(connection.heartbeatTask, Math.max(Date.now(), pingedAt + this.config.heartbeatIntervalMs));
  }

  /**
   * Pending: the auth timeout passed (4401). Authenticated: one task walks the token's
   * expiry, first sending `auth.expiring` inside the refresh window, then closing 4001
   * once expiry plus grace has passed. A refresh reschedules it for the new token.
   */
  private deadline(connection: Connection): void {
    if (connection.closed) return;
    if (connection.state === 'pending') {
      connection.close(CloseCode.UNAUTHORIZED);
      return;
    }
    const identity = connection.identity;
    if (!identity) return;
    const now = Date.now();
    const noticeAt = identity.expiresAt - this.config.refreshWindowMs;
    const closeAt = identity.expiresAt + this.config.tokenExpiryGraceMs;
    if (now < noticeAt) {
      this.wheel.schedule(connection.deadlineTask, noticeAt);
    } else if (connection.noteExpiryNotice()) {
      // Even a token accepted already expired (clock tolerance) is told before it is closed.
      connection.send(
        JSON.stringify({ event: SessionEvent.AUTH_EXPIRING, data: { expiresAt: new Date(identity.expiresAt).toISOString() } }),
      );
      this.wheel.schedule(connection.deadlineTask, closeAt);
    } else if (now >= closeAt) {
      connection.close(CloseCode.TOKEN_EXPIRED);
    } else {
      this.wheel.schedule(connection.deadlineTask, closeAt);
    }
  }

  /**
   * Periodic revalidation against the revocation store (finding R7): single flight (a tick
   * while a run is in progress is skipped and counted), one store call per distinct token
   * (jti, user, issue time) however many connections share it, calls in bounded parallel
   * chunks, and an item that fails is logged and retried next run without stopping the
   * rest, so a flaky store can no longer skip the same tail forever.
   */
  private async revalidate(): Promise<void> {
    if (this.revalidating) {
      this.revalidationSkipped += 1;
      this.metrics.revalidationRuns.inc({ outcome: 'skipped' });
      return;
    }
    this.revalidating = true;
    const startedAt = performance.now();
    let failures = 0;
    try {
      const byToken = new Map<string, Connection[]>();
      for (const connection of this.registry.all()) {
        const identity = connection.identity;
        if (!identity || connection.closed) continue;
        const key = `${identity.jti ?? ''}\u0000${identity.userId}\u0000${identity.issuedAt}`;
        const sharing = byToken.get(key);
        if (sharing) sharing.push(connection);
        else byToken.set(key, [connection]);
      }
      const groups = [...byToken.values()];
      for (let i = 0; i < groups.length; i += REVALIDATION_CHUNK) {
        const outcomes = await Promise.allSettled(
          groups.slice(i, i + REVALIDATION_CHUNK).map(async (sharing) => {
            if (!(await this.revocations.isRevoked(sharing[0]!.identity!))) return;
            for (const connection of sharing) if (!connection.closed) this.forceClose(connection, CloseCode.UNAUTHORIZED);
          }),
        );
        for (const outcome of outcomes) {
          if (outcome.status === 'fulfilled') continue;
          failures += 1;
          if (failures === 1) this.logger.warn('revalidation failed', describeError(outcome.reason));
        }
      }
      this.revalidationChecks += groups.length;
    } finally {
      this.revalidating = false;
      this.revalidationRuns += 1;
      this.revalidationFailures += failures;
      this.metrics.revalidationRuns.inc({ outcome: failures > 0 ? 'partial' : 'complete' });
      if (failures > 0) this.metrics.revalidationFailures.inc(failures);
      this.metrics.revalidationDuration.observe((performance.now() - startedAt) / 1000);
    }
    if (failures > 1) this.logger.warn('revalidation: checks failed this run (retried next run)', { failures });
  }

  /**
   * Every close path ends here (§7): timers, the connection's index entries, its topics
   * (whose namespace hooks then run their side effects, e.g. presence leave) and its slot.
   */
  private cleanup(connection: Connection, peerCode: number): void {
    const code = connection.markClosed(peerCode);
    if (code === undefined) return;
    const namespace = connection.namespace.name;
    this.metrics.connectionsClosed.inc({ namespace, code: String(code) });
    this.metrics.connectionDuration.observe({ namespace }, (Date.now() - connection.openedAt) / 1000);
    if (code === CloseCode.SLOW_CONSUMER) this.metrics.slowConsumerCloses.inc({ namespace });
    this.wheel.cancel(connection.heartbeatTask);
    this.wheel.cancel(connection.deadlineTask);
    this.registry.remove(connection);
    this.subscriptions.removeConnection(connection);
    if (connection.userId !== undefined && connection.leaseId !== undefined) this.limiter.releaseUser(connection.userId, connection.leaseId);
    else this.limiter.releaseAnonymous(connection.ip);
    this.logger.debug('connection closed', { connectionId: connection.id, namespace, code, durationMs: Date.now() - connection.openedAt });
  }
}
