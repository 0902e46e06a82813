import { WebSocket } from 'ws';
import type { Identity } from '../auth/identity.js';
import type { OneOrMany } from '../common/keyed-sets.js';
import { StrikeCounter } from '../common/strike-counter.js';
import { TimerTask } from '../common/timer-wheel.js';
import type { TokenBucket } from '../common/token-bucket.js';
import { encodeTextFrame } from './text-frame.js';
import { rawSocketOf, type WriteBatcher } from './write-batcher.js';
import { CLOSE_REASONS, CloseCode } from '../protocol/close-codes.js';
import type { InboundFrame } from '../protocol/frame.js';
import type { NamespaceDefinition } from '../protocol/namespaces.js';

/** A gateway handler as Nest prepares it for one connection: guards, pipes and filter wrapped around. */
export type BoundHandler = (data: Record<string, unknown>, frame: InboundFrame) => unknown;

const NO_EVENTS: readonly string[] = [];
const NO_HANDLERS: readonly BoundHandler[] = [];

/** anonymous: optional-auth path, no token. pending: auth-required path, waiting for `auth`. */
export type AuthState = 'anonymous' | 'pending' | 'authenticated';

export interface SessionLimits {
  /** Shared by every connection of the process: batches their writes per event-loop turn. */
  readonly batcher: WriteBatcher;
  readonly maxBufferedBytes: number;
  readonly maxInvalidFrames: number;
  readonly maxRateLimitStrikes: number;
}

const STRIKE_WINDOW_MS = 60_000;

/**
 * What a session's two deadlines run, given the socket back: one set of functions for
 * every session, so a connection carries no closures of its own.
 */
export interface SessionTimers {
  readonly heartbeat: (socket: RealtimeSocket) => void;
  readonly deadline: (socket: RealtimeSocket) => void;
}

/**
 * Everything the server knows about one connection. Lives on the socket, so it is
 * released with it; the registries hold the socket only while it is open.
 */
export class ClientSession {
  state: AuthState;
  identity: Identity | undefined;
  /** Lease of the per-user connection slot while authenticated. */
  leaseId: string | undefined;
  /** Set once the close handler has run; late async work checks it and stops. */
  closed = false;
  awaitingPong = false;
  /** `auth.expiring` was sent for the current token (reset when a token is accepted). */
  expiryNoticeSent = false;
  /** The close code the server chose, when it closed the connection (metrics). */
  closeCode: CloseCode | undefined;
  lastPingAt = 0;
  /** Message-rate bucket of the throttler that applies now (dropped when the connection authenticates). */
  rateBucket: TokenBucket | undefined;
  /**
   * The gateway's event names (one array shared by its connections) and this connection's
   * handlers for them, index for index. Set by the adapter once Nest has bound the gateway.
   */
  events: readonly string[] = NO_EVENTS;
  handlers: readonly BoundHandler[] = NO_HANDLERS;
  /** This connection's topics; owned and written by SubscriptionRegistry only. */
  topics: OneOrMany<string>;
  /** The gateway's disconnect hook (Nest's), run after the lifecycle's cleanup on close. */
  onDisconnect: ((code: number) => void) | undefined;
  /** Created at the first strike: most connections never get one. */
  private invalidFrames: StrikeCounter | undefined;
  private rateStrikes: StrikeCounter | undefined;
  /** Heartbeat: next ping, or the pong deadline while `awaitingPong`. */
  readonly heartbeatTask: TimerTask<RealtimeSocket>;
  /** Auth timeout while pending; the `auth.expiring` notice, then token expiry, once authenticated. */
  readonly deadlineTask: TimerTask<RealtimeSocket>;

  constructor(
    readonly id: string,
    readonly namespace: NamespaceDefinition,
    readonly ip: string,
    /** Keyed hash of `ip`: the only form of the address that reaches logs (finding 25). */
    readonly ipHash: string,
    readonly openedAt: number,
    identity: Identity | undefined,
    leaseId: string | undefined,
    readonly limits: SessionLimits,
    socket: RealtimeSocket,
    timers: SessionTimers,
  ) {
    this.identity = identity;
    this.leaseId = leaseId;
    this.state = identity ? 'authenticated' : namespace.authRequired ? 'pending' : 'anonymous';
    this.heartbeatTask = new TimerTask(timers.heartbeat, socket);
    this.deadlineTask = new TimerTask(timers.deadline, socket);
  }

  /** Records an invalid frame; true when WS_MAX_INVALID_FRAMES fell within the window. */
  invalidFrameStrike(now: number): boolean {
    this.invalidFrames ??= new StrikeCounter(this.limits.maxInvalidFrames, STRIKE_WINDOW_MS);
    return this.invalidFrames.hit(now);
  }

  /** Records a RATE_LIMITED answer; true when the strike limit fell within the window. */
  rateLimitStrike(now: number): boolean {
    this.rateStrikes ??= new StrikeCounter(this.limits.maxRateLimitStrikes, STRIKE_WINDOW_MS);
    return this.rateStrikes.hit(now);
  }

  get authenticated(): boolean {
    return this.state === 'authenticated';
  }

  get userId(): string | undefined {
    return this.identity?.userId;
  }
}

/**
 * A server-to-client frame encoded once from its JSON text (`encodeTextFrame`), for
 * sending the same bytes to many recipients.
 */
export class PreparedFrame {
  readonly wire: Buffer;

  constructor(json: string) {
    this.wire = encodeTextFrame(json);
  }
}

/** The socket class the server creates (ws's `WebSocket` option), carrying its session. */
export class RealtimeSocket extends WebSocket {
  session!: ClientSession;

  /** Sends one JSON frame (a reply, an envelope). Returns false when nothing was sent. */
  sendFrame(json: string): boolean {
    return this.sendWire(encodeTextFrame(json));
  }

  /** Writes a frame prepared once for many recipients: no per-recipient encoding or copy. */
  sendPrepared(frame: PreparedFrame): boolean {
    return this.sendWire(frame.wire);
  }

  /**
   * The one send path and its backpressure rule (§6): over `maxBufferedBytes` queued the
   * connection is closed with 4008 instead of buffering without bound. With
   * permessage-deflate off, ws queues nothing of its own, so the TCP socket's queue is all
   * there is. The socket stays corked until the end of this event-loop turn (WriteBatcher).
   */
  private sendWire(wire: Buffer): boolean {
    if (this.readyState !== WebSocket.OPEN) return false;
    const raw = rawSocketOf(this);
    if (!raw) return false;
    if (raw.writableLength + wire.length > this.session.limits.maxBufferedBytes) {
      this.closeWith(CloseCode.SLOW_CONSUMER);
      return false;
    }
    this.session.limits.batcher.hold(raw);
    raw.write(wire);
    return true;
  }

  /** Closes with a code from the close-code table and its fixed reason (once). */
  closeWith(code: CloseCode): void {
    if (this.readyState === WebSocket.CLOSED || this.readyState === WebSocket.CLOSING) return;
    this.session.closeCode ??= code;
    this.close(code, CLOSE_REASONS[code]);
  }
}
