import { Body, Controller, HttpCode, Inject, Post, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { HttpErrorFilter } from '../filters/http-error.filter.js';
import { ApiKeyGuard } from '../guards/api-key.guard.js';
import { HttpValidationPipe } from '../pipes/http-validation.pipe.js';
import { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { DisconnectDto, RevokeDto } from './dto/publish.dto.js';
import { type PublishBody, PublishBodyPipe } from './publish-body.pipe.js';

const ACCEPTED = { accepted: true } as const;

/** Server-side publishing over HTTP (docs/protocol.md §8), behind `X-Api-Key`. */
@Controller('realtime')
@UseGuards(ApiKeyGuard)
@UseFilters(HttpErrorFilter)
@UsePipes(HttpValidationPipe)
export class RealtimeApiController {
  constructor(@Inject(RealtimePublisher) private readonly publisher: RealtimePublisher) {}

  /** One publish object, or a batch of them (an array): validated as a whole, delivered in order. */
  @Post('publish')
  @HttpCode(202)
  async publish(@Body(PublishBodyPipe) body: PublishBody): Promise<typeof ACCEPTED | { accepted: true; count: number }> {
    // Which target fields each namespace takes follows from its descriptor's publish rule.
    if (!body.batch) {
      await this.publisher.publish(body.item.namespace, body.item);
      return ACCEPTED;
    }
    await this.publisher.publishBatch(body.items);
    return { accepted: true, count: body.items.length };
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
