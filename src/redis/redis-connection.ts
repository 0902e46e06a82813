import { type Cluster, Redis, type RedisOptions } from 'ioredis';

/** Where Redis connection errors go (a logger, a metric). Never throws. */
export type RedisErrorReporter = (context: string, error: unknown) => void;

export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]` (REDIS_URL). */
  readonly url: string;
  /** Prepended to every key and channel, e.g. `rt:`; lets many deployments or test runs share one Redis. */
  readonly keyPrefix?: string;
  readonly onError?: RedisErrorReporter;
  /** Longest wait between reconnect attempts (ms). Reconnects never stop. */
  readonly maxRetryDelayMs?: number;
  /** A command without an answer after this long fails instead of hanging (ms). */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

const DEFAULT_MAX_RETRY_DELAY_MS = 2000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** Exponential backoff from 50 ms, capped, forever (a non-number return would stop reconnecting). */
export function cappedBackoff(maxDelayMs: number): (attempt: number) => number {
  return (attempt) => Math.min(50 * 2 ** Math.min(attempt, 16), maxDelayMs);
}

/**
 * The two ioredis clients of a node: one for commands, one for pub/sub (a client in
 * subscriber mode can run nothing else).
 *
 * The prefix is applied by `key()` rather than ioredis' `keyPrefix`, because ioredis does
 * not prefix keys that Lua scripts build themselves, and some of ours do.
 */
export class RedisConnection {
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly prefix: string;
  private closed = false;

  constructor(options: RedisConnectionOptions) {
    this.prefix = options.keyPrefix ?? '';
    const report = options.onError ?? (() => undefined);
    const base: RedisOptions = {
      lazyConnect: false,
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      retryStrategy: cappedBackoff(options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS),
    };
    // Commands fail fast during an outage (the caller answers 503 or counts a failed
    // publish) instead of piling up in a queue that replays stale work later.
    this.command = new Redis(options.url, {
      ...base,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 2,
      commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    });
    // SUBSCRIBE issued before the first connect must wait for it, and ioredis re-issues
    // the subscriptions itself after every reconnect (autoResubscribe).
    this.subscriber = new Redis(options.url, {
      ...base,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
    });
    // A listener must exist: an 'error' event without one is reported by ioredis on stderr.
    this.command.on('error', (error: unknown) => report('redis command client', error));
    this.subscriber.on('error', (error: unknown) => report('redis subscriber client', error));
  }

  /** A full key or channel name under this connection's prefix. */
  key(name: string): string {
    return this.prefix + name;
  }

  /** Both clients are connected (readiness is 503 otherwise). */
  isReady(): boolean {
    return !this.closed && this.command.status === 'ready' && this.subscriber.status === 'ready';
  }

  /** Resolves once both clients are connected; rejects after `timeoutMs`. */
  async waitUntilReady(timeoutMs = 10_000): Promise<void> {
    await Promise.all([whenClientReady(this.command, timeoutMs), whenClientReady(this.subscriber, timeoutMs)]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([quit(this.command), quit(this.subscriber)]);
  }
}

/** Resolves once the client can take commands; rejects after `timeoutMs`. */
export function whenClientReady(client: Redis | Cluster, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    client.once('ready', onReady);
  });
}

/** QUIT when connected (flushes pending replies), otherwise just stop reconnecting. */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through: the connection went away meanwhile
    }
  }
  client.disconnect(false);
}
