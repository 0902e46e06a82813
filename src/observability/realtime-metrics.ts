import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FrameTally, TalliedHistogram } from './frame-tally.js';
import { SlidingWindowCounter } from './sliding-window-counter.js';

/** What the alert monitor watches per namespace over a sliding minute. */
export type WindowedSignal = 'errors' | 'authFailures' | 'rateLimited' | 'heartbeatTerminations';

const PREFIX = 'realtime_';
/** Label for a namespace not known yet (e.g. a handshake refused for its path). */
export const UNKNOWN_NAMESPACE = 'unknown';

/** Values read at scrape time from the services that own them. */
export interface GaugeSources {
  connections(): Iterable<readonly [string, number, number]>;
  subscriptions(): Iterable<readonly [string, number, number]>;
  chat(): Promise<{ commodities: number; messages: number; bytes: number; rejectedEntries?: number }>;
  activityBuffered(): number;
  /** Cumulative broker counters, when the broker keeps them (Redis). */
  broker(): { publishFailures: number; rejected: Readonly<Record<string, number>> } | undefined;
}

/**
 * Every metric of the layer (prom-client, own registry: nothing global), and the
 * per-namespace sliding-minute counts the alert monitor evaluates. Label values are
 * bounded: namespaces from the contract's table, events from the handler table or
 * `unknown`, codes from the catalogues.
 */
@Injectable()
export class RealtimeMetrics {
  readonly registry = new Registry();
  private readonly windows = new Map<string, SlidingWindowCounter>();
  private readonly frameTallies = new Map<string, Map<string, FrameTally>>();
  private sources: GaugeSources | undefined;

