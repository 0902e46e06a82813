import { createHmac, randomBytes } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from '../config/realtime-options.js';

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** Field names whose values never reach a log line, at any depth pino can address. */
const REDACTED_PATHS = [
  'token',
  'authorization',
  'cookie',
  'apiKey',
  'secret',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  '*.token',
  '*.authorization',
  '*.cookie',
  '*.apiKey',
  '*.secret',
];

/** JWT-shaped strings, bearer credentials, cookie/query token assignments and API-key headers. */
const SECRET_PATTERNS: readonly RegExp[] = [
  /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*/g,
  /(bearer\s+)[^\s,;"']+/gi,
  /((?:access_token|token|api[_-]?key|x-api-key)\s*[=:]\s*)[^\s&;,"']+/gi,
];

/** Replaces anything that looks like a credential in free text (error messages, stacks). */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (match, prefix: unknown) => (typeof prefix === 'string' && match.startsWith(prefix) ? `${prefix}[redacted]` : '[redacted]'));
  }
  return out;
}

/** Bytes of log lines waiting for stdout at most; past it lines are dropped, not queued without bound. */
const MAX_PENDING_LOG_BYTES = 8 * 1024 * 1024;
/** Destinations flushed synchronously when the process exits, so no last line is lost. */
const pendingAtExit = new Set<ReturnType<typeof pino.destination>>();

/**
 * Stdout written asynchronously: a flood of log lines costs the event loop a buffer copy,
 * not a blocking write each. Whatever is still queued is written when the process exits.
 */
function asyncStdout(): DestinationStream {
  const stream = pino.destination({ fd: 1, sync: false, maxLength: MAX_PENDING_LOG_BYTES });
  if (pendingAtExit.size === 0) {
    process.once('exit', () => {
      for (const pending of pendingAtExit) {
        try {
          pending.flushSync();
        } catch {
          // Nothing more can be done for a log line at exit.
        }
      }
    });
  }
  pendingAtExit.add(stream);
  return stream;
}

/**
 * JSON-lines logger of the realtime layer on pino (finding 25): levels from LOG_LEVEL,
 * credentials redacted by field name and scrubbed from free text, client IPs only as a
 * keyed hash (per-process key) through `hashIp`.
 */
export class RealtimeLogger {
  private constructor(
    private readonly pino: Logger,
    private readonly ipKey: Buffer,
  ) {}

  /** Writes to stdout unless a destination is given (tests capture it). */
  static create(level: LogLevel, destination?: DestinationStream): RealtimeLogger {
    const logger = pino(
      {
        level,
        base: { service: 'realtime' },
        timestamp: pino.stdTimeFunctions.isoTime,
        messageKey: 'msg',
        formatters: { level: (label) => ({ level: label }) },
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      },
      destination ?? asyncStdout(),
    );
    return new RealtimeLogger(logger, randomBytes(32));
  }

  /** A logger writing to the same stream with extra fixed fields (e.g. the audit log). */
  child(bindings: Record<string, string>): RealtimeLogger {
    return new RealtimeLogger(this.pino.child(bindings), this.ipKey);
  }

  /** Whether debug lines are written: check it before building fields that cost something. */
  get debugEnabled(): boolean {
    return this.pino.isLevelEnabled('debug');
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.pino.isLevelEnabled('debug')) this.pino.debug(fields ?? {}, scrubSecrets(msg));
  }

  info(msg: string, fields?: LogFields): void {
    this.pino.info(fields ?? {}, scrubSecrets(msg));
  }

  warn(msg: string, fields?: LogFields): void {
    this.pino.warn(fields ?? {}, scrubSecrets(msg));
  }

  error(msg: string, fields?: LogFields): void {
    this.pino.error(fields ?? {}, scrubSecrets(msg));
  }

  /** A stable, non-reversible stand-in for a client IP. */
  hashIp(ip: string): string {
    // 12 bytes → 16 characters, encoded from the buffer: a slice of the full digest's
    // string would keep that string alive for the life of the connection.
    return createHmac('sha256', this.ipKey).update(ip).digest().toString('base64url', 0, 12);
  }
}

/** Describes an unknown thrown value for logs, with credentials scrubbed from message and stack. */
export function describeError(err: unknown): LogFields {
  if (err instanceof Error) {
    return {
      error: err.name,
      errorMessage: scrubSecrets(err.message.slice(0, 300)),
      stack: err.stack ? scrubSecrets(err.stack.split('\n').slice(1, 6).join(' | ')) : undefined,
    };
  }
  return { error: typeof err };
}

/** Routes Nest's own log calls into the JSON logger, so every line of the process is JSON. */
export class NestJsonLogger implements LoggerService {
  constructor(private readonly logger: RealtimeLogger) {}

  /**
   * Nest's `log` is info: it carries the host app's own startup, route and `Logger.log`
   * lines, which must show at the default level.
   */
  log(message: unknown, context?: unknown): void {
    this.logger.info(text(message), contextField(context));
  }

  error(message: unknown, ...rest: unknown[]): void {
    const fields = message instanceof Error ? describeError(message) : {};
    this.logger.error(message instanceof Error ? message.message : text(message), { ...fields, ...contextField(rest[rest.length - 1]) });
  }

  warn(message: unknown, context?: unknown): void {
    this.logger.warn(text(message), contextField(context));
  }

  debug(message: unknown, context?: unknown): void {
    this.logger.debug(text(message), contextField(context));
  }

  verbose(message: unknown, context?: unknown): void {
    this.logger.debug(text(message), contextField(context));
  }
}

function text(message: unknown): string {
  return typeof message === 'string' ? message : JSON.stringify(message) ?? String(message);
}

function contextField(context: unknown): LogFields {
  return typeof context === 'string' ? { context } : {};
}
