import { type CanActivate, type ExecutionContext, HttpException, Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { SecretMatcher } from '../common/secret-matcher.js';
import { HTTP_REJECTIONS } from '../protocol/error-codes.js';

/**
 * `X-Api-Key` for the HTTP API of §8: the routes do not exist (404) unless
 * REALTIME_API_KEY is set; a wrong or missing key is 401, compared in constant time.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly key: SecretMatcher | undefined;

  constructor(@Inject(REALTIME_CONFIG) config: RealtimeConfig) {
    this.key = config.apiKey === undefined ? undefined : new SecretMatcher(config.apiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.key) throw new HttpException(HTTP_REJECTIONS[404], 404);
    const header = context.switchToHttp().getRequest<Request>().headers['x-api-key'];
    if (!this.key.matches(typeof header === 'string' ? header : undefined)) throw new HttpException(HTTP_REJECTIONS[401], 401);
    return true;
  }
}
