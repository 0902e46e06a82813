import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { INestApplicationContext } from '@nestjs/common';
import { AbstractWsAdapter, type MessageMappingProperties } from '@nestjs/websockets';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { type BoundHandler, RealtimeSocket } from '../connection/connection.js';
import { ConnectionLifecycle } from '../connection/connection-lifecycle.js';
import { WsExceptionFilter } from '../filters/ws-exception.filter.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { RealtimeMetrics } from '../observability/realtime-metrics.js';
import { GatewayServers } from '../observability/gateway-servers.js';
import { HTTP_REJECTIONS, type HttpRejectionStatus } from '../protocol/error-codes.js';
import { registerNamespace } from '../protocol/namespaces.js';
import type { RealtimeGatewayOptions } from '../protocol/namespace-descriptor.js';
import { FrameDispatcher } from './frame-dispatcher.js';
import { HandshakeService } from './handshake.service.js';

const STATUS_TEXT: Readonly<Record<HttpRejectionStatus, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** Writes a fixed JSON rejection on a raw upgrade socket and closes it. */
function rejectUpgrade(socket: Duplex, status: HttpRejectionStatus, retryAfterSec?: number): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(HTTP_REJECTIONS[status]);
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(retryAfterSec !== undefined ? [`Retry-After: ${retryAfterSec}`] : []),
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

/**
 * ws answers malformed upgrades (bad key, version) itself without calling back, so the
 * slot taken for the handshake is given back if the socket closes first. Returns the
 * function to call once the upgrade completed. Built outside `upgrade` on purpose: a
 * listener created there would share its closure scope with the upgrade callback and keep
 * the whole request (headers, token) alive for the life of the connection.
 */
function releaseUnlessOpened(socket: Duplex, release: () => void): () => void {
  socket.once('close', release);
  return () => socket.off('close', release);
}

interface SocketListeners {
  readonly message: (this: WebSocket, raw: RawData, isBinary: boolean) => void;
  readonly error: (this: WebSocket, err: Error) => void;
}

/** The frame and error listeners every connection shares (only `RealtimeSocket`s get them). */
function socketListeners(dispatcher: FrameDispatcher, filter: WsExceptionFilter, logger: RealtimeLogger): SocketListeners {
  return {
    message(this: WebSocket, raw: RawData, isBinary: boolean): void {
      const client = (this as RealtimeSocket).connection;
      // A throw here would escape ws's listener and kill the process: answer it instead.
      try {
        dispatcher.dispatch(client, raw, isBinary);
      } catch (err) {
        filter.report(client, err);
      }
    },
    error(this: WebSocket, err: Error): void {
      logger.debug('socket error', { connectionId: (this as RealtimeSocket).connection.id, ...describeError(err) });
    },
  };
}

/**
 * A `ws` adapter on Nest's `AbstractWsAdapter` (it implements `create` and
 * `bindMessageHandlers`; connect, disconnect and server close are Nest's own), with the
 * handshake of docs/protocol.md §2 on the HTTP upgrade path and a frame pipeline that
 * answers every frame. One `ws` server per gateway path, all on the application's HTTP
 * server; unknown paths get 404 instead of a hanging socket.
 */
