import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { Identity } from '../auth/identity.js';
import { addMember, countMembers, hasMember, membersOf, type OneOrMany, removeMember } from '../common/keyed-sets.js';
import { StrikeCounter } from '../common/strike-counter.js';
import { TimerTask } from '../common/timer-wheel.js';
import { TokenBucket } from '../common/token-bucket.js';
import { encodeTextFrame } from './text-frame.js';
import type { WriteBatcher } from './write-batcher.js';
import { CLOSE_REASONS, CloseCode } from '../protocol/close-codes.js';
import type { NamespaceDefinition } from '../protocol/namespaces.js';

/** A gateway handler as Nest prepares it for one connection: guards, pipes and filter wrapped around. */
export type BoundHandler = (data: Record<string, unknown>) => unknown;

const NO_EVENTS: readonly string[] = [];
const NO_HANDLERS: readonly BoundHandler[] = [];

/** anonymous: optional-auth path, no token. pending: auth-required path, waiting for `auth`. */
export type AuthState = 'anonymous' | 'pending' | 'authenticated';

export type TopicChange = 'added' | 'already' | 'limit';

/** A message rate: `burst` tokens, refilled at `perSec`. Compared by identity (one bucket per rate object). */
export interface RateLimit {
  readonly perSec: number;
  readonly burst: number;
}

/** What every connection of the process shares. */
export interface ConnectionLimits {
  /** Batches the writes of every connection per event-loop turn, or per WS_WRITE_DELAY_MS. */
  readonly batcher: WriteBatcher;
  readonly maxBufferedBytes: number;
  readonly maxInvalidFrames: number;
  readonly maxRateLimitStrikes: number;
  /** The keyed hash of an address (RealtimeLogger.hashIp), computed only when a log or audit line needs it. */
  readonly hashIp: (ip: string) => string;
}

/** What a connection's two deadlines run, given the connection back: one function per kind, no closures. */
export interface ConnectionTimers {
  readonly heartbeat: (connection: Connection) => void;
  readonly deadline: (connection: Connection) => void;
}

export interface ConnectionOptions {
  readonly id: string;
  readonly namespace: NamespaceDefinition;
  readonly ip: string;
  readonly openedAt: number;
  /** Present when the handshake authenticated the connection. */
  readonly identity?: Identity;
  /** Lease of the per-user connection slot, with `identity`. */
  readonly leaseId?: string;
  readonly socket: RealtimeSocket;
  /** The TCP socket the upgrade arrived on (ws writes to the same one). */
  readonly transport: Socket;
  readonly limits: ConnectionLimits;
  readonly timers: ConnectionTimers;
}

const STRIKE_WINDOW_MS = 60_000;

/**
 * One client connection: everything the server knows about it, changed only through the
 * methods below (auth state, rate buckets, strikes, topics, heartbeat, close). Registries
 * index connections; they never write into one. Lives on its socket, so it is released
 * with it.
 */
export class Connection {
  readonly id: string;
  readonly namespace: NamespaceDefinition;
  readonly ip: string;
  readonly openedAt: number;
  /** Heartbeat: next ping, or the pong deadline while a pong is awaited. */
  readonly heartbeatTask: TimerTask<Connection>;
  /** Auth timeout while pending; the `auth.expiring` notice, then token expiry, once authenticated. */
  readonly deadlineTask: TimerTask<Connection>;

  readonly #socket: RealtimeSocket;
  readonly #transport: Socket;
  readonly #limits: ConnectionLimits;
  #state: AuthState;
  #identity: Identity | undefined;
  #leaseId: string | undefined;
  /** Keyed hash of `ip`, made when first read: most connections never log or audit. */
  #ipHash: string | undefined;
  #closed = false;
  #closeCode: CloseCode | undefined;
  #awaitingPong = false;
  #lastPingAt = 0;
  #expiryNoticeSent = false;
  /** Bucket of the rate that applies by state; dropped when the connection authenticates. */
  #stateBucket: TokenBucket | undefined;
  /** Buckets of handler-specific rates (`@MessageRate`) and budgets (`takeBudget`), bounded by the handlers using them. */
  #handlerBuckets: Map<RateLimit, TokenBucket> | undefined;
  #topics: OneOrMany<string>;
  /** Created at the first strike: most connections never get one. */
  #invalidFrames: StrikeCounter | undefined;
  #rateStrikes: StrikeCounter | undefined;
  /** The gateway's event names (one array per gateway) and this connection's handlers, index for index. */
  #events: readonly string[] = NO_EVENTS;
  #handlers: readonly BoundHandler[] = NO_HANDLERS;

