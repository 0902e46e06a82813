import { Body, Controller, HttpCode, HttpException, Inject, Post, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { HttpErrorFilter } from '../filters/http-error.filter.js';
import { ApiKeyGuard } from '../guards/api-key.guard.js';
import { HttpValidationPipe } from '../pipes/http-validation.pipe.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { DisconnectDto, MAX_PUBLISH_DATA_BYTES, PublishDto, RevokeDto } from './dto/publish.dto.js';

const ACCEPTED = { accepted: true } as const;

function invalid(field: string, constraint: string, message: string): HttpException {
  return new HttpException({ code: ErrorCode.VALIDATION_FAILED, message, details: [{ field, constraints: [constraint] }] }, 400);
}

function forbidFields(body: PublishDto, fields: readonly (keyof PublishDto)[]): void {
  for (const field of fields) {
    if (body[field] !== undefined) throw invalid(field, 'forbidden', `${field} is not allowed for namespace ${body.namespace}`);
  }
}

/** Server-side publishing over HTTP (PROTOCOL.md §8), behind `X-Api-Key`. */
@Controller('realtime')
@UseGuards(ApiKeyGuard)
@UseFilters(HttpErrorFilter)
@UsePipes(HttpValidationPipe)
export class RealtimeApiController {
  constructor(@Inject(RealtimePublisher) private readonly publisher: RealtimePublisher) {}

  @Post('publish')
  @HttpCode(202)
  async publish(@Body() body: PublishDto): Promise<typeof ACCEPTED> {
    const data = body.data ?? {};
    if (Buffer.byteLength(JSON.stringify(data)) > MAX_PUBLISH_DATA_BYTES) {
      throw invalid('data', 'maxSize', `data must be at most ${MAX_PUBLISH_DATA_BYTES} bytes`);
    }
    switch (body.namespace) {
      case 'tracking':
        forbidFields(body, ['userIds', 'roles', 'all', 'event']);
        if (body.topic === undefined) throw invalid('topic', 'isDefined', 'topic is required for namespace tracking');
        await this.publisher.trackingUpdate(body.topic, data);
        break;
      case 'main':
        forbidFields(body, ['topic', 'userIds', 'roles', 'all', 'event']);
        await this.publisher.announce(data);
        break;
      default:
        throw invalid('namespace', 'isIn', `publishing to ${body.namespace} is not supported`);
    }
    return ACCEPTED;
  }

  @Post('disconnect')
  @HttpCode(202)
  async disconnect(@Body() body: DisconnectDto): Promise<typeof ACCEPTED> {
    await this.publisher.disconnectUser(body.userId);
    return ACCEPTED;
  }

  @Post('revoke')
  @HttpCode(202)
  async revoke(@Body() body: RevokeDto): Promise<typeof ACCEPTED> {
    if (body.jti === undefined && body.userId === undefined) {
      throw invalid('jti', 'isDefined', 'jti or userId is required');
    }
    await this.publisher.revoke({ jti: body.jti, userId: body.userId });
    return ACCEPTED;
  }
}
