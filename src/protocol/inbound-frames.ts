import type { ArgumentsHost } from '@nestjs/common';
import type { InboundFrame, ParsedFrame } from './frame.js';

/**
 * The frame each payload came in, keyed by the payload object itself: parseFrame makes a
 * fresh `data` object per frame, and it is the message body Nest hands to guards, pipes
 * and the exception filter. Entries go with the payload (weak keys), so nothing to clean.
 */
const FRAMES = new WeakMap<object, InboundFrame>();

/** Called by the dispatcher before the handler runs. */
export function rememberFrame(frame: ParsedFrame): void {
  FRAMES.set(frame.data, frame);
}

/** The inbound frame a ws handler context is handling (its event, id and raw size), if any. */
export function inboundFrameOf(host: ArgumentsHost): InboundFrame | undefined {
  const data: unknown = host.switchToWs().getData();
  return typeof data === 'object' && data !== null ? FRAMES.get(data) : undefined;
}
