import { SetMetadata } from '@nestjs/common';
import type { RateLimit } from '../connection/connection.js';

export const MESSAGE_RATE_KEY = 'realtime:message-rate';
export const SKIP_MESSAGE_RATE_KEY = 'realtime:skip-message-rate';

/**
 * A message rate of its own for a handler (or every handler of a gateway), instead of the
 * connection's WS_RATE_* / WS_ANON_RATE_* rate: a separate bucket per connection, `burst`
 * frames refilled at `perSec`. Over it: RATE_LIMITED with `retryAfterMs`, counted as strikes.
 */
export const MessageRate = (rate: RateLimit): MethodDecorator & ClassDecorator =>
  SetMetadata(MESSAGE_RATE_KEY, Object.freeze({ perSec: rate.perSec, burst: rate.burst }));

/** The handler (or gateway) is not rate-limited at all. */
export const SkipMessageRate = (): MethodDecorator & ClassDecorator => SetMetadata(SKIP_MESSAGE_RATE_KEY, true);
