import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { USER_CONNECTION_COUNTER, type UserConnectionCounter } from './user-connection-counter.js';

/**
 * Connection caps of docs/protocol.md §2.7: per user over all paths and nodes (finding 12,
 * through the `UserConnectionCounter`), and anonymous-plus-pending per IP on this node, with
 * a node-wide cap on all of them together (docs/protocol.md §11, finding R4: the per-IP cap
 * alone is no bound against many addresses). Counts exist only while connections hold them.
 */
@Injectable()
export class ConnectionLimiter {
  private readonly anonymousIps = new Map<string, number>();
  private anonymousTotal = 0;

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(USER_CONNECTION_COUNTER) private readonly users: UserConnectionCounter,
  ) {}

  /** Returns the lease id of the slot, or undefined when the user is at the cap. */
  acquireUser(userId: string): Promise<string | undefined> {
    return this.users.acquire(userId, this.config.maxConnectionsPerUser);
  }

  releaseUser(userId: string, leaseId: string): void {
    this.users.release(userId, leaseId);
  }

  tryAcquireAnonymous(ip: string): boolean {
    const current = this.anonymousIps.get(ip) ?? 0;
    if (current >= this.config.maxAnonConnectionsPerIp) return false;
    if (this.anonymousTotal >= this.config.maxPendingConnections) return false;
    this.anonymousIps.set(ip, current + 1);
    this.anonymousTotal += 1;
    return true;
  }

  releaseAnonymous(ip: string): void {
    const current = this.anonymousIps.get(ip);
    if (current === undefined) return;
    this.anonymousTotal -= 1;
    if (current <= 1) this.anonymousIps.delete(ip);
    else this.anonymousIps.set(ip, current - 1);
  }

  sizes(): { users: number; anonymousIps: number } {
    return { users: this.users.localUsers(), anonymousIps: this.anonymousIps.size };
  }
}
