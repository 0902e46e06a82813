import { Type } from 'class-transformer';
import { IsInt, IsObject, IsOptional, IsString, Length, Max, Min, ValidateNested } from 'class-validator';

/** A client's last known position in a recoverable stream (docs/protocol.md §10). */
export class SinceDto {
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  offset!: number;

  @IsString()
  @Length(1, 64)
  epoch!: string;
}

/**
 * The optional `since` field of the recoverable subscribes: an object with exactly `offset`
 * and `epoch`; anything else → VALIDATION_FAILED (the pipe forbids unknown nested fields too).
 */
export function SinceField(): PropertyDecorator {
  return (target, key) => {
    for (const decorate of [IsOptional(), IsObject(), ValidateNested(), Type(() => SinceDto)]) decorate(target, key);
  };
}
