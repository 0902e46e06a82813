import { KeyedSets } from '../common/keyed-sets.js';

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
  private readonly leases = new KeyedSets<string, string>();
  private nextLease = 0;

  async acquire(userId: string, max: number): Promise<string | undefined> {
    if (this.leases.count(userId) >= max) return undefined;
    this.nextLease += 1;
    const leaseId = String(this.nextLease);
    this.leases.add(userId, leaseId);
    return leaseId;
  }

  release(userId: string, leaseId: string): void {
    this.leases.delete(userId, leaseId);
  }

  localUsers(): number {
    return this.leases.size;
  }
}
