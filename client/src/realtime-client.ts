import { RealtimeError } from './errors.js';
import { authRequired } from './namespaces.js';
import type {
  AnswerData,
  ConnectedData,
  NamespacePath,
  PushMap,
  RecoveryAnswer,
  RequestData,
  RequestEvent,
  SendEvent,
  SendMap,
  ServerErrorFrame,
  StreamPosition,
} from './protocol-types.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF, type ReconnectAction, reconnectAction } from './reconnect-policy.js';
import {
  isStreamPosition,
  type SubscribeEventName,
  type SubscriptionKind,
  StreamPositions,
  streamKeyOfPush,
  subscriptionKey,
  subscriptionKind,
} from './subscriptions.js';

/** The part of a WebSocket the client uses: the browser's, Node 22's global one and `ws` all fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: { message?: string }) => void) | null;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers and Node ≥ 22, or `ws`'s default export. */
export type WebSocketImplementation = new (url: string, protocols?: string | string[], options?: any) => unknown;

export interface RealtimeClientOptions<P extends NamespacePath> {
  /** The server's origin, e.g. `wss://rt.example.com` (the path is appended). */
  readonly url: string;
  /** The namespace path, e.g. `/ws/tracking`: it types every event of this client. */
  readonly path: P;
  /**
   * Returns a current token. Used for in-band `auth` when the connection is not authenticated by
   * a cookie or header, for `auth.refresh` on `auth.expiring`, and before reconnecting after
   * 4001/4401. Without it the client never authenticates in-band and does not reconnect after those.
   */
  readonly getToken?: () => string | undefined | null | Promise<string | undefined | null>;
  /** WebSocket implementation; defaults to `globalThis.WebSocket`. In Node 20 pass `ws`. */
  readonly WebSocket?: WebSocketImplementation;
  /** Headers for the upgrade, only with an implementation that takes them (`ws`); browsers cannot. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Default request timeout (ms), default 10000. */
  readonly requestTimeoutMs?: number;
  /** Requests waiting for an answer or a connection, at most; default 256. */
  readonly maxPendingRequests?: number;
  /** How often an idempotent request answered `RATE_LIMITED` is retried; default 5. */
  readonly rateLimitRetries?: number;
  readonly backoff?: Partial<BackoffOptions>;
  /** Source of randomness for the jitter (tests pin it). */
  readonly random?: () => number;
}

export interface RequestOptions {
  /** Overrides the client's `requestTimeoutMs`. The time spent waiting for a connection counts. */
  readonly timeoutMs?: number;
  /**
   * The request may safely be sent twice: it is retried after `retryAfterMs` when answered
   * `RATE_LIMITED`, and sent again after a reconnect when the connection dropped before the answer.
   */
  readonly idempotent?: boolean;
}

export type ClientState = 'idle' | 'connecting' | 'authenticating' | 'ready' | 'waiting' | 'closed';

export interface DisconnectedEvent {
  readonly code: number;
  readonly reason: string;
  /** Whether the socket had opened (false: the upgrade failed or the server was unreachable). */
  readonly opened: boolean;
  readonly action: ReconnectAction;
  readonly willReconnect: boolean;
  /** Delay before the next attempt, when one is scheduled. */
  readonly delayMs?: number;
}

export interface RecoveryEvent {
  /** The subscribe request, e.g. `tracking.subscribe`, and its data. */
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly recovered: false;
  /** The position the client asked to resume from. */
  readonly since: StreamPosition;
}

/** Events of the client itself, beside the server's pushes. */
export interface ClientEvents {
  connecting: { readonly attempt: number; readonly url: string };
  /** The session is ready: `connected` received and, when needed, in-band `auth` done. */
  connected: ConnectedData;
  disconnected: DisconnectedEvent;
  /** Errors not tied to a pending request: refused upgrades, failed refreshes, unmatched error frames. */
  error: RealtimeError;
  /** The client stopped for good: `close()`, or a close code that is not reconnected. */
  closed: { readonly code: number; readonly reason: string };
  'auth.refreshed': { readonly expiresAt: string };
  /** A remembered subscription was restored after a reconnect, with the server's new answer. */
  resubscribed: { readonly event: string; readonly data: Readonly<Record<string, unknown>>; readonly answer: unknown };
  /** A stream could not be recovered after a reconnect: reload its state from the host application. */
  recovery: RecoveryEvent;
}

