import { IsString, Matches } from 'class-validator';
import { IDENTIFIER_PATTERN } from '../../protocol/events.js';

export class TrackingIdDto {
  @IsString()
  @Matches(IDENTIFIER_PATTERN, { message: `trackingId must match ${IDENTIFIER_PATTERN.source}` })
  trackingId!: string;
}
