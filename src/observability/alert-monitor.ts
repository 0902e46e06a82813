import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ALERT_SETTINGS, type AlertLimits, type AlertSettings, OBSERVABILITY_LOGGER, type ObservabilityLogger } from './ports.js';
import { RealtimeMetrics, type WindowedSignal } from './realtime-metrics.js';

export type AlertName = 'error_rate' | 'auth_failures' | 'rate_limited' | 'heartbeat_terminations' | 'connections';

export interface AlertEvent {
  readonly namespace: string;
  readonly alert: AlertName;
  readonly state: 'firing' | 'resolved';
  readonly value: number;
  readonly threshold: number;
  readonly at: string;
}

export type AlertListener = (event: AlertEvent) => void;

/** Alert name → its threshold key and the signal it reads (connections: open now). */
const ALERTS: ReadonlyArray<readonly [AlertName, keyof AlertLimits, WindowedSignal | 'connections']> = [
  ['error_rate', 'errorsPerMin', 'errors'],
  ['auth_failures', 'authFailuresPerMin', 'authFailures'],
  ['rate_limited', 'rateLimitedPerMin', 'rateLimited'],
  ['heartbeat_terminations', 'heartbeatTerminationsPerMin', 'heartbeatTerminations'],
  ['connections', 'maxConnections', 'connections'],
];

/**
 * Per-namespace alerting (finding 23): every ALERT_EVAL_INTERVAL_MS each namespace's
 * sliding-minute figures are compared with its thresholds. An alert fires once when a
 * figure reaches its threshold and resolves once when it drops below: logged at warn,
 * told to listeners (`onAlert`), exported as `realtime_alert_active` and listed in
 * readiness details.
 */
@Injectable()
export class AlertMonitor implements OnModuleInit, OnApplicationShutdown {
  private readonly active = new Map<string, AlertEvent>();
  private readonly listeners = new Set<AlertListener>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(ALERT_SETTINGS) private readonly settings: AlertSettings,
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(OBSERVABILITY_LOGGER) private readonly logger: ObservabilityLogger,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.evaluate(), this.settings.evalIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Subscribes to firing/resolved events; returns the unsubscribe function. */
  onAlert(listener: AlertListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  activeAlerts(): AlertEvent[] {
    return [...this.active.values()];
  }

  evaluate(now = Date.now()): void {
    for (const [namespace, thresholds] of this.settings.thresholds) {
      for (const [alert, thresholdKey, signal] of ALERTS) {
        const value = signal === 'connections' ? this.settings.connections(namespace) : this.metrics.lastMinute(namespace, signal, now);
        this.update(namespace, alert, value, thresholds[thresholdKey], now);
      }
    }
  }

  private update(namespace: string, alert: AlertName, value: number, threshold: number, now: number): void {
    const key = `${namespace}/${alert}`;
    const firing = value >= threshold;
    if (firing === this.active.has(key)) return;
    const event: AlertEvent = { namespace, alert, state: firing ? 'firing' : 'resolved', value, threshold, at: new Date(now).toISOString() };
    if (firing) this.active.set(key, event);
    else this.active.delete(key);
    this.metrics.alertActive.set({ namespace, alert }, firing ? 1 : 0);
    this.logger.warn(`alert ${event.state}: ${alert} on ${namespace}`, { namespace, alert, state: event.state, value, threshold });
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not stop alerting.
      }
    }
  }
}
