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
import { RealtimeMetrics, UNKNOWN_NAMESPACE } from '../observability/realtime-metrics.js';
import { type AuditEventKind, SecurityAuditLog } from '../observability/security-audit-log.js';
import { SecurityEvents } from '../observability/security-events.js';
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

/**
 * The checks of docs/protocol.md §2, in contract order, made on the HTTP upgrade before any
 * WebSocket exists: drain 503, path 404, Origin 403, rate 429, credentials 401, caps 429.
 * Each refusal is counted, and the security-relevant ones go to the audit log.
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
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(SecurityAuditLog) private readonly audit: SecurityAuditLog,
    @Inject(SecurityEvents) private readonly security: SecurityEvents,
  ) {}

  async evaluate(request: IncomingMessage, serves: (path: string) => boolean): Promise<HandshakeDecision> {
    if (this.drain.isDraining) return this.reject(503, undefined);

    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      return this.reject(404, undefined);
    }
    const namespace = namespaceByPath(url.pathname);
    if (!namespace || !serves(namespace.path)) return this.reject(404, undefined);

    const ip = clientIp(request, this.config.trustProxy, this.config.ipv6PrefixBits);
    if (!this.originAllowed(request)) {
      return this.reject(403, namespace, { kind: 'origin_rejected', ip });
    }

    const waitMs = this.rate.take(ip);
    if (waitMs > 0) {
      return this.reject(429, namespace, { kind: 'handshake_rate_limited', ip }, Math.ceil(waitMs / 1000));
    }

    const credentials = extractCredentials(request, url, this.config.authCookieName, this.config.allowQueryToken);
    if (credentials.queryTokenPresent) {
      // Never log the token itself (findings 2, 25); through the audit budgets like every audit line.
      const accepted = credentials.source === 'query';
      this.audit.record(accepted ? 'query_token_accepted' : 'deprecated_query_token', this.logger.hashIp(ip), {
        namespace: namespace.name,
        hint: accepted ? 'token accepted from the query string (ALLOW_QUERY_TOKEN=true); move it to a header or cookie' : 'token query parameter ignored',
      });
    }

    let identity: Identity | undefined;
    if (credentials.token !== undefined) {
      try {
        if (credentials.duplicateCookie) throw new AuthFailure('duplicate_cookie');
        identity = await this.verifier.verify(credentials.token);
      } catch (err) {
        // Anything but a verdict on the token (e.g. the revocation store is down) is not
        // the client's failure: it propagates and the upgrade is refused with 503.
        if (!(err instanceof AuthFailure)) throw err;
        this.security.authFailure(err.reason, { namespace: namespace.name, ipHash: this.logger.hashIp(ip), fields: { status: 401, source: credentials.source } });
        return this.reject(401, namespace);
      }
    }

    if (identity) {
      const userId = identity.userId;
      const leaseId = await this.limiter.acquireUser(userId);
      if (leaseId === undefined) return this.reject(429, namespace, { kind: 'connection_cap', ip }, 1);
      return { accepted: true, namespace, ip, identity, leaseId, release: () => this.limiter.releaseUser(userId, leaseId) };
    }
    if (!this.limiter.tryAcquireAnonymous(ip)) return this.reject(429, namespace, { kind: 'connection_cap', ip }, 1);
    return { accepted: true, namespace, ip, release: () => this.limiter.releaseAnonymous(ip) };
  }

  private reject(
    status: HttpRejectionStatus,
    namespace: NamespaceDefinition | undefined,
    audit?: { kind: AuditEventKind; ip: string },
    retryAfterSec?: number,
  ): HandshakeRejection {
    const ns = namespace?.name ?? UNKNOWN_NAMESPACE;
    this.metrics.handshakeRejections.inc({ namespace: ns, status: String(status) });
    if (audit) {
      this.audit.record(audit.kind, this.logger.hashIp(audit.ip), { namespace: ns, status });
    }
    return { accepted: false, status, retryAfterSec };
  }

  /**
   * No Origin (non-browser) passes; otherwise listed exactly, or the same origin as this
   * request: Host and scheme (finding R11: `http://host` is not `https://host`). The scheme
   * is TLS on the socket, or, behind trusted proxies, their X-Forwarded-Proto.
   */
  private originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (this.config.allowedOrigins.has(origin)) return true;
    const host = request.headers.host;
    if (!host) return false;
    try {
      const parsed = new URL(origin);
      return parsed.protocol === this.requestScheme(request) && parsed.host.toLowerCase() === host.toLowerCase();
    } catch {
      return false;
    }
  }

  private requestScheme(request: IncomingMessage): 'http:' | 'https:' {
    const tls = (request.socket as { encrypted?: boolean }).encrypted === true;
    const header = request.headers['x-forwarded-proto'];
    if (this.config.trustProxy < 1 || header === undefined) return tls ? 'https:' : 'http:';
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
    // The same hop as the client address (docs/protocol.md §2.4): N trusted hops back.
    const proto = hops[Math.max(0, hops.length - this.config.trustProxy)];
    if (proto === 'https' || proto === 'wss') return 'https:';
    if (proto === 'http' || proto === 'ws') return 'http:';
    return tls ? 'https:' : 'http:';
  }
}
