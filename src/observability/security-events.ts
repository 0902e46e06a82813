import { Inject, Injectable } from '@nestjs/common';
import { RealtimeMetrics } from './realtime-metrics.js';
import { type AuditFields, SecurityAuditLog } from './security-audit-log.js';

/** Where a failed authentication happened, for the audit line. */
export interface AuthFailureContext {
  readonly namespace: string;
  /** Keyed hash of the client IP (never the address). */
  readonly ipHash: string;
  /** Extra audit fields: the handshake's status and credential source, or the connection id of an in-band `auth`. */
  readonly fields?: AuditFields;
}

/**
 * The one call per security-relevant event that has more than one record: an auth failure
 * is counted (by reason), fed to its alert window and audited, whether the handshake or
 * an in-band `auth` found it.
 */
@Injectable()
export class SecurityEvents {
  constructor(
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(SecurityAuditLog) private readonly audit: SecurityAuditLog,
  ) {}

  authFailure(reason: string, context: AuthFailureContext): void {
    this.metrics.countAuthFailure(context.namespace, reason);
    this.audit.record('auth_failure', context.ipHash, { namespace: context.namespace, reason, ...context.fields });
  }
}