  constructor(options: ConnectionOptions) {
    this.id = options.id;
    this.namespace = options.namespace;
    this.ip = options.ip;
    this.openedAt = options.openedAt;
    this.#socket = options.socket;
    this.#transport = options.transport;
    this.#limits = options.limits;
    this.#identity = options.identity;
    this.#leaseId = options.identity ? options.leaseId : undefined;
    this.#state = options.identity ? 'authenticated' : options.namespace.authRequired ? 'pending' : 'anonymous';
    this.heartbeatTask = new TimerTask<Connection>(options.timers.heartbeat, this);
    this.deadlineTask = new TimerTask<Connection>(options.timers.deadline, this);
    options.socket.attach(this);
  }

  /** Keyed hash of `ip`: the only form of the address that reaches logs (finding 25). */
  get ipHash(): string {
    return (this.#ipHash ??= this.#limits.hashIp(this.ip));
  }

  get state(): AuthState {
    return this.#state;
  }

  get authenticated(): boolean {
    return this.#state === 'authenticated';
  }

  get identity(): Identity | undefined {
    return this.#identity;
  }

  get userId(): string | undefined {
    return this.#identity?.userId;
  }

  /** Lease of the per-user connection slot while authenticated. */
  get leaseId(): string | undefined {
    return this.#leaseId;
  }

  /** True once the close has been handled; late async work checks it and stops. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The close code the server chose, when it closed the connection. */
  get closeCode(): CloseCode | undefined {
    return this.#closeCode;
  }

  // --- authentication -------------------------------------------------------------------

  /** A pending or anonymous connection proved who it is. The next frame starts a fresh bucket of the authenticated rate. */
  authenticate(identity: Identity, leaseId: string): void {
    if (this.#state === 'authenticated') throw new Error('Connection.authenticate: already authenticated');
    this.#identity = identity;
    this.#leaseId = leaseId;
    this.#state = 'authenticated';
    this.#stateBucket = undefined;
    this.#handlerBuckets = undefined;
    this.#expiryNoticeSent = false;
  }

  /** Same user, fresh token. */
  refresh(identity: Identity): void {
    if (identity.userId !== this.#identity?.userId) throw new Error('Connection.refresh: another user');
    this.#identity = identity;
    this.#expiryNoticeSent = false;
  }

  /** Marks `auth.expiring` sent for the current token; false when it already was. */
  noteExpiryNotice(): boolean {
    if (this.#expiryNoticeSent) return false;
    this.#expiryNoticeSent = true;
    return true;
  }

  // --- message rate and strikes ---------------------------------------------------------

  /**
   * Takes one message token from the bucket of `rate` (`byState`: the rate of the
   * connection's auth state, whose bucket is replaced when that state changes). Returns 0,
   * or the milliseconds until a token is available.
   */
  takeMessageToken(rate: RateLimit, byState: boolean, now: number): number {
    if (!byState) return this.takeBudget(rate, 1, now);
    this.#stateBucket ??= new TokenBucket(rate.perSec, rate.burst, now);
    return this.#stateBucket.take(now);
  }

  /**
   * Takes `cost` units (e.g. bytes) from this connection's bucket of `rate` (a budget
   * other than a message count, such as `room.broadcast` bytes). Returns 0, or the
   * milliseconds until that much is available.
   */
  takeBudget(rate: RateLimit, cost: number, now: number): number {
    this.#handlerBuckets ??= new Map();
    let bucket = this.#handlerBuckets.get(rate);
    if (!bucket) {
      bucket = new TokenBucket(rate.perSec, rate.burst, now);
      this.#handlerBuckets.set(rate, bucket);
    }
    return bucket.take(now, cost);
  }

  /** Records an invalid frame; true when WS_MAX_INVALID_FRAMES fell within the window. */
  strikeInvalidFrame(now: number): boolean {
    this.#invalidFrames ??= new StrikeCounter(this.#limits.maxInvalidFrames, STRIKE_WINDOW_MS);
    return this.#invalidFrames.hit(now);
  }

  /** Records a RATE_LIMITED answer; true when the strike limit fell within the window. */
  strikeRateLimit(now: number): boolean {
    this.#rateStrikes ??= new StrikeCounter(this.#limits.maxRateLimitStrikes, STRIKE_WINDOW_MS);
    return this.#rateStrikes.hit(now);
  }

  // --- topics (indexed by SubscriptionRegistry, which calls these) ----------------------

  addTopic(topic: string, limit: number): TopicChange {
    if (this.#closed) return 'limit';
    if (hasMember(this.#topics, topic)) return 'already';
    if (countMembers(this.#topics) >= limit) return 'limit';
    this.#topics = addMember(this.#topics, topic);
    return 'added';
  }

  removeTopic(topic: string): boolean {
    if (!hasMember(this.#topics, topic)) return false;
    this.#topics = removeMember(this.#topics, topic);
    return true;
  }

  /** Empties the topic list; returns what it held. */
  removeAllTopics(): readonly string[] {
    if (this.#topics === undefined) return NO_EVENTS;
    const all = [...membersOf(this.#topics)];
    this.#topics = undefined;
    return all;
  }

  hasTopic(topic: string): boolean {
    return hasMember(this.#topics, topic);
  }

  get topicCount(): number {
    return countMembers(this.#topics);
  }

  /** A snapshot: safe to iterate while topics change. */
  topics(): readonly string[] {
    return [...membersOf(this.#topics)];
  }

  // --- routing --------------------------------------------------------------------------

  /** Set once by the adapter, when Nest has bound the gateway's handlers for this connection. */
  bindHandlers(events: readonly string[], handlers: readonly BoundHandler[]): void {
    if (this.#handlers !== NO_HANDLERS) throw new Error('Connection.bindHandlers: already bound');
    this.#events = events;
    this.#handlers = handlers;
  }

  /** A handful of events per gateway: a scan costs no more than a Map and allocates nothing. */
  handlerFor(event: string): BoundHandler | undefined {
    return this.#handlers[this.#events.indexOf(event)];
  }

  // --- heartbeat ------------------------------------------------------------------------

  /** Sends a protocol ping; false when the previous one is still unanswered. */
  ping(now: number): boolean {
    if (this.#awaitingPong) return false;
    this.#awaitingPong = true;
    this.#lastPingAt = now;
    this.#socket.ping();
    return true;
  }

  /** The pong arrived; returns when the ping it answers was sent, or undefined when none was awaited. */
  pong(): number | undefined {
    if (!this.#awaitingPong) return undefined;
    this.#awaitingPong = false;
    return this.#lastPingAt;
  }

  // --- sending and closing --------------------------------------------------------------

  /** Sends one JSON frame (a reply, an envelope). Returns false when nothing was sent. */
  send(json: string): boolean {
    return this.sendWire(encodeTextFrame(json));
  }

  /** Writes a frame prepared once for many recipients: no per-recipient encoding or copy. */
  sendPrepared(frame: PreparedFrame): boolean {
    return this.sendWire(frame.wire);
  }

  /** Closes with a code from the close-code table and its fixed reason (once). */
  close(code: CloseCode): void {
    const socket = this.#socket;
    if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING) return;
    this.#closeCode ??= code;
    socket.close(code, CLOSE_REASONS[code]);
    // What is held (WS_WRITE_DELAY_MS) and the close frame leave now, not at the next flush.
    this.#limits.batcher.release(this.#transport);
  }

  /** Drops the connection without a close handshake (missed pong, drain deadline). */
  terminate(): void {
    this.#socket.terminate();
  }

  /**
   * Marks the connection closed (the lifecycle's cleanup, once per connection). Returns the
   * close code to record (the server's own, else the peer's), or undefined when it had
   * already been closed.
   */
  markClosed(peerCode: number): number | undefined {
    if (this.#closed) return undefined;
    this.#closed = true;
    this.#stateBucket = undefined;
    this.#handlerBuckets = undefined;
    return this.#closeCode ?? peerCode;
  }

  /**
   * The one send path and its backpressure rule (§6): over `maxBufferedBytes` queued the
   * connection is closed with 4008 instead of buffering without bound. With
   * permessage-deflate off, ws queues nothing of its own, so the TCP socket's queue is all
   * there is. The socket stays corked until the end of this event-loop turn, or up to
   * WS_WRITE_DELAY_MS (WriteBatcher); what is held counts towards the limit, so a held socket
   * near it is written out first and only a client that does not read is closed.
   */
  private sendWire(wire: Buffer): boolean {
    if (this.#socket.readyState !== WebSocket.OPEN) return false;
    const raw = this.#transport;
    if (raw.destroyed) return false;
    const limit = this.#limits.maxBufferedBytes - wire.length;
    if (raw.writableLength > limit) {
      // Held frames first: only what the kernel would not take counts against the client.
      if (raw.writableCorked > 0) this.#limits.batcher.release(raw);
      if (raw.writableLength > limit) {
        this.close(CloseCode.SLOW_CONSUMER);
        return false;
      }
    }
    this.#limits.batcher.hold(raw);
    raw.write(wire);
    return true;
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

/** The socket class the server creates (ws's `WebSocket` option); it carries its connection. */
export class RealtimeSocket extends WebSocket {
  #connection: Connection | undefined;

  get connection(): Connection {
    return this.#connection!;
  }

  /** Called once, by the Connection's constructor. */
  attach(connection: Connection): void {
    if (this.#connection) throw new Error('RealtimeSocket.attach: already attached');
    this.#connection = connection;
  }
}
