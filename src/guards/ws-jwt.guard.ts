import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { RealtimeSocket } from '../connection/connection.js';
import { IS_PUBLIC_KEY } from '../decorators/public.decorator.js';
import { RealtimeException } from '../errors/realtime.exception.js';

/**
 * Enforces authenticated state per handler (finding 16). Identity was verified at the
 * handshake or by in-band `auth`; this guard only reads the connection's state. Handlers
 * marked `@Public()` may also be called by anonymous and pending connections.
 */
@Injectable()
export class WsJwtGuard implements CanActivate {
  constructor(@Inject(Reflector) private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.switchToWs().getClient<RealtimeSocket>().connection.authenticated) return true;
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    throw RealtimeException.unauthorized();
  }
}