  readonly connectionsOpened = this.counter('connections_opened_total', 'Connections accepted', ['namespace']);
  readonly connectionsClosed = this.counter('connections_closed_total', 'Connections closed, by close code', ['namespace', 'code']);
  readonly handshakeRejections = this.counter('handshake_rejections_total', 'Upgrades refused, by HTTP status', ['namespace', 'status']);
  readonly framesIn = this.counter('frames_in_total', 'Inbound frames, by event', ['namespace', 'event'], () => this.reportFrameCounts());
  readonly framesOut = this.counter('frames_out_total', 'Outbound frames, by event', ['namespace', 'event'], () => this.reportFrameCounts());
  // The four figures alerts watch: counted only through the count* methods, which also feed the alert windows.
  private readonly errors = this.counter('errors_total', 'Error envelopes sent, by code', ['namespace', 'code']);
  private readonly rateLimited = this.counter('rate_limited_total', 'RATE_LIMITED answers', ['namespace']);
  private readonly authFailures = this.counter('auth_failures_total', 'Authentication failures, by internal reason', ['namespace', 'reason']);
  private readonly heartbeatTerminations = this.counter('heartbeat_terminations_total', 'Connections terminated for a missing pong', ['namespace']);
  readonly slowConsumerCloses = this.counter('slow_consumer_closes_total', 'Connections closed 4008 for a full outbound buffer', ['namespace']);
  readonly activityDropped = this.counter('activity_dropped_items_total', 'Activity items dropped (buffer full or sink failed)', []);
  readonly brokerPublishFailures = this.counter('broker_publish_failures_total', 'Publishes the broker could not carry to other nodes', []);
  readonly brokerRejected = this.counter('broker_rejected_total', 'Inter-node messages dropped, by reason', ['reason']);
  readonly handlerDuration = new TalliedHistogram({
    name: `${PREFIX}handler_duration_seconds`,
    help: 'Time from frame receipt to reply or error',
    labelNames: ['namespace', 'event'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly connectionDuration = new Histogram({
    name: `${PREFIX}connection_duration_seconds`,
    help: 'Connection lifetime, observed on close (finding 22)',
    labelNames: ['namespace'],
    buckets: [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600],
    registers: [this.registry],
  });
  readonly alertActive = this.gauge('alert_active', 'Active per-namespace alerts (finding 23)', ['namespace', 'alert']);

  // Gauges read from their owners at scrape time (`refreshGauges`).
  private readonly connections = this.gauge('connections', 'Open connections', ['namespace']);
  private readonly oldestConnection = this.gauge('oldest_connection_age_seconds', 'Age of the oldest open connection', ['namespace']);
  private readonly subscriptions = this.gauge('subscriptions', 'Current subscriptions and room memberships', ['namespace']);
  private readonly topics = this.gauge('topics', 'Topics and rooms with at least one local member', ['namespace']);
  private readonly chatMessages = this.gauge('chat_history_messages', 'Chat messages held in history', []);
  private readonly chatCommodities = this.gauge('chat_history_commodities', 'Commodities with chat history', []);
  private readonly chatBytes = this.gauge('chat_history_bytes', 'Bytes of chat history counted against CHAT_HISTORY_MAX_BYTES', []);
  private readonly chatRejected = this.gauge('chat_history_rejected_entries', 'Stored chat entries dropped on read: failed signature or shape check', []);
  private readonly activityBuffered = this.gauge('activity_buffer_items', 'Activity items waiting for a flush', []);

  setSources(sources: GaugeSources): void {
    this.sources = sources;
  }

  async scrape(): Promise<string> {
    await this.refreshGauges();
    return this.registry.metrics();
  }

  private async refreshGauges(): Promise<void> {
    const sources = this.sources;
    if (!sources) return;
    for (const [ns, count, oldestAgeSec] of sources.connections()) {
      this.connections.set({ namespace: ns }, count);
      this.oldestConnection.set({ namespace: ns }, oldestAgeSec);
    }
    for (const [ns, subs, topicCount] of sources.subscriptions()) {
      this.subscriptions.set({ namespace: ns }, subs);
      this.topics.set({ namespace: ns }, topicCount);
    }
    // History may live in Redis: during an outage these two keep their last values and
    // the rest of the scrape (broker failures above all) still answers.
    const chat = await sources.chat().catch(() => undefined);
    if (chat) {
      this.chatMessages.set(chat.messages);
      this.chatCommodities.set(chat.commodities);
      this.chatBytes.set(chat.bytes);
      this.chatRejected.set(chat.rejectedEntries ?? 0);
    }
    this.activityBuffered.set(sources.activityBuffered());
    const broker = sources.broker();
    if (broker) {
      // The broker owns these running totals; mirrored at scrape time.
      this.brokerPublishFailures.reset();
      this.brokerPublishFailures.inc(broker.publishFailures);
      this.brokerRejected.reset();
      for (const [reason, count] of Object.entries(broker.rejected)) this.brokerRejected.inc({ reason }, count);
    }
  }

  /**
   * The per-frame tally of one routed (namespace, event), created once. Bounded by
   * namespaces × handler events: callers pass only events from the handler table.
   */
  frameTally(namespace: string, event: string): FrameTally {
    let byEvent = this.frameTallies.get(namespace);
    if (!byEvent) {
      byEvent = new Map();
      this.frameTallies.set(namespace, byEvent);
    }
    let tally = byEvent.get(event);
    if (!tally) {
      const labels = { namespace, event };
      tally = new FrameTally(labels, this.handlerDuration.tally(labels));
      byEvent.set(event, tally);
    }
    return tally;
  }

  /** Adds what the frame tallies counted since the last scrape to the two frame counters. */
  private reportFrameCounts(): void {
    for (const byEvent of this.frameTallies.values()) {
      for (const tally of byEvent.values()) {
        if (tally.framesIn > tally.reportedIn) this.framesIn.inc(tally.labels, tally.framesIn - tally.reportedIn);
        if (tally.framesOut > tally.reportedOut) this.framesOut.inc(tally.labels, tally.framesOut - tally.reportedOut);
        tally.reportedIn = tally.framesIn;
        tally.reportedOut = tally.framesOut;
      }
    }
  }

  /** An error envelope sent. */
  countError(namespace: string, code: string): void {
    this.countWatched(this.errors, { namespace, code }, 'errors');
  }

  /** A RATE_LIMITED answer. */
  countRateLimited(namespace: string): void {
    this.countWatched(this.rateLimited, { namespace }, 'rateLimited');
  }

  /** A failed authentication; `reason` is for operators only (finding 19). */
  countAuthFailure(namespace: string, reason: string): void {
    this.countWatched(this.authFailures, { namespace, reason }, 'authFailures');
  }

  /** A connection terminated for a missing pong. */
  countHeartbeatTermination(namespace: string): void {
    this.countWatched(this.heartbeatTerminations, { namespace }, 'heartbeatTerminations');
  }

  /** A watched figure moves its counter and its alert window together. */
  private countWatched<L extends string>(counter: Counter<L>, labels: Partial<Record<L, string>> & { namespace: string }, signal: WindowedSignal): void {
    counter.inc(labels);
    this.signal(labels.namespace, signal);
  }

  /** The alert window of a signal (its counter is moved by the count* method that calls this). */
  private signal(namespace: string, signal: WindowedSignal, now = Date.now()): void {
    const key = `${namespace}\u0000${signal}`;
    let window = this.windows.get(key);
    if (!window) {
      window = new SlidingWindowCounter();
      this.windows.set(key, window);
    }
    window.add(now);
  }

  lastMinute(namespace: string, signal: WindowedSignal, now = Date.now()): number {
    return this.windows.get(`${namespace}\u0000${signal}`)?.total(now) ?? 0;
  }


  private counter<L extends string>(name: string, help: string, labelNames: L[], collect?: () => void): Counter<L> {
    return new Counter({ name: `${PREFIX}${name}`, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name: `${PREFIX}${name}`, help, labelNames, registers: [this.registry] });
  }
}
