import { type ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerOptions } from '@nestjs/throttler';
import type { RealtimeSocket } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { ErrorCode } from '../protocol/error-codes.js';

/** Names of the two throttlers registered with ThrottlerModule by the realtime module. */
export const THROTTLER_AUTHENTICATED = 'authenticated';
export const THROTTLER_ANONYMOUS = 'anonymous';

/**
 * Message-rate limit per connection on @nestjs/throttler (finding 9). The throttler that
 * applies is chosen by the connection's state (anonymous and pending connections get the
 * stricter `anonymous` one); its `limit` per `ttl` becomes a token bucket (capacity
 * `limit`, refilled `limit` per `ttl`) held on the connection itself, so the state dies
 * with the connection and no shared map keyed by client input exists.
 *
 * `canActivate` is replaced because the generic one resolves every throttler's
 * per-route metadata through several awaits on every frame; here the throttler options
 * are read once and each frame costs one bucket operation.
 */
@Injectable()
export class WsThrottlerGuard extends ThrottlerGuard {
  private byName: ReadonlyMap<string, ThrottlerOptions> | undefined;

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const connection = context.switchToWs().getClient<RealtimeSocket>().connection;
    const name = connection.authenticated ? THROTTLER_AUTHENTICATED : THROTTLER_ANONYMOUS;
    this.byName ??= new Map(this.throttlers.map((t) => [t.name ?? 'default', t]));
    const throttler = this.byName.get(name);
    if (!throttler || typeof throttler.limit !== 'number' || typeof throttler.ttl !== 'number') {
      throw new Error(`WsThrottlerGuard: throttler "${name}" needs a numeric limit and ttl`);
    }
    // Authenticating drops the bucket (Connection.authenticate): the next frame starts
    // a fresh one of the authenticated throttler; the state never goes back.
    const waitMs = connection.takeMessageToken({ perSec: (throttler.limit * 1000) / throttler.ttl, burst: throttler.limit }, true, Date.now());
    if (waitMs > 0) throw new RealtimeException(ErrorCode.RATE_LIMITED, { retryAfterMs: waitMs });
    return true;
  }
}
