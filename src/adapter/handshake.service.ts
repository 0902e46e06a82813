import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { extractCredentials } from '../auth/credentials.js';
import { AuthFailure, type Identity } from '../auth/identity.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import { clientIp } from '../common/client-ip.js';
import { ConnectionLimiter } from '../connection/connection-limiter.js';
import { DrainState } from '../connection/drain-state.js';
import { HandshakeRateLimiter } from '../connection/handshake-rate-limiter.js';
import { RealtimeLogger } from '../logging/realtime-logger.js';
import type { HttpRejectionStatus } from '../protocol/error-codes.js';
import { namespaceByPath, type NamespaceDefinition } from '../protocol/namespaces.js';

export interface HandshakeRejection {
  readonly accepted: false;
  readonly status: HttpRejectionStatus;
  readonly retryAfterSec?: number;
}

export interface HandshakeAcceptance {
  readonly accepted: true;
  readonly namespace: NamespaceDefinition;
  readonly ip: string;
  readonly identity?: Identity;
  /** The per-user slot's lease, when authenticated at the handshake. */
  readonly leaseId?: string;
  /** Gives back the connection slot taken for this handshake if the upgrade never completes. */
  readonly release: () => void;
}

export type HandshakeDecision = HandshakeRejection | HandshakeAcceptance;

const reject = (status: HttpRejectionStatus, retryAfterSec?: number): HandshakeRejection => ({
  accepted: false,
  status,
  retryAfterSec,
});

/**
 * The checks of PROTOCOL.md §2, in contract order, made on the HTTP upgrade before any
 * WebSocket exists: drain 503, path 404, Origin 403, rate 429, credentials 401, caps 429.
 */
@Injectable()
export class HandshakeService {
  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(DrainState) private readonly drain: DrainState,
    @Inject(HandshakeRateLimiter) private readonly rate: HandshakeRateLimiter,
    @Inject(TokenVerifier) private readonly verifier: TokenVerifier,
    @Inject(ConnectionLimiter) private readonly limiter: ConnectionLimiter,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
  ) {}

  async evaluate(request: IncomingMessage, serves: (path: string) => boolean): Promise<HandshakeDecision> {
    if (this.drain.isDraining) return reject(503);

    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      return reject(404);
    }
    const namespace = namespaceByPath(url.pathname);
    if (!namespace || !serves(namespace.path)) return reject(404);

    const ip = clientIp(request, this.config.trustProxy);
    if (!this.originAllowed(request)) {
      this.logger.warn('handshake rejected: origin not allowed', { namespace: namespace.name, ip: this.logger.hashIp(ip) });
      return reject(403);
    }

    const waitMs = this.rate.take(ip);
    if (waitMs > 0) {
      this.logger.warn('handshake rejected: rate limit', { namespace: namespace.name, ip: this.logger.hashIp(ip) });
      return reject(429, Math.ceil(waitMs / 1000));
    }

    const credentials = extractCredentials(request, url, this.config.authCookieName, this.config.allowQueryToken);
    if (credentials.queryTokenPresent) {
      // Never log the token itself (findings 2, 25).
      if (credentials.source === 'query') {
        this.logger.warn('token accepted from query string (ALLOW_QUERY_TOKEN=true); move it to a header or cookie', { namespace: namespace.name });
      } else {
        this.logger.warn('deprecated token query parameter ignored', { namespace: namespace.name, ip: this.logger.hashIp(ip) });
      }
    }

    let identity: Identity | undefined;
    if (credentials.token !== undefined) {
      try {
        identity = await this.verifier.verify(credentials.token);
      } catch (err) {
        this.logger.info('handshake rejected: auth failed', {
          namespace: namespace.name,
          reason: err instanceof AuthFailure ? err.reason : 'malformed',
          source: credentials.source,
          ip: this.logger.hashIp(ip),
        });
        return reject(401);
      }
    }

    if (identity) {
      const userId = identity.userId;
      const leaseId = await this.limiter.acquireUser(userId);
      if (leaseId === undefined) return this.capReached(namespace, ip);
      return { accepted: true, namespace, ip, identity, leaseId, release: () => this.limiter.releaseUser(userId, leaseId) };
    }
    if (!this.limiter.tryAcquireAnonymous(ip)) return this.capReached(namespace, ip);
    return { accepted: true, namespace, ip, release: () => this.limiter.releaseAnonymous(ip) };
  }

  private capReached(namespace: NamespaceDefinition, ip: string): HandshakeRejection {
    this.logger.warn('handshake rejected: connection cap', { namespace: namespace.name, ip: this.logger.hashIp(ip) });
    return reject(429, 1);
  }

  /** No Origin (non-browser) passes; otherwise same origin as Host, or listed exactly. */
  private originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (this.config.allowedOrigins.has(origin)) return true;
    const host = request.headers.host;
    if (!host) return false;
    try {
      const parsed = new URL(origin);
      return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.host.toLowerCase() === host.toLowerCase();
    } catch {
      return false;
    }
  }
}
