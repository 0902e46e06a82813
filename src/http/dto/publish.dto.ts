import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsObject, IsOptional, IsString, Length, Matches, ValidateBy } from 'class-validator';
import { IDENTIFIER_PATTERN } from '../../protocol/events.js';
import { knownNamespaces, namespaceByName } from '../../protocol/namespaces.js';

export const MAX_PUBLISH_DATA_BYTES = 64 * 1024;
/** The largest `POST /realtime/publish` body, a batch included (a host app sets its own JSON body limit to this). */
export const MAX_PUBLISH_BODY_BYTES = 1024 * 1024;

/** One of the namespaces served (the contract's, and any a host application added); reported as `isIn`. */
const IsKnownNamespace = (): PropertyDecorator =>
  ValidateBy({
    name: 'isIn',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && namespaceByName(value) !== undefined,
      defaultMessage: () => `namespace must be one of the following values: ${[...knownNamespaces()].map((ns) => ns.name).join(', ')}`,
    },
  });

/** `POST /realtime/publish` body (docs/protocol.md §8); per-namespace rules are checked after. */
export class PublishDto {
  @IsKnownNamespace()
  namespace!: string;

  @IsOptional()
  @IsString()
  @Matches(IDENTIFIER_PATTERN, { message: `topic must match ${IDENTIFIER_PATTERN.source}` })
  topic?: string;

  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @Length(1, 256, { each: true })
  userIds?: string[];

  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Length(1, 128, { each: true })
  roles?: string[];

  @IsOptional()
  @IsBoolean()
  all?: boolean;

  @IsOptional()
  @IsString()
  @Length(1, 128)
  event?: string;

  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

export class DisconnectDto {
  @IsString()
  @Length(1, 256)
  userId!: string;
}

export class RevokeDto {
  @IsOptional()
  @IsString()
  @Length(1, 256)
  jti?: string;

  @IsOptional()
  @IsString()
  @Length(1, 256)
  userId?: string;
}
