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
import { ClientSession, type RealtimeSocket, type SessionLimits, type SessionTimers } from './client-session.js';
import { WriteBatcher } from './write-batcher.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { ConnectionRegistry } from './connection-registry.js';

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
}

/**
 * Owns a connection from upgrade to close: the `connected` frame, heartbeats (finding 13),
 * the pending-auth timeout, token expiry (finding 17), periodic revalidation against the
 * revocation store, forced closes, and the cleanup that runs on every close path.
 */
@Injectable()
export class ConnectionLifecycle implements OnApplicationShutdown {
  private readonly wheel: TimerWheel;
  private readonly revalidation: NodeJS.Timeout;
  private heartbeatTerminations = 0;
  private readonly connectionIds = new RandomIds();
  /** The same object for every session: one allocation, not one per connection. */
  private readonly limits: SessionLimits;
  private readonly timers: SessionTimers = {
    heartbeat: (socket) => this.heartbeat(socket),
    deadline: (socket) => this.deadline(socket),
  };
  // Socket listeners shared by every connection (ws calls them with the socket as `this`).
  private readonly closeListener: (this: WebSocket, code: number) => void;
  private readonly pongListener: (this: WebSocket) => void;

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(ConnectionRegistry) private readonly registry: ConnectionRegistry,
    @Inject(ConnectionLimiter) private readonly limiter: ConnectionLimiter,
    @Inject(REVOCATION_STORE) private readonly revocations: RevocationStore,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(SecurityAuditLog) private readonly audit: SecurityAuditLog,
  ) {
    this.wheel = new TimerWheel(TIMER_RESOLUTION_MS, (err) => this.logger.error('timer task failed', describeError(err)));
    this.limits = {
      batcher: new WriteBatcher(),
      maxBufferedBytes: config.maxBufferedBytes,
      maxInvalidFrames: config.maxInvalidFrames,
      maxRateLimitStrikes: config.maxRateLimitStrikes,
    };
    this.revalidation = setInterval(() => void this.revalidate(), config.revalidateIntervalMs);
    this.revalidation.unref();
    const cleanup = (socket: RealtimeSocket, code: number): void => this.cleanup(socket, code);
    const onPong = (socket: RealtimeSocket): void => this.onPong(socket);
    // Only sockets opened by `open` get these listeners.
    this.closeListener = function (this: WebSocket, code: number) {
      const socket = this as RealtimeSocket;
      cleanup(socket, code);
      socket.session.onDisconnect?.(code);
    };
    this.pongListener = function (this: WebSocket) {
      onPong(this as RealtimeSocket);
    };
  }

  onApplicationShutdown(): void {
    clearInterval(this.revalidation);
    this.wheel.clear();
  }

  /** Called once the upgrade completed and the connection's slot was acquired. */
  open(socket: RealtimeSocket, init: OpenConnection): void {
    const now = Date.now();
    const session = new ClientSession(
      // 96 random bits, 16 characters: a third of a UUID string's heap per connection.
      this.connectionIds.next(),
      init.namespace,
      init.ip,
      this.logger.hashIp(init.ip),
      now,
      init.identity,
      init.leaseId,
      this.limits,
      socket,
      this.timers,
    );
    socket.session = session;
    this.registry.add(socket);
    // The one close listener: limits and timers go first, then the gateway's disconnect
    // hook (set by the adapter). `on`, not `once`: ws emits close once, `once` wraps.
    socket.on('close', this.closeListener);
    socket.on('pong', this.pongListener);
    const identity = init.identity;
    socket.sendFrame(
      JSON.stringify({
        event: SessionEvent.CONNECTED,
        data: {
          connectionId: session.id,
          namespace: session.namespace.name,
          authenticated: session.authenticated,
          userId: identity?.userId ?? null,
          expiresAt: identity ? new Date(identity.expiresAt).toISOString() : null,
          heartbeatMs: this.config.heartbeatIntervalMs,
        },
      }),
    );
    this.wheel.schedule(session.heartbeatTask, now + this.config.heartbeatIntervalMs);
    if (session.state === 'pending') {
      this.wheel.schedule(session.deadlineTask, now + this.config.authTimeoutMs);
    } else if (identity) {
      this.scheduleExpiry(session);
    }
    this.metrics.connectionsOpened.inc({ namespace: session.namespace.name });
    this.logger.debug('connection opened', {
      connectionId: session.id,
      namespace: session.namespace.name,
      state: session.state,
      ip: session.ipHash,
    });
  }

  /** A pending or anonymous connection proved who it is (in-band `auth`). */
  promote(socket: RealtimeSocket, identity: Identity, leaseId: string): void {
    const session = socket.session;
    this.limiter.releaseAnonymous(session.ip);
    session.identity = identity;
    session.leaseId = leaseId;
    session.state = 'authenticated';
    // The next frame starts a fresh bucket of the authenticated throttler.
    session.rateBucket = undefined;
    this.registry.indexUser(socket, identity.userId);
    this.scheduleExpiry(session);
  }

  /** Same user, fresh token (`auth.refresh`): new expiry. */
  refresh(socket: RealtimeSocket, identity: Identity): void {
    socket.session.identity = identity;
    this.scheduleExpiry(socket.session);
  }

  /** Closes every connection of a user on this node; returns how many. */
  closeUser(userId: string, code: CloseCode): number {
    const sockets = this.registry.forUser(userId);
    for (const socket of sockets) this.forceClose(socket, code);
    return sockets.length;
  }

  /** Closes connections whose token has this id; returns how many. */
  closeToken(jti: string, code: CloseCode): number {
    let closed = 0;
    for (const socket of this.registry.all()) {
      if (socket.session.identity?.jti === jti) {
        this.forceClose(socket, code);
        closed += 1;
      }
    }
    return closed;
  }

  closeAll(code: CloseCode): void {
    for (const socket of this.registry.all()) socket.closeWith(code);
  }

  stats(): LifecycleStats {
    return { heartbeatTerminations: this.heartbeatTerminations, timers: this.wheel.size };
  }

  private forceClose(socket: RealtimeSocket, code: CloseCode): void {
    const session = socket.session;
    this.audit.record('forced_disconnect', session.ipHash, { namespace: session.namespace.name, connectionId: session.id, code });
    socket.closeWith(code);
  }

  /** The next expiry step of an authenticated session: the `auth.expiring` notice, then the close. */
  private scheduleExpiry(session: ClientSession): void {
    const identity = session.identity;
    if (!identity) return;
    session.expiryNoticeSent = false;
    this.wheel.schedule(session.deadlineTask, Math.max(Date.now(), identity.expiresAt - this.config.refreshWindowMs));
  }

  private heartbeat(socket: RealtimeSocket): void {
    const session = socket.session;
    if (session.closed) return;
    if (session.awaitingPong) {
      this.heartbeatTerminations += 1;
      this.metrics.heartbeatTerminations.inc({ namespace: session.namespace.name });
      this.metrics.signal(session.namespace.name, 'heartbeatTerminations');
      this.logger.debug('heartbeat timeout, terminating', { connectionId: session.id, namespace: session.namespace.name });
      socket.terminate();
      return;
    }
    session.awaitingPong = true;
    session.lastPingAt = Date.now();
    socket.ping();
    this.wheel.schedule(session.heartbeatTask, session.lastPingAt + this.config.pongTimeoutMs);
  }

  private onPong(socket: RealtimeSocket): void {
    const session = socket.session;
    if (session.closed || !session.awaitingPong) return;
    session.awaitingPong = false;
    this.wheel.schedule(session.heartbeatTask, Math.max(Date.now(), session.lastPingAt + this.config.heartbeatIntervalMs));
  }

  /**
   * Pending: the auth timeout passed (4401). Authenticated: one task walks the token's
   * expiry, first sending `auth.expiring` inside the refresh window, then closing 4001
   * once expiry plus grace has passed. A refresh reschedules it for the new token.
   */
  private deadline(socket: RealtimeSocket): void {
    const session = socket.session;
    if (session.closed) return;
    if (session.state === 'pending') {
      socket.closeWith(CloseCode.UNAUTHORIZED);
      return;
    }
    const identity = session.identity;
    if (!identity) return;
    const now = Date.now();
    const noticeAt = identity.expiresAt - this.config.refreshWindowMs;
    const closeAt = identity.expiresAt + this.config.tokenExpiryGraceMs;
    if (now < noticeAt) {
      this.wheel.schedule(session.deadlineTask, noticeAt);
    } else if (!session.expiryNoticeSent) {
      // Even a token accepted already expired (clock tolerance) is told before it is closed.
      session.expiryNoticeSent = true;
      socket.sendFrame(
        JSON.stringify({ event: SessionEvent.AUTH_EXPIRING, data: { expiresAt: new Date(identity.expiresAt).toISOString() } }),
      );
      this.wheel.schedule(session.deadlineTask, closeAt);
    } else if (now >= closeAt) {
      socket.closeWith(CloseCode.TOKEN_EXPIRED);
    } else {
      this.wheel.schedule(session.deadlineTask, closeAt);
    }
  }

  private async revalidate(): Promise<void> {
    for (const socket of this.registry.all()) {
      const identity = socket.session.identity;
      if (!identity || socket.session.closed) continue;
      try {
        if (await this.revocations.isRevoked(identity)) this.forceClose(socket, CloseCode.UNAUTHORIZED);
      } catch (err) {
        this.logger.warn('revalidation failed', describeError(err));
        return;
      }
    }
  }

  /** Every close path ends here: timers, registry entries and connection slots go (§7). */
  private cleanup(socket: RealtimeSocket, peerCode: number): void {
    const session = socket.session;
    if (session.closed) return;
    session.closed = true;
    const namespace = session.namespace.name;
    const code = session.closeCode ?? peerCode;
    this.metrics.connectionsClosed.inc({ namespace, code: String(code) });
    this.metrics.connectionDuration.observe({ namespace }, (Date.now() - session.openedAt) / 1000);
    if (code === CloseCode.SLOW_CONSUMER) this.metrics.slowConsumerCloses.inc({ namespace });
    this.wheel.cancel(session.heartbeatTask);
    this.wheel.cancel(session.deadlineTask);
    this.registry.remove(socket);
    if (session.userId !== undefined && session.leaseId !== undefined) this.limiter.releaseUser(session.userId, session.leaseId);
    else this.limiter.releaseAnonymous(session.ip);
    session.rateBucket = undefined;
    this.logger.debug('connection closed', { connectionId: session.id, namespace, code, durationMs: Date.now() - session.openedAt });
  }
}