export type EventMap<P extends NamespacePath> = ClientEvents & PushMap<P>;
export type EventName<P extends NamespacePath> = keyof EventMap<P> & string;

/** A frame as received (for handlers that need `offset`/`epoch` or the raw `event`). */
export interface InboundFrame {
  readonly event: string;
  readonly data?: Record<string, unknown>;
  readonly id?: string | number;
  readonly offset?: number;
  readonly epoch?: string;
  readonly [key: string]: unknown;
}

export type Handler<T> = (data: T, frame?: InboundFrame) => void;

export interface Subscription<A> {
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** The latest subscribe answer (after a reconnect, the resubscribe's). */
  readonly answer: A;
  /** Sends the matching unsubscribe (when the namespace has one) and forgets the subscription. */
  unsubscribe(): Promise<void>;
}

type DataArgs<D> = {} extends D ? [data?: D, options?: RequestOptions] : [data: D, options?: RequestOptions];

interface PendingRequest {
  readonly event: string;
  readonly data: Record<string, unknown>;
  readonly idempotent: boolean;
  /** Sent before the session is ready (auth, resubscribes). */
  readonly internal: boolean;
  /** Settled when written: nothing answers it on success. */
  readonly fire: boolean;
  readonly resolve: (data: unknown) => void;
  readonly reject: (error: RealtimeError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  sent: boolean;
  retries: number;
  retryTimer?: ReturnType<typeof setTimeout>;
}

interface RememberedSubscription {
  readonly event: string;
  readonly kind: SubscriptionKind;
  /** Data without `since`. */
  readonly data: Record<string, unknown>;
  answer: unknown;
}

const OPEN = 1;
const HTTP_STATUS_IN_ERROR = /\b([1-5]\d\d)\b/;

/**
 * A client for one namespace path of the realtime server (docs/protocol.md): matches answers
 * to requests by id, restores subscriptions after every reconnect, reconnects by close-code
 * class, refreshes the token on `auth.expiring`, and keeps stream positions for recovery.
 * No dependency: runs in browsers and in Node ≥ 20 with a WebSocket implementation.
 */
export class RealtimeClient<P extends NamespacePath> {
  readonly url: string;
  private readonly options: RealtimeClientOptions<P>;
  private readonly backoff: BackoffOptions;
  private readonly requestTimeoutMs: number;
  private readonly maxPending: number;
  private readonly random: () => number;

  private stateValue: ClientState = 'idle';
  private socket?: WebSocketLike;
  private opened = false;
  private attempt = 0;
  private seq = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  /** A token fetched before reconnecting (4001/4401), used for the in-band `auth`. */
  private freshToken?: string;
  private sessionInfo?: ConnectedData;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly subscriptions = new Map<string, RememberedSubscription>();
  private readonly positions = new StreamPositions();
  private readonly listeners = new Map<string, Set<Handler<never>>>();
  private readyWaiters: Array<{ resolve: (info: ConnectedData) => void; reject: (error: RealtimeError) => void }> = [];

  constructor(options: RealtimeClientOptions<P>) {
    this.options = options;
    this.url = options.url.replace(/\/+$/, '') + options.path;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.maxPending = options.maxPendingRequests ?? 256;
    this.random = options.random ?? Math.random;
  }

  get state(): ClientState {
    return this.stateValue;
  }

  /** The current session (`connected` frame, updated by in-band auth), while ready. */
  get session(): ConnectedData | undefined {
    return this.sessionInfo;
  }

  /** Pending requests (waiting for a connection or an answer). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Remembered subscriptions, restored after every reconnect. */
  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  /** Last known position of a recoverable stream, by subscription (e.g. `tracking.subscribe`, `{trackingId}`). */
  position(event: SubscribeEventName, data: Readonly<Record<string, unknown>> = {}): StreamPosition | undefined {
    const kind = subscriptionKind(event);
    return kind === undefined ? undefined : this.positions.get(subscriptionKey(event, kind, data));
  }

  /**
   * Starts connecting (once; later calls only wait) and resolves when the session is ready.
   * Rejects only when the client stops for good before that (`close()` or a terminal close).
   */
  connect(): Promise<ConnectedData> {
    if (this.stateValue === 'closed') return Promise.reject(new RealtimeError('CLOSED', 'Client is closed'));
    if (this.stateValue === 'ready' && this.sessionInfo) return Promise.resolve(this.sessionInfo);
    const ready = new Promise<ConnectedData>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    if (this.stateValue === 'idle') this.open();
    return ready;
  }

