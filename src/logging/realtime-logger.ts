import { createHmac, randomBytes } from 'node:crypto';
import type { LogLevel } from '../config/realtime-options.js';

const ORDER: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** Where log lines go; tests replace it to capture output. */
export type LogWriter = (line: string) => void;

/**
 * JSON-lines logger for the realtime layer (finding 25). Callers pass structured fields,
 * never raw tokens, headers or IPs: IPs go through `hashIp` (keyed, per-process key).
 */
export class RealtimeLogger {
  private readonly ipKey = randomBytes(32);

  constructor(
    private readonly level: LogLevel,
    private readonly write: LogWriter = (line) => process.stdout.write(line + '\n'),
  ) {}

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  /** A stable, non-reversible stand-in for a client IP. */
  hashIp(ip: string): string {
    return createHmac('sha256', this.ipKey).update(ip).digest('base64url').slice(0, 16);
  }

  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    this.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
  }
}

/** Describes an unknown thrown value for logs without its message text leaking secrets. */
export function describeError(err: unknown): LogFields {
  if (err instanceof Error) {
    return { error: err.name, errorMessage: err.message.slice(0, 200), stack: err.stack?.split('\n').slice(0, 6).join(' | ') };
  }
  return { error: typeof err };
}
