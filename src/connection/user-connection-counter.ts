/**
 * Per-user connection slots across every node (finding 12). A slot is a lease: held while
 * the connection is open, renewed by its node, released on close; a node that dies stops
 * renewing, so its slots free themselves within the lease TTL. Replace it through
 * `USER_CONNECTION_COUNTER` (the Redis one counts across nodes).
 */
export interface UserConnectionCounter {
  /** Takes a slot for `userId` if fewer than `max` are held; returns the lease id, or undefined at the cap. */
  acquire(userId: string, max: number): Promise<string | undefined>;
  release(userId: string, leaseId: string): void;
  /** Users with at least one slot held on this node (for tests and metrics). */
  localUsers(): number;
}

export const USER_CONNECTION_COUNTER = Symbol('USER_CONNECTION_COUNTER');

/** Single-node counter: a count of leases per user, entries removed at zero. */
export class InMemoryUserConnectionCounter implements UserConnectionCounter {
  private readonly leases = new Map<string, Set<string>>();
  private nextLease = 0;

  async acquire(userId: string, max: number): Promise<string | undefined> {
    let held = this.leases.get(userId);
    if ((held?.size ?? 0) >= max) return undefined;
    if (!held) {
      held = new Set();
      this.leases.set(userId, held);
    }
    this.nextLease += 1;
    const leaseId = String(this.nextLease);
    held.add(leaseId);
    return leaseId;
  }

  release(userId: string, leaseId: string): void {
    const held = this.leases.get(userId);
    if (held?.delete(leaseId) && held.size === 0) this.leases.delete(userId);
  }

  localUsers(): number {
    return this.leases.size;
  }
}