  /** Stops for good: closes the socket, clears every timer, rejects what is pending. */
  close(): void {
    if (this.stateValue === 'closed') return;
    this.stop(1000, 'client closed', new RealtimeError('CLOSED', 'Client closed', { closeCode: 1000 }));
    this.emit('closed', { code: 1000, reason: 'client closed' });
  }

  on<E extends EventName<P>>(event: E, handler: Handler<EventMap<P>[E]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(handler as Handler<never>);
    return () => {
      set!.delete(handler as Handler<never>);
      if (set!.size === 0 && this.listeners.get(event) === set) this.listeners.delete(event);
    };
  }

  /**
   * Sends a request and resolves with its answer's `data`, or rejects with a `RealtimeError`
   * (the server's error envelope, or `TIMEOUT`, `DISCONNECTED`, `CLOSED`, `TOO_MANY_PENDING`).
   * Waits for the connection when it is not ready (the wait counts towards the timeout).
   */
  request<E extends RequestEvent<P>>(event: E, ...args: DataArgs<RequestData<P, E>>): Promise<AnswerData<P, E>> {
    const [data, options] = args;
    return this.enqueue(event, (data ?? {}) as Record<string, unknown>, options ?? {}, false, false) as Promise<AnswerData<P, E>>;
  }

  /**
   * Sends an event that has no answer on success (`room.broadcast`, `activity.report`).
   * Resolves once written; an error the server answers later comes as an `error` event.
   */
  send<E extends SendEvent<P>>(event: E, data: SendMap<P>[E], options: RequestOptions = {}): Promise<void> {
    return this.enqueue(event, data as Record<string, unknown>, options, false, true) as Promise<void>;
  }

  /**
   * Subscribes (or joins) and remembers it: it is sent again after every reconnect, with
   * `since` for recoverable streams. Resolves with a handle once the server has answered.
   */
  async subscribe<E extends SubscribeEventName & RequestEvent<P>>(
    event: E,
    ...args: DataArgs<RequestData<P, E>>
  ): Promise<Subscription<AnswerData<P, E>>> {
    const [raw, options] = args;
    const kind = subscriptionKind(event)!;
    const data = { ...((raw ?? {}) as Record<string, unknown>) };
    delete data.since;
    const key = subscriptionKey(event, kind, data);
    const record: RememberedSubscription = this.subscriptions.get(key) ?? { event, kind, data, answer: undefined };
    this.subscriptions.set(key, record);
    try {
      record.answer = await this.enqueue(event, data, { idempotent: true, ...options }, false, false);
    } catch (err) {
      if (this.subscriptions.get(key) === record) this.forget(key);
      throw err;
    }
    this.trackAnswerPosition(key, record.answer);
    const unsubscribe = async (): Promise<void> => {
      if (this.subscriptions.get(key) !== record) return;
      this.forget(key);
      // Not ready: the server lost it with the connection, and it will not be restored.
      if (kind.unsubscribe !== undefined && this.stateValue === 'ready') {
        const undo = kind.key === undefined ? {} : { [kind.key]: data[kind.key] };
        await this.enqueue(kind.unsubscribe, undo, { idempotent: true }, false, false);
      }
    };
    return {
      event,
      data,
      get answer() {
        return record.answer as AnswerData<P, E>;
      },
      unsubscribe,
    };
  }

  /**
   * Escape hatch: writes `text` as is when the socket is open (true) — for testing the server's
   * answers to malformed frames (`INVALID_JSON`, `INVALID_MESSAGE`). Errors come as `error` events.
   */
  sendRaw(text: string): boolean {
    if (!this.socket || this.socket.readyState !== OPEN) return false;
    this.socket.send(text);
    return true;
  }

  // ---- connection ----

  private open(): void {
    const Impl = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketImplementation }).WebSocket;
    if (!Impl) {
      const error = new RealtimeError('CONNECT_FAILED', 'No WebSocket implementation: pass one (e.g. `ws`) as options.WebSocket');
      this.stop(1006, error.message, error);
      this.emit('error', error);
      return;
    }
    this.stateValue = 'connecting';
    this.opened = false;
    this.emit('connecting', { attempt: this.attempt, url: this.url });
    let socket: WebSocketLike;
    try {
      socket = (this.options.headers ? new Impl(this.url, undefined, { headers: this.options.headers }) : new Impl(this.url)) as WebSocketLike;
    } catch (err) {
      this.onSocketClosed(1006, err instanceof Error ? err.message : String(err), undefined);
      return;
    }
    this.socket = socket;
    let failure: string | undefined;
    socket.onopen = () => {
      if (this.socket === socket) this.opened = true;
    };
    socket.onmessage = (event) => {
      if (this.socket === socket) this.onFrame(typeof event.data === 'string' ? event.data : String(event.data));
    };
    socket.onerror = (event) => {
      failure = event?.message;
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.onSocketClosed(event.code, event.reason ?? '', failure);
    };
  }

