import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { LruMap } from '../common/lru-map.js';
import { TokenBucket } from '../common/token-bucket.js';

/** IPs tracked at once; past this the least recently seen IP is forgotten (finding 24). */
export const HANDSHAKE_TRACKED_IPS = 50_000;

/** WS_HANDSHAKE_RATE_PER_IP upgrades per minute per client IP, as a token bucket (§2.4). */
@Injectable()
export class HandshakeRateLimiter {
  private readonly buckets = new LruMap<string, TokenBucket>(HANDSHAKE_TRACKED_IPS);

  constructor(@Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig) {}

  /** 0 when allowed, otherwise milliseconds to wait. */
  take(ip: string, now = Date.now()): number {
    let bucket = this.buckets.get(ip);
    if (!bucket) {
      const perMinute = this.config.handshakeRatePerIp;
      bucket = new TokenBucket(perMinute / 60, perMinute, now);
      this.buckets.set(ip, bucket);
    }
    return bucket.take(now);
  }

  get size(): number {
    return this.buckets.size;
  }
}
