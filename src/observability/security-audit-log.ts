import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
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
  | 'forced_disconnect'
  | 'deprecated_query_token'
  | 'query_token_accepted';

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
  deprecated_query_token: 10,
  query_token_accepted: 50,
};

const WINDOW_MS = 60_000;
/** Sources tracked for patterns and line budgets at once (finding 24). */
const TRACKED_SOURCES = 10_000;
/**
 * Individual lines per kind per second (burst 100): a flood of one kind (say rejected
 * origins) cannot use up the lines of another (auth failures).
 */
const LINES_PER_SEC_PER_KIND = 20;
const LINES_BURST_PER_KIND = 100;
/** Individual lines per hashed source per second (burst 30), over all kinds: one source cannot use up a kind's lines. */
const LINES_PER_SEC_PER_SOURCE = 2;
const LINES_BURST_PER_SOURCE = 30;
/** Pattern summaries per kind per second (burst 10). */
const SUMMARIES_PER_SEC_PER_KIND = 1;
const SUMMARIES_BURST_PER_KIND = 10;
/** Suppressed lines of each kind are summarised this often, so a burst always leaves a line. */
const SUPPRESSED_REPORT_MS = 5000;

interface SourceState {
  readonly window: SlidingWindowCounter;
  /** When this source's pattern was last reported; once per window. */
  reportedAt: number;
}

/** Budgets and the suppressed count of one kind. */
interface KindState {
  readonly lines: TokenBucket;
  readonly summaries: TokenBucket;
  /** Lines of this kind not written since its last line or suppressed summary. */
  suppressed: number;
}

/**
 * The security audit trail: auth failures, rejected origins, rate-limit strikes,
 * oversized and invalid frames, forced disconnects, ignored query tokens. Each goes to a
 * dedicated logger (`logger: "security-audit"`); a detector raises one summarised entry
 * when one hashed IP repeats a kind past its threshold in a minute.
 *
 * Budgets are per kind and per source, so an attacker cannot flood the log, nor hide one
 * kind behind another or other sources behind its own: a line is written when both its
 * kind and its source have budget left. What is not written is counted per kind and
 * reported, by the kind's next line (`suppressedSinceLast`) or by a `security: suppressed`
 * summary at most SUPPRESSED_REPORT_MS later, so a burst always yields a line.
 */
@Injectable()
export class SecurityAuditLog implements OnApplicationShutdown {
  private readonly audit: ObservabilityLogger;
  private readonly sources = new LruMap<string, SourceState>(TRACKED_SOURCES);
  private readonly sourceLines = new LruMap<string, TokenBucket>(TRACKED_SOURCES);
  private readonly kinds = new Map<AuditEventKind, KindState>();
  private readonly reporter: NodeJS.Timeout;
  private summariesSent = 0;

  constructor(@Inject(OBSERVABILITY_LOGGER) logger: ObservabilityLogger) {
    this.audit = logger.child({ logger: 'security-audit' });
    this.reporter = setInterval(() => this.reportSuppressed(), SUPPRESSED_REPORT_MS);
    this.reporter.unref();
  }

  /** `ipHash` is the keyed hash from RealtimeLogger.hashIp, never a raw address. */
  record(kind: AuditEventKind, ipHash: string | undefined, fields: AuditFields = {}, now = Date.now()): void {
    const state = this.kind(kind, now);
    if (this.sourceAllows(ipHash, now) && state.lines.take(now) === 0) {
      const suppressed = state.suppressed;
      state.suppressed = 0;
      this.audit.warn(`security: ${kind}`, { kind, ip: ipHash, ...fields, ...(suppressed > 0 ? { suppressedSinceLast: suppressed } : {}) });
    } else {
      state.suppressed += 1;
    }
    if (ipHash !== undefined) this.detect(kind, state, ipHash, now);
  }

  stats(): { trackedSources: number; suppressed: number; summaries: number } {
    let suppressed = 0;
    for (const state of this.kinds.values()) suppressed += state.suppressed;
    return { trackedSources: this.sources.size, suppressed, summaries: this.summariesSent };
  }

  onApplicationShutdown(): void {
    clearInterval(this.reporter);
    this.reportSuppressed();
  }

  /** One `security: suppressed` line per kind with suppressed lines; runs every SUPPRESSED_REPORT_MS. */
  private reportSuppressed(): void {
    for (const [kind, state] of this.kinds) {
      if (state.suppressed === 0) continue;
      this.audit.warn(`security: suppressed ${kind} lines`, { kind, suppressed: state.suppressed });
      state.suppressed = 0;
    }
  }

  private kind(kind: AuditEventKind, now: number): KindState {
    let state = this.kinds.get(kind);
    if (!state) {
      state = {
        lines: new TokenBucket(LINES_PER_SEC_PER_KIND, LINES_BURST_PER_KIND, now),
        summaries: new TokenBucket(SUMMARIES_PER_SEC_PER_KIND, SUMMARIES_BURST_PER_KIND, now),
        suppressed: 0,
      };
      this.kinds.set(kind, state);
    }
    return state;
  }

  private sourceAllows(ipHash: string | undefined, now: number): boolean {
    if (ipHash === undefined) return true;
    let bucket = this.sourceLines.get(ipHash);
    if (!bucket) {
      bucket = new TokenBucket(LINES_PER_SEC_PER_SOURCE, LINES_BURST_PER_SOURCE, now);
      this.sourceLines.set(ipHash, bucket);
    }
    return bucket.take(now) === 0;
  }

  private detect(kind: AuditEventKind, kindState: KindState, ipHash: string, now: number): void {
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
    if (kindState.summaries.take(now) !== 0) return;
    this.summariesSent += 1;
    this.audit.warn(`security pattern: repeated ${kind}`, { kind, pattern: true, ip: ipHash, count, windowSec: WINDOW_MS / 1000 });
  }
}
