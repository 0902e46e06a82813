import { Body, Controller, HttpCode, Inject, Post, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { HttpErrorFilter } from '../filters/http-error.filter.js';
import { ApiKeyGuard } from '../guards/api-key.guard.js';
import { HttpValidationPipe } from '../pipes/http-validation.pipe.js';
import { PublishRejected, RealtimePublisher } from '../publishing/realtime-publisher.js';
import { DisconnectDto, MAX_PUBLISH_DATA_BYTES, PublishDto, RevokeDto } from './dto/publish.dto.js';

const ACCEPTED = { accepted: true } as const;

/** Server-side publishing over HTTP (docs/protocol.md §8), behind `X-Api-Key`. */
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
      throw new PublishRejected('data', 'maxSize', `data must be at most ${MAX_PUBLISH_DATA_BYTES} bytes`);
    }
    // Which target fields each namespace takes follows from its descriptor's publish rule.
    await this.publisher.publish(body.namespace, { ...body, data });
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
    await this.publisher.revoke(body);
    return ACCEPTED;
  }
}
