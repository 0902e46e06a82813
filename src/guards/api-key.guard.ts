import { createHash, timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, HttpException, Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { HTTP_REJECTIONS } from '../protocol/error-codes.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * `X-Api-Key` for the HTTP API of §8: the routes do not exist (404) unless
 * REALTIME_API_KEY is set; a wrong or missing key is 401. Compared in constant time
 * (hashing first makes the comparison independent of the key length too).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(@Inject(REALTIME_CONFIG) config: RealtimeConfig) {
    this.expected = config.apiKey === undefined ? undefined : digest(config.apiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) throw new HttpException(HTTP_REJECTIONS[404], 404);
    const header = context.switchToHttp().getRequest<Request>().headers['x-api-key'];
    const given = typeof header === 'string' ? digest(header) : undefined;
    if (!given || !timingSafeEqual(given, this.expected)) throw new HttpException(HTTP_REJECTIONS[401], 401);
    return true;
  }
}
