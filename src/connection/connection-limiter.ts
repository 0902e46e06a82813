import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';

/**
 * Connection caps of PROTOCOL.md §2.7: per user over all paths (finding 12), and
 * anonymous-plus-pending per IP. Counts exist only while connections hold them.
 */
@Injectable()
export class ConnectionLimiter {
  private readonly users = new Map<string, number>();
  private readonly anonymousIps = new Map<string, number>();

  constructor(@Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig) {}

  tryAcquireUser(userId: string): boolean {
    return acquire(this.users, userId, this.config.maxConnectionsPerUser);
  }

  releaseUser(userId: string): void {
    release(this.users, userId);
  }

  tryAcquireAnonymous(ip: string): boolean {
    return acquire(this.anonymousIps, ip, this.config.maxAnonConnectionsPerIp);
  }

  releaseAnonymous(ip: string): void {
    release(this.anonymousIps, ip);
  }

  sizes(): { users: number; anonymousIps: number } {
    return { users: this.users.size, anonymousIps: this.anonymousIps.size };
  }
}

function acquire(counts: Map<string, number>, key: string, max: number): boolean {
  const current = counts.get(key) ?? 0;
  if (current >= max) return false;
  counts.set(key, current + 1);
  return true;
}

function release(counts: Map<string, number>, key: string): void {
  const current = counts.get(key);
  if (current === undefined) return;
  if (current <= 1) counts.delete(key);
  else counts.set(key, current - 1);
}