  private onSocketClosed(code: number, reason: string, failure: string | undefined): void {
    const opened = this.opened;
    this.socket = undefined;
    this.sessionInfo = undefined;
    if (this.stateValue === 'closed') return;
    for (const [id, request] of this.pending) {
      if (!request.sent) continue;
      if (request.idempotent && !request.fire) {
        request.sent = false;
        continue;
      }
      this.settle(id);
      request.reject(new RealtimeError('DISCONNECTED', 'Connection lost before the answer', { request: request.event, closeCode: code }));
    }
    const status = opened ? undefined : httpStatusOf(failure);
    let action = reconnectAction(code, status);
    if (action === 'reauth' && !this.options.getToken) action = 'stop';
    if (!opened) {
      this.emit('error', new RealtimeError('CONNECT_FAILED', failure ?? 'Connection failed', { closeCode: code, ...(status !== undefined ? { httpStatus: status } : {}) }));
    }
    if (action === 'stop') {
      this.emit('disconnected', { code, reason, opened, action, willReconnect: false });
      const error = new RealtimeError('CLOSED', `Closed by the server without automatic reconnect (${code}${reason ? ` ${reason}` : ''})`, {
        closeCode: code,
        ...(status !== undefined ? { httpStatus: status } : {}),
      });
      this.stop(code, reason, error);
      this.emit('error', error);
      this.emit('closed', { code, reason });
      return;
    }
    let delayMs = backoffDelay(this.attempt, this.backoff, this.random);
    if (action === 'pause') delayMs += this.backoff.rateLimitPauseMs;
    this.attempt += 1;
    this.stateValue = 'waiting';
    this.emit('disconnected', { code, reason, opened, action, willReconnect: true, delayMs });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (action === 'reauth') void this.reauthThenOpen();
      else this.open();
    }, delayMs);
  }

  /** 4001/4401: a fresh token first (docs/protocol.md §3), then the upgrade. */
  private async reauthThenOpen(): Promise<void> {
    const token = await this.fetchToken();
    if (this.stateValue === 'closed') return;
    if (token === undefined) {
      const error = new RealtimeError('TOKEN_UNAVAILABLE', 'getToken() gave no token after an authentication close');
      this.stop(4401, error.message, error);
      this.emit('error', error);
      this.emit('closed', { code: 4401, reason: error.message });
      return;
    }
    this.freshToken = token;
    this.open();
  }

  private async fetchToken(): Promise<string | undefined> {
    try {
      const token = await this.options.getToken?.();
      return typeof token === 'string' && token.length > 0 ? token : undefined;
    } catch {
      return undefined;
    }
  }

  /** The terminal state: every timer cleared, everything pending rejected. */
  private stop(code: number, reason: string, error: RealtimeError): void {
    this.stateValue = 'closed';
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    this.sessionInfo = undefined;
    if (socket && socket.readyState <= OPEN) {
      try {
        socket.close(code === 1000 ? 1000 : undefined, code === 1000 ? reason : undefined);
      } catch {
        // Closing a socket that is still connecting may throw in some implementations.
      }
    }
    for (const id of [...this.pending.keys()]) {
      const request = this.settle(id)!;
      request.reject(new RealtimeError(error.code, error.message, { request: request.event, closeCode: code }));
    }
    this.subscriptions.clear();
    this.positions.clear();
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  // ---- frames ----

  private onFrame(text: string): void {
    let frame: InboundFrame;
    try {
      frame = JSON.parse(text) as InboundFrame;
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.event !== 'string') return;
    if (frame.event === 'error') {
      this.onErrorFrame(frame as unknown as ServerErrorFrame);
      return;
    }
    const id = frame.id === undefined ? undefined : String(frame.id);
    const request = id === undefined ? undefined : this.pending.get(id);
    if (request && !request.fire) {
      this.settle(id!);
      request.resolve(frame.data ?? {});
      return;
    }
    const data = frame.data ?? {};
    switch (frame.event) {
      case 'connected':
        void this.onConnected(data as unknown as ConnectedData);
        return;
      case 'auth.expiring':
        void this.refreshToken();
        break;
    }
    if (!this.acceptPush(frame, data)) return;
    this.emit(frame.event, data, frame);
  }

  private onErrorFrame(frame: ServerErrorFrame): void {
    const error = RealtimeError.fromEnvelope(frame);
    const id = frame.id === undefined ? undefined : String(frame.id);
    const request = id === undefined ? undefined : this.pending.get(id);
    if (!request || request.fire) {
      this.emit('error', error);
      return;
    }
    if (error.code === 'RATE_LIMITED' && request.idempotent && request.retries < (this.options.rateLimitRetries ?? 5)) {
      request.retries += 1;
      request.sent = false;
      // Never before retryAfterMs; spread over up to twice that, so a burst does not come back as one.
      const waitMs = Math.ceil((error.retryAfterMs ?? 1000) * (1 + this.random()));
      request.retryTimer = setTimeout(() => {
        request.retryTimer = undefined;
        if (this.pending.get(id!) === request) this.flush(request.internal);
      }, waitMs);
      return;
    }
    this.settle(id!);
    request.reject(error);
  }

  /** Positions of recoverable streams; drops repeats and subscriptions the server revoked. */
  private acceptPush(frame: InboundFrame, data: Record<string, unknown>): boolean {
    const streamKey = streamKeyOfPush(frame.event, data);
    if (streamKey !== undefined && this.subscriptions.has(streamKey) && isStreamPosition(frame)) {
      return this.positions.advance(streamKey, frame);
    }
    if (data.reason === 'revoked') {
      for (const [key, record] of this.subscriptions) {
        if (record.kind.dropped !== frame.event) continue;
        if (record.kind.key === undefined || String(record.data[record.kind.key]) === String(data[record.kind.key])) this.forget(key);
      }
    }
    return true;
  }

  private async onConnected(info: ConnectedData): Promise<void> {
    const socket = this.socket;
    this.stateValue = 'authenticating';
    let session = info;
    if (!info.authenticated && this.options.getToken) {
      const token = this.freshToken ?? (await this.fetchToken());
      this.freshToken = undefined;
      if (this.socket !== socket) return;
      if (token !== undefined) {
        try {
          const ok = (await this.enqueue('auth', { token }, {}, true, false)) as { userId: string; expiresAt: string };
          session = { ...info, authenticated: true, userId: ok.userId, expiresAt: ok.expiresAt };
        } catch (err) {
          if (err instanceof RealtimeError) this.emit('error', err);
          // Auth-required path: the server closes with 4401 next. Optional path: stays anonymous.
          if (this.socket !== socket || authRequired(info.namespace)) return;
        }
        if (this.socket !== socket) return;
      }
    }
    this.freshToken = undefined;
    this.sessionInfo = session;
    this.stateValue = 'ready';
    this.attempt = 0;
    this.resubscribe();
    this.flush(false);
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter.resolve(session);
    this.emit('connected', session);
  }

  /** Sends every remembered subscription again; recoverable streams ask for what they missed. */
  private resubscribe(): void {
    for (const [key, record] of this.subscriptions) {
      // A subscribe still waiting for its first answer is re-sent by the pending queue itself.
      if (record.answer === undefined) continue;
      const since = this.positions.get(key);
      const data = since ? { ...record.data, since } : record.data;
      this.enqueue(record.event, data, { idempotent: true }, true, false).then(
        (answer) => {
          if (this.subscriptions.get(key) !== record) return;
          record.answer = answer;
          this.recover(key, record, since, answer as RecoveryAnswer);
          this.emit('resubscribed', { event: record.event, data: record.data, answer });
        },
        (err: unknown) => {
          if (!(err instanceof RealtimeError) || this.stateValue === 'closed') return;
          if (err.code !== 'DISCONNECTED' && err.code !== 'TIMEOUT' && this.subscriptions.get(key) === record) this.forget(key);
          this.emit('error', err);
        },
      );
    }
  }

  /** docs/protocol.md §10: replay `publications`, or tell the application to reload. */
  private recover(key: string, record: RememberedSubscription, since: StreamPosition | undefined, answer: RecoveryAnswer): void {
    if (since !== undefined && answer.recovered === false) {
      this.positions.delete(key);
      this.trackAnswerPosition(key, answer);
      this.emit('recovery', { event: record.event, data: record.data, recovered: false, since });
      return;
    }
    if (since !== undefined && answer.recovered === true && record.kind.stream !== undefined) {
      for (const publication of answer.publications ?? []) {
        const position = { offset: publication.offset, epoch: since.epoch };
        const frame: InboundFrame = { event: record.kind.stream, data: { ...publication.data }, ...position };
        if (this.positions.advance(key, position)) this.emit(record.kind.stream, frame.data!, frame);
      }
    }
    this.trackAnswerPosition(key, answer);
  }

  /** The subscribe answer's `offset`/`epoch` (docs/protocol.md §10), when it carries them. */
  private trackAnswerPosition(key: string, answer: unknown): void {
    if (!this.subscriptions.get(key)?.kind.stream || typeof answer !== 'object' || answer === null) return;
    const position = answer as { offset?: unknown; epoch?: unknown };
    if (!isStreamPosition(position)) return;
    const known = this.positions.get(key);
    if (known === undefined || known.epoch !== position.epoch || known.offset < position.offset) this.positions.set(key, position);
  }

  private forget(key: string): void {
    this.subscriptions.delete(key);
    this.positions.delete(key);
  }

  /** `auth.expiring` → `getToken()` → `auth.refresh` (docs/protocol.md §4). */
  private async refreshToken(): Promise<void> {
    if (!this.options.getToken) return;
    const socket = this.socket;
    const token = await this.fetchToken();
    if (this.socket !== socket || this.stateValue === 'closed') return;
    if (token === undefined) {
      this.emit('error', new RealtimeError('TOKEN_UNAVAILABLE', 'getToken() gave no token for auth.refresh'));
      return;
    }
    try {
      const answer = (await this.enqueue('auth.refresh', { token }, {}, true, false)) as { expiresAt: string };
      if (this.sessionInfo) this.sessionInfo = { ...this.sessionInfo, expiresAt: answer.expiresAt };
      this.emit('auth.refreshed', answer);
    } catch (err) {
      if (err instanceof RealtimeError && err.code !== 'CLOSED') this.emit('error', err);
    }
  }

  // ---- requests ----

  private enqueue(event: string, data: Record<string, unknown>, options: RequestOptions, internal: boolean, fire: boolean): Promise<unknown> {
    if (this.stateValue === 'closed') return Promise.reject(new RealtimeError('CLOSED', 'Client is closed', { request: event }));
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(new RealtimeError('TOO_MANY_PENDING', `${this.maxPending} requests are already pending`, { request: event }));
    }
    const id = String((this.seq = (this.seq % Number.MAX_SAFE_INTEGER) + 1));
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
      const timer = setTimeout(() => {
        if (this.pending.get(id) !== request) return;
        this.settle(id);
        reject(new RealtimeError('TIMEOUT', `No answer to ${event} within ${timeoutMs} ms`, { request: event, id }));
      }, timeoutMs);
      const request: PendingRequest = { event, data, idempotent: options.idempotent === true, internal, fire, resolve, reject, timer, sent: false, retries: 0 };
      this.pending.set(id, request);
      if (this.stateValue === 'idle') this.open();
      this.flush(internal);
    });
  }

  /** Writes unsent requests: all when ready, only internal ones while authenticating. */
  private flush(internalOnly: boolean): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return;
    const ready = this.stateValue === 'ready';
    if (!ready && this.stateValue !== 'authenticating') return;
    for (const [id, request] of this.pending) {
      if (request.sent || request.retryTimer !== undefined) continue;
      if (!request.internal && (!ready || internalOnly)) continue;
      request.sent = true;
      socket.send(JSON.stringify({ event: request.event, data: request.data, id }));
      if (request.fire) {
        this.settle(id);
        request.resolve(undefined);
      }
    }
  }

  private settle(id: string): PendingRequest | undefined {
    const request = this.pending.get(id);
    if (!request) return undefined;
    this.pending.delete(id);
    clearTimeout(request.timer);
    if (request.retryTimer !== undefined) clearTimeout(request.retryTimer);
    return request;
  }

  private emit(event: string, data: unknown, frame?: InboundFrame): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as Handler<unknown>)(data, frame);
      } catch {
        // A failing handler must not break the client or the other handlers.
      }
    }
  }
}

function httpStatusOf(message: string | undefined): number | undefined {
  if (message === undefined || !/response/i.test(message)) return undefined;
  const match = HTTP_STATUS_IN_ERROR.exec(message);
  return match ? Number(match[1]) : undefined;
}
