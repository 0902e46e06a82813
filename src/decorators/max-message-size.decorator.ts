import { SetMetadata } from '@nestjs/common';

export const MAX_MESSAGE_SIZE_KEY = 'realtime:max-message-size';

/**
 * Per-event frame cap in bytes of the raw frame, checked before validation (finding 10).
 * Frames over it get PAYLOAD_TOO_LARGE; the global WS_MAX_PAYLOAD_BYTES still closes 1009.
 */
export const MaxMessageSize = (bytes: number): MethodDecorator & ClassDecorator =>
  SetMetadata(MAX_MESSAGE_SIZE_KEY, bytes);
