import type { ArgumentsHost } from '@nestjs/common';
import type { InboundFrame, ParsedFrame } from './frame.js';

/**
 * The frame each payload came in, carried by the payload object itself under a private
 * symbol: parseFrame makes a fresh `data` object per frame, and it is the message body Nest
 * hands to guards, pipes and the exception filter. A symbol key is invisible to validation,
 * transformation and JSON; and unlike a WeakMap entry per frame it costs the garbage
 * collector nothing extra on the hot path.
 */
const FRAME = Symbol('realtime.inboundFrame');

interface FrameCarrier {
  [FRAME]?: InboundFrame;
}

/** Called by the dispatcher before the handler runs. */
export function rememberFrame(frame: ParsedFrame): void {
  (frame.data as FrameCarrier)[FRAME] = frame;
}

/** The inbound frame a ws handler context is handling (its event, id and raw size), if any. */
export function inboundFrameOf(host: ArgumentsHost): InboundFrame | undefined {
  const data: unknown = host.switchToWs().getData();
  return typeof data === 'object' && data !== null ? (data as FrameCarrier)[FRAME] : undefined;
}
