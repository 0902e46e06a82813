import { Body, Controller, HttpCode, Inject, Post, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { HttpErrorFilter } from '../filters/http-error.filter.js';
import { ApiKeyGuard } from '../guards/api-key.guard.js';
import { HttpValidationPipe } from '../pipes/http-validation.pipe.js';
import { PublishRejected, RealtimePublisher } from '../publishing/realtime-publisher.js';
import { DisconnectDto, MAX_PUBLISH_DATA_BYTES, PublishDto, RevokeDto } from './dto/publish.dto.js';

const ACCEPTED = { accepted: true } as const;

/** Target fields each namespace takes (docs/protocol.md §8); any other present field is a 400. */
const ALLOWED_FIELDS: Readonly<Record<PublishDto['namespace'], readonly (keyof PublishDto)[]>> = {
  tracking: ['topic'],
  projects: ['topic'],
  notifications: ['userIds'],
  mololink: ['userIds', 'roles', 'all', 'event'],
  main: [],
  collaboration: [],
  commodity: [],
  activity: [],
};
const TARGET_FIELDS: readonly (keyof PublishDto)[] = ['topic', 'userIds', 'roles', 'all', 'event'];

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
    for (const field of TARGET_FIELDS) {
      if (body[field] !== undefined && !ALLOWED_FIELDS[body.namespace].includes(field)) {
        throw new PublishRejected(field, 'forbidden', `${field} is not allowed for namespace ${body.namespace}`);
      }
    }
    switch (body.namespace) {
      case 'tracking':
        await this.publisher.trackingUpdate(requireTopic(body), data);
        break;
      case 'projects':
        await this.publisher.projectUpdate(requireTopic(body), data);
        break;
      case 'notifications':
        await this.publisher.notify(body.userIds ?? [], data);
        break;
      case 'mololink':
        await this.publisher.mololink(body, body.event ?? '', data);
        break;
      case 'main':
        await this.publisher.announce(data);
        break;
      default:
        throw new PublishRejected('namespace', 'isIn', `namespace ${body.namespace} has no server-side publish`);
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
    await this.publisher.revoke(body);
    return ACCEPTED;
  }
}

function requireTopic(body: PublishDto): string {
  if (body.topic === undefined) throw new PublishRejected('topic', 'isDefined', `topic is required for namespace ${body.namespace}`);
  return body.topic;
}
