import type { Socket } from 'node:net';

/**
 * Corks every TCP socket written to and uncorks them all together, so the frames a socket
 * gets meanwhile (several publishes, replies) leave in one write instead of one syscall each.
 *
 * `delayMs` 0 (the default): until the end of this event-loop turn (setImmediate).
 * `delayMs` > 0 (WS_WRITE_DELAY_MS, like Centrifugo's `write_delay`): for up to that long, so
 * the frames of several turns share one write, at the price of up to `delayMs` more latency.
 * One timer for the whole process rather than one per connection: at 20,000 connections a
 * timer each would cost more than the writes it saves. The timer exists only while something
 * is held; a socket that closes or nears its buffer cap is released at once (`release`).
 */
export class WriteBatcher {
  private held: Socket[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate = false;

  constructor(readonly delayMs = 0) {}

  hold(raw: Socket): void {
    // Already held (or corked by ws inside one of its own sends, e.g. a ping).
    if (raw.writableCorked > 0 || raw.destroyed) return;
    raw.cork();
    this.held.push(raw);
    if (this.delayMs > 0) {
      this.timer ??= setTimeout(this.flush, this.delayMs);
    } else if (!this.immediate) {
      this.immediate = true;
      setImmediate(this.flush);
    }
  }

  /** Writes out what `raw` holds now (it is closing, or its queue nears WS_MAX_BUFFERED_BYTES); the next write holds it again. */
  release(raw: Socket): void {
    while (raw.writableCorked > 0) raw.uncork();
  }

  /** True while a flush is scheduled (tests). */
  get pending(): boolean {
    return this.timer !== undefined || this.immediate;
  }

  /** Flushes everything held and clears the timer (shutdown). */
  close(): void {
    this.flush();
  }

  private readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.immediate = false;
    const held = this.held;
    this.held = [];
    for (const raw of held) if (raw.writableCorked > 0) raw.uncork();
  };
}
