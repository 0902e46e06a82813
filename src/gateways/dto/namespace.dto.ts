import { IsInt, IsObject, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { IDENTIFIER_PATTERN } from '../../protocol/events.js';
import { type SinceDto, SinceField } from './since.dto.js';
import { MaxJsonBytes, NoControlChars } from './text.validators.js';

/** Largest `activity.report` metadata, serialised as JSON. */
export const ACTIVITY_METADATA_MAX_BYTES = 1024;

const identifierMessage = (field: string) => `${field} must match ${IDENTIFIER_PATTERN.source}`;

export class NotificationsSubscribeDto {
  @IsOptional()
  @IsString()
  @Length(1, 256)
  userId?: string;

  /** docs/protocol.md §10 */
  @SinceField()
  since?: SinceDto;
}

export class ProjectIdDto {
  @IsString()
  @Matches(IDENTIFIER_PATTERN, { message: identifierMessage('projectId') })
  projectId!: string;
}

/** `project.subscribe`: the id and, to recover what was missed, `since` (docs/protocol.md §10). */
export class ProjectSubscribeDto extends ProjectIdDto {
  @SinceField()
  since?: SinceDto;
}

export class RoomIdDto {
  @IsString()
  @Matches(IDENTIFIER_PATTERN, { message: identifierMessage('roomId') })
  roomId!: string;
}

/** Room broadcast: `data` is an object of at most 16 KiB (docs/protocol.md §5). */
export class RoomBroadcastDto extends RoomIdDto {
  @IsObject()
  @MaxJsonBytes(16 * 1024)
  data!: Record<string, unknown>;
}

export class CommodityIdDto {
  @IsInt()
  @Min(1)
  @Max(2147483647)
  commodityId!: number;
}

export class CommodityMessageDto extends CommodityIdDto {
  @IsString()
  @Length(1, 2000)
  @NoControlChars()
  text!: string;
}

export class ActivityReportDto {
  @IsString()
  @Matches(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'type must match ^[A-Za-z0-9_.:-]{1,64}$' })
  type!: string;

  @IsOptional()
  @IsString()
  @Length(1, 256)
  @NoControlChars()
  target?: string;

  /** At most 1 KiB as JSON (docs/protocol.md §11), so one flush stays small for the admins. */
  @IsOptional()
  @IsObject()
  @MaxJsonBytes(ACTIVITY_METADATA_MAX_BYTES)
  metadata?: Record<string, unknown>;
}
