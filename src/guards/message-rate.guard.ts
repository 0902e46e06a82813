import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { RateLimit, RealtimeSocket } from '../connection/connection.js';
import { MESSAGE_RATE_KEY, SKIP_MESSAGE_RATE_KEY } from '../decorators/message-rate.decorator.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { ErrorCode } from '../protocol/error-codes.js';

/** What applies to one handler: the connection's rate by auth state, a rate of its own, or none. */
type HandlerRate = 'by-state' | 'skip' | RateLimit;

/**
 * Message-rate limit per connection (finding 9, docs/protocol.md §5): WS_RATE_PER_SEC /
 * WS_RATE_BURST once authenticated, the stricter WS_ANON_RATE_* while anonymous or
 * pending; `@MessageRate` gives a handler its own rate, `@SkipMessageRate` none. The
 * buckets live on the connection (`Connection.takeMessageToken`), so the state dies with
 * it and no shared map keyed by client input exists. A handler's decorators are read once.
 */
@Injectable()
export class MessageRateGuard implements CanActivate {
  private readonly authenticated: RateLimit;
  private readonly anonymous: RateLimit;
  /** Per handler function: bounded by the gateways' handlers. */
  private readonly byHandler = new WeakMap<object, HandlerRate>();

  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.authenticated = Object.freeze({ perSec: config.ratePerSec, burst: config.rateBurst });
    this.anonymous = Object.freeze({ perSec: config.anonRatePerSec, burst: config.anonRateBurst });
  }

  canActivate(context: ExecutionContext): boolean {
    const rate = this.rateOf(context);
    if (rate === 'skip') return true;
    const connection = context.switchToWs().getClient<RealtimeSocket>().connection;
    const byState = rate === 'by-state';
    const applied = byState ? (connection.authenticated ? this.authenticated : this.anonymous) : rate;
    // Authenticating drops the state bucket (Connection.authenticate): the next frame
    // starts a fresh one at the authenticated rate; the state never goes back.
    const waitMs = connection.takeMessageToken(applied, byState, Date.now());
    if (waitMs > 0) throw new RealtimeException(ErrorCode.RATE_LIMITED, { retryAfterMs: waitMs });
    return true;
  }

  private rateOf(context: ExecutionContext): HandlerRate {
    const handler = context.getHandler();
    let rate = this.byHandler.get(handler);
    if (rate === undefined) {
      const targets = [handler, context.getClass()];
      if (this.reflector.getAllAndOverride<boolean | undefined>(SKIP_MESSAGE_RATE_KEY, targets)) rate = 'skip';
      else rate = this.reflector.getAllAndOverride<RateLimit | undefined>(MESSAGE_RATE_KEY, targets) ?? 'by-state';
      this.byHandler.set(handler, rate);
    }
    return rate;
  }
}
