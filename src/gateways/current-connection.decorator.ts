import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Connection, RealtimeSocket } from '../connection/connection.js';

/** The handler's `Connection` (the one object that owns the client's state). */
export const CurrentConnection = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Connection => context.switchToWs().getClient<RealtimeSocket>().connection,
);
