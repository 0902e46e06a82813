import type { Socket } from 'node:net';

/**
 * Corks every TCP socket written to during an event-loop turn and uncorks them all at its
 * end (setImmediate), so the frames a socket gets in one turn (several publishes, replies)
 * leave in one write instead of one syscall each.
 */
export class WriteBatcher {
  private held: Socket[] = [];
  private scheduled = false;

  hold(raw: Socket): void {
    // Already held this turn (or corked by ws inside one of its own sends, e.g. a ping).
    if (raw.writableCorked > 0 || raw.destroyed) return;
    raw.cork();
    this.held.push(raw);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    const held = this.held;
    this.held = [];
    this.scheduled = false;
    for (const raw of held) if (raw.writableCorked > 0) raw.uncork();
  };
}
