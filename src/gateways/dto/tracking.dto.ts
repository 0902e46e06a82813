import { IsString, Matches } from 'class-validator';
import { IDENTIFIER_PATTERN } from '../../protocol/events.js';
import { type SinceDto, SinceField } from './since.dto.js';

export class TrackingIdDto {
  @IsString()
  @Matches(IDENTIFIER_PATTERN, { message: `trackingId must match ${IDENTIFIER_PATTERN.source}` })
  trackingId!: string;
}

/** `tracking.subscribe`: the id and, to recover what was missed, `since` (docs/protocol.md §10). */
export class TrackingSubscribeDto extends TrackingIdDto {
  @SinceField()
  since?: SinceDto;
}
