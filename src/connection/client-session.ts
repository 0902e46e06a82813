import type { Socket } from 'node:net';
import * as wsLibrary from 'ws';
import { WebSocket } from 'ws';
import type { Identity } from '../auth/identity.js';
import { StrikeCounter } from '../common/strike-counter.js';
import { TimerTask } from '../common/timer-wheel.js';
import type { TokenBucket } from '../common/token-bucket.js';
import { rawSocketOf, type WriteBatcher } from './write-batcher.js';
import { CLOSE_REASONS, CloseCode } from '../protocol/close-codes.js';
import type { NamespaceDefinition } from '../protocol/namespaces.js';

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
  /** The close code the server chose, when it closed the connection (metrics). */
  closeCode: CloseCode | undefined;
  lastPingAt = 0;
  /** Message-rate bucket of the throttler that applies now, and that throttler's name. */
  rateBucket: TokenBucket | undefined;
  rateBucketOf: string | undefined;
  readonly invalidFrames: StrikeCounter;
  readonly rateStrikes: StrikeCounter;
  /** Heartbeat: next ping, or the pong deadline while `awaitingPong`. */
  readonly heartbeatTask: TimerTask;
  /** Auth timeout while pending; token expiry once authenticated. */
  readonly deadlineTask: TimerTask;
  /** `auth.expiring` notice. */
  readonly expiringTask: TimerTask;

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
    tasks: { heartbeat: () => void; deadline: () => void; expiring: () => void },
  ) {
    this.identity = identity;
    this.leaseId = leaseId;
    this.state = identity ? 'authenticated' : namespace.authRequired ? 'pending' : 'anonymous';
    this.invalidFrames = new StrikeCounter(limits.maxInvalidFrames, STRIKE_WINDOW_MS);
    this.rateStrikes = new StrikeCounter(limits.maxRateLimitStrikes, STRIKE_WINDOW_MS);
    this.heartbeatTask = new TimerTask(tasks.heartbeat);
    this.deadlineTask = new TimerTask(tasks.deadline);
    this.expiringTask = new TimerTask(tasks.expiring);
  }

  get authenticated(): boolean {
    return this.state === 'authenticated';
  }

  get userId(): string | undefined {
    return this.identity?.userId;
  }
}

const TEXT = { binary: false } as const;

/** ws's frame builder (`Sender.frame`), exported by ws but missing from its typings. */
interface FrameBuilder {
  frame(data: Buffer, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }): Buffer[];
}
const { Sender } = wsLibrary as unknown as { Sender: FrameBuilder };

/**
 * A server-to-client text frame built once from its JSON payload: `wire` is the complete
 * WebSocket frame (header + payload; servers do not mask, and permessage-deflate is off,
 * so the bytes are the same for every recipient).
 */
export class PreparedFrame {
  readonly wire: Buffer;

  constructor(payload: Buffer) {
    const parts = Sender.frame(payload, { fin: true, rsv1: false, opcode: 0x01, mask: false, readOnly: false });
    this.wire = Buffer.concat(parts);
  }
}

/** The socket class the server creates (ws's `WebSocket` option), carrying its session. */
export class RealtimeSocket extends WebSocket {
  session!: ClientSession;

  /** Sends one serialised frame (a reply, an envelope). Returns false when nothing was sent. */
  sendFrame(frame: string | Buffer): boolean {
    if (!this.admit(frame.length)) return false;
    this.send(frame, TEXT);
    return true;
  }

  /**
   * Writes a frame prepared once for many recipients (`PreparedFrame`): no per-recipient
   * framing, options object or copy.
   */
  sendPrepared(frame: PreparedFrame): boolean {
    const raw = this.admit(frame.wire.length);
    if (!raw) return false;
    raw.write(frame.wire);
    return true;
  }

  /**
   * The one backpressure rule of both send paths (§6): over `maxBufferedBytes` queued the
   * connection is closed with 4008 instead of buffering without bound. With
   * permessage-deflate off, ws queues nothing of its own, so the TCP socket's queue is all
   * there is. Returns the socket, corked for this event-loop turn, when the frame may go.
   */
  private admit(bytes: number): Socket | undefined {
    if (this.readyState !== WebSocket.OPEN) return undefined;
    const raw = rawSocketOf(this);
    if (!raw) return undefined;
    if (raw.writableLength + bytes > this.session.limits.maxBufferedBytes) {
      this.closeWith(CloseCode.SLOW_CONSUMER);
      return undefined;
    }
    this.session.limits.batcher.hold(raw);
    return raw;
  }

  /** Closes with a code from the close-code table and its fixed reason (once). */
  closeWith(code: CloseCode): void {
    if (this.readyState === WebSocket.CLOSED || this.readyState === WebSocket.CLOSING) return;
    this.session.closeCode ??= code;
    this.close(code, CLOSE_REASONS[code]);
  }
}
