import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Connection, RealtimeSocket } from '../connection/connection.js';
import { inboundFrameOf } from '../protocol/inbound-frames.js';

/** The handler's `Connection` (the one object that owns the client's state). */
export const CurrentConnection = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Connection => context.switchToWs().getClient<RealtimeSocket>().connection,
);

/** The raw size in bytes of the frame being handled, as received (0 when unknown). */
export const InboundFrameBytes = createParamDecorator(
  (_data: unknown, context: ExecutionContext): number => inboundFrameOf(context)?.bytes ?? 0,
);