export class RealtimeWsAdapter extends AbstractWsAdapter {
  private readonly servers = new Map<string, WebSocketServer>();
  /** Event-name tables, one per distinct gateway handler list (bounded by the gateways). */
  private readonly eventTables = new Map<string, readonly string[]>();
  private attachedTo: Server | undefined;
  private services:
    | {
        handshake: HandshakeService;
        lifecycle: ConnectionLifecycle;
        dispatcher: FrameDispatcher;
        filter: WsExceptionFilter;
        logger: RealtimeLogger;
        config: RealtimeConfig;
        listeners: SocketListeners;
      }
    | undefined;

  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  create(_port: number, options: Partial<RealtimeGatewayOptions> = {}): WebSocketServer {
    const services = this.resolveServices();
    const { path, descriptor } = options;
    if (typeof path !== 'string' || path.length === 0 || descriptor?.path !== path) {
      throw new Error('RealtimeWsAdapter: every gateway needs a namespace descriptor (use @RealtimeNamespace)');
    }
    if (this.servers.has(path)) throw new Error(`RealtimeWsAdapter: two gateways share ${path}`);
    registerNamespace(descriptor);
    const server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: services.config.maxPayloadBytes,
      perMessageDeflate: false,
      // Never echo a client's Sec-WebSocket-Protocol back (§2).
      handleProtocols: () => false,
      WebSocket: RealtimeSocket,
    });
    server.on('error', (err) => services.logger.error('ws server error', describeError(err)));
    const gatewayServers = this.app.get(GatewayServers, { strict: false });
    server.once('close', () => gatewayServers.unregister(path));
    this.servers.set(path, server);
    this.attach();
    gatewayServers.register(path);
    return server;
  }

  /**
   * Keeps, per connection, only the callbacks Nest bound for it; the event names are one
   * array per gateway. Nest's `transform` (an rxjs pipeline per frame) is not used: the
   * dispatcher answers the same result kinds itself (value, Promise, Observable). The listeners are shared by every connection (ws calls them with the
   * socket as `this`), so a connection holds no closures of its own.
   */
  bindMessageHandlers(client: RealtimeSocket, handlers: MessageMappingProperties[]): void {
    const listeners = this.resolveServices().listeners;
    const names = handlers.map((h) => h.message as string);
    const key = names.join('\n');
    let events = this.eventTables.get(key);
    if (!events) {
      events = Object.freeze(names);
      this.eventTables.set(key, events);
    }
    client.connection.bindHandlers(events, handlers.map((h) => h.callback as BoundHandler));
    client.on('message', listeners.message);
    client.on('error', listeners.error);
  }

  override async dispose(): Promise<void> {
    this.attachedTo?.off('upgrade', this.onUpgrade);
    this.attachedTo = undefined;
    this.servers.clear();
  }

  private resolveServices(): NonNullable<RealtimeWsAdapter['services']> {
    if (!this.services) {
      const filter = this.app.get(WsExceptionFilter, { strict: false });
      const logger = this.app.get(RealtimeLogger, { strict: false });
      const dispatcher = new FrameDispatcher(filter, this.app.get(RealtimeMetrics, { strict: false }));
      this.services = {
        handshake: this.app.get(HandshakeService, { strict: false }),
        lifecycle: this.app.get(ConnectionLifecycle, { strict: false }),
        logger,
        config: this.app.get<symbol, RealtimeConfig>(REALTIME_CONFIG, { strict: false }),
        dispatcher,
        filter,
        listeners: socketListeners(dispatcher, filter, logger),
      };
    }
    return this.services;
  }

  private attach(): void {
    if (this.attachedTo) return;
    const httpServer = this.httpServer as Server | undefined;
    if (!httpServer) throw new Error('RealtimeWsAdapter needs the application HTTP server');
    httpServer.on('upgrade', this.onUpgrade);
    this.attachedTo = httpServer;
  }

  private readonly serves = (path: string): boolean => this.servers.has(path);

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A reset during the async checks must not crash the process.
    socket.on('error', () => socket.destroy());
    this.upgrade(request, socket, head).catch((err: unknown) => {
      // E.g. the revocation store is unreachable: refuse, do not guess.
      this.services?.logger.error('upgrade failed', describeError(err));
      rejectUpgrade(socket, 503);
    });
  };

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { handshake, lifecycle } = this.resolveServices();
    const decision = await handshake.evaluate(request, this.serves);
    if (!decision.accepted) {
      rejectUpgrade(socket, decision.status, decision.retryAfterSec);
      return;
    }
    const server = this.servers.get(decision.namespace.path);
    if (!server || socket.destroyed) {
      decision.release();
      socket.destroy();
      return;
    }
    const opened = releaseUnlessOpened(socket, decision.release);
    lifecycle.holdWrites(socket as Socket);
    server.handleUpgrade(request, socket, head, (ws) => {
      opened();
      const realtimeSocket = ws as RealtimeSocket;
      // The upgrade's socket is the TCP socket ws writes to: the connection's transport.
      lifecycle.open(realtimeSocket, socket as Socket, decision);
      server.emit('connection', realtimeSocket, request);
    });
  }
}
