import { Inject, Injectable } from '@nestjs/common';
import { LruMap } from '../common/lru-map.js';
import { TokenBucket } from '../common/token-bucket.js';
import { type AuditFields, OBSERVABILITY_LOGGER, type ObservabilityLogger } from './ports.js';
import { SlidingWindowCounter } from './sliding-window-counter.js';

export type { AuditFields };

export type AuditEventKind =
  | 'auth_failure'
  | 'origin_rejected'
  | 'handshake_rate_limited'
  | 'connection_cap'
  | 'rate_limit_strike'
  | 'oversized_frame'
  | 'invalid_frame'
  | 'forced_disconnect';

/** Occurrences of one kind from one hashed IP within a minute that make a pattern. */
const PATTERN_THRESHOLDS: Readonly<Record<AuditEventKind, number>> = {
  auth_failure: 10,
  origin_rejected: 20,
  handshake_rate_limited: 20,
  connection_cap: 20,
  rate_limit_strike: 20,
  oversized_frame: 10,
  invalid_frame: 20,
  forced_disconnect: 50,
};

const WINDOW_MS = 60_000;
/** Sources tracked for patterns at once (finding 24). */
const TRACKED_SOURCES = 10_000;
/** Individual audit lines per second (burst 100); the rest are counted and summarised. */
const LINES_PER_SEC = 20;
const LINES_BURST = 100;
/** Pattern summaries per minute at most (burst 10). */
const SUMMARIES_PER_SEC = 1;
const SUMMARIES_BURST = 10;

interface SourceState {
  readonly window: SlidingWindowCounter;
  /** When this source's pattern was last reported; once per window. */
  reportedAt: number;
}

/**
 * The security audit trail: auth failures, rejected origins, rate-limit strikes,
 * oversized and invalid frames, forced disconnects. Each goes to a dedicated logger
 * (`logger: "security-audit"`); a detector raises one summarised entry when one hashed IP
 * repeats a kind past its threshold in a minute. Both are rate-limited, so an attacker
 * cannot flood the logs: suppressed lines are counted and reported with the next line.
 */
@Injectable()
export class SecurityAuditLog {
  private readonly audit: ObservabilityLogger;
  private readonly sources = new LruMap<string, SourceState>(TRACKED_SOURCES);
  private readonly lines = new TokenBucket(LINES_PER_SEC, LINES_BURST, Date.now());
  private readonly summaries = new TokenBucket(SUMMARIES_PER_SEC, SUMMARIES_BURST, Date.now());
  private suppressed = 0;
  private summariesSent = 0;

  constructor(@Inject(OBSERVABILITY_LOGGER) logger: ObservabilityLogger) {
    this.audit = logger.child({ logger: 'security-audit' });
  }

  /** `ipHash` is the keyed hash from RealtimeLogger.hashIp, never a raw address. */
  record(kind: AuditEventKind, ipHash: string | undefined, fields: AuditFields = {}, now = Date.now()): void {
    if (this.lines.take(now) === 0) {
      const suppressed = this.suppressed;
      this.suppressed = 0;
      this.audit.warn(`security: ${kind}`, { kind, ip: ipHash, ...fields, ...(suppressed > 0 ? { suppressedSinceLast: suppressed } : {}) });
    } else {
      this.suppressed += 1;
    }
    if (ipHash !== undefined) this.detect(kind, ipHash, now);
  }

  stats(): { trackedSources: number; suppressed: number; summaries: number } {
    return { trackedSources: this.sources.size, suppressed: this.suppressed, summaries: this.summariesSent };
  }

  private detect(kind: AuditEventKind, ipHash: string, now: number): void {
    const key = `${kind}\u0000${ipHash}`;
    let state = this.sources.get(key);
    if (!state) {
      state = { window: new SlidingWindowCounter(WINDOW_MS), reportedAt: -Infinity };
      this.sources.set(key, state);
    }
    state.window.add(now);
    const count = state.window.total(now);
    if (count < PATTERN_THRESHOLDS[kind] || now - state.reportedAt < WINDOW_MS) return;
    state.reportedAt = now;
    if (this.summaries.take(now) !== 0) return;
    this.summariesSent += 1;
    this.audit.warn(`security pattern: repeated ${kind}`, { kind, pattern: true, ip: ipHash, count, windowSec: WINDOW_MS / 1000 });
  }
}
