import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { MAX_TOKEN_LENGTH } from '../../protocol/events.js';

/** `auth` and `auth.refresh` payload. */
export class TokenDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_TOKEN_LENGTH)
  token!: string;
}

/** Events whose `data` must be `{}`: any field is rejected as unknown. */
export class EmptyDto {}
