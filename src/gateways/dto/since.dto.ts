import { IsObject, IsOptional, registerDecorator } from 'class-validator';

/** A client's last known position in a recoverable stream (docs/protocol.md §10). */
export interface SinceDto {
  readonly offset: number;
  readonly epoch: string;
}

/** Exactly `{offset, epoch}`: offset an integer ≥ 0, epoch a 1–64 character string, nothing else. */
export function isSince(value: unknown): value is SinceDto {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { offset, epoch, ...rest } = value as Record<string, unknown>;
  return (
    Object.keys(rest).length === 0 &&
    Number.isSafeInteger(offset) && (offset as number) >= 0 &&
    typeof epoch === 'string' && epoch.length >= 1 && epoch.length <= 64
  );
}

/**
 * The optional `since` field of the recoverable subscribes; malformed (see `isSince`) →
 * VALIDATION_FAILED. A plain validator rather than a nested DTO: no class-transformer
 * metadata, and unknown fields inside it are refused by the same check.
 */
export function SinceField(): PropertyDecorator {
  return (target, propertyName) => {
    IsOptional()(target, propertyName);
    IsObject()(target, propertyName);
    registerDecorator({
      name: 'isSince',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `${String(propertyName)} must be {offset: integer >= 0, epoch: string of 1 to 64 characters} and nothing else` },
      validator: { validate: isSince },
    });
  };
}
