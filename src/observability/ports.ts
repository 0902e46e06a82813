/**
 * What observability needs from the rest of the application, as small interfaces it owns:
 * the module provides them (RealtimeLogger, the connection registry, the config), so this
 * folder imports nothing above it.
 */

export type AuditFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** The application's structured logger (RealtimeLogger). */
export interface ObservabilityLogger {
  warn(message: string, fields?: AuditFields): void;
  child(bindings: Record<string, string>): ObservabilityLogger;
}
export const OBSERVABILITY_LOGGER = Symbol('OBSERVABILITY_LOGGER');

/** Per-minute alert thresholds of one namespace (reached → the alert fires). */
export interface AlertLimits {
  readonly errorsPerMin: number;
  readonly authFailuresPerMin: number;
  readonly rateLimitedPerMin: number;
  readonly heartbeatTerminationsPerMin: number;
  readonly maxConnections: number;
}

/** What the alert monitor evaluates, and how often. */
export interface AlertSettings {
  readonly evalIntervalMs: number;
  /** The namespaces with thresholds, each with its limits. */
  readonly thresholds: ReadonlyArray<readonly [namespace: string, limits: AlertLimits]>;
  /** Open connections of a namespace now. */
  connections(namespace: string): number;
}
export const ALERT_SETTINGS = Symbol('ALERT_SETTINGS');
