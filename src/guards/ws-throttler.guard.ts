import { Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerRequest } from '@nestjs/throttler';
import { TokenBucket } from '../common/token-bucket.js';
import type { RealtimeSocket } from '../connection/client-session.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { ErrorCode } from '../protocol/error-codes.js';

/** Names of the two throttlers registered with ThrottlerModule by the realtime module. */
export const THROTTLER_AUTHENTICATED = 'authenticated';
export const THROTTLER_ANONYMOUS = 'anonymous';

/**
 * Message-rate limit per connection on @nestjs/throttler (finding 9). Each named
 * throttler's `limit` per `ttl` becomes a token bucket (capacity `limit`, refill `limit`
 * per `ttl`) held on the connection itself, so its state dies with the connection and
 * no shared map keyed by client input exists. Anonymous and pending connections use the
 * stricter `anonymous` throttler.
 */
@Injectable()
export class WsThrottlerGuard extends ThrottlerGuard {
  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler } = request;
    const session = context.switchToWs().getClient<RealtimeSocket>().session;
    const applies = session.authenticated ? THROTTLER_AUTHENTICATED : THROTTLER_ANONYMOUS;
    const name = throttler.name ?? 'default';
    if (name !== applies) return true;
    const now = Date.now();
    let bucket = session.rateBuckets.get(name);
    if (!bucket) {
      bucket = new TokenBucket((limit * 1000) / ttl, limit, now);
      session.rateBuckets.set(name, bucket);
    }
    const waitMs = bucket.take(now);
    if (waitMs > 0) throw new RealtimeException(ErrorCode.RATE_LIMITED, { retryAfterMs: waitMs });
    return true;
  }
}
