import type { RawData } from 'ws';
import type { Connection } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import type { WsExceptionFilter } from '../filters/ws-exception.filter.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { parseFrame, type InboundFrame } from '../protocol/frame.js';
import type { RealtimeMetrics } from '../observability/realtime-metrics.js';

/** Label for inbound frames that never reached a handler. */
const UNROUTED = 'unknown';

interface Reply {
  readonly event: string;
  readonly data?: unknown;
}

function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && typeof (value as Reply).event === 'string';
}

function byteLength(raw: RawData): number {
  if (Array.isArray(raw)) return raw.reduce((sum, part) => sum + part.length, 0);
  return raw instanceof ArrayBuffer ? raw.byteLength : raw.length;
}

/**
 * Routes each inbound frame: parse, look up the handler, run it, send its reply with the
 * frame's `id`. Nothing is dropped silently (finding 14): every failure goes to the
 * exception filter, which answers with the standard envelope.
 */
export class FrameDispatcher {
  constructor(
    private readonly filter: WsExceptionFilter,
    private readonly metrics: RealtimeMetrics,
  ) {}

  dispatch(socket: Connection, raw: RawData, isBinary: boolean): void {
    const session = socket;
    if (session.closed) return;
    const namespace = session.namespace.name;
    if (isBinary) {
      this.metrics.framesIn.inc({ namespace, event: UNROUTED });
      this.filter.report(socket, new RealtimeException(ErrorCode.INVALID_MESSAGE, { message: 'Binary frames are not accepted' }));
      return;
    }
    const text = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    const parsed = parseFrame(text, byteLength(raw));
    if (!parsed.ok) {
      this.metrics.framesIn.inc({ namespace, event: UNROUTED });
      this.filter.report(socket, new RealtimeException(parsed.code, { message: parsed.message }), { event: parsed.event, id: parsed.id });
      return;
    }
    const frame = parsed.frame;
    // A handful of events per gateway: a scan costs no more than a Map and allocates nothing.
    const handler = session.handlerFor(frame.event);
    if (!handler) {
      this.metrics.framesIn.inc({ namespace, event: UNROUTED });
      // Pending connections learn nothing about which events exist (§4: all but auth/ping → UNAUTHORIZED).
      const error =
        session.state === 'pending'
          ? new RealtimeException(ErrorCode.UNAUTHORIZED, { invalidFrame: true })
          : new RealtimeException(ErrorCode.UNKNOWN_EVENT, { message: `Unknown event on /ws/${namespace}` });
      this.filter.report(socket, error, frame);
      return;
    }
    // Routed events come from the handler table, so the tallies stay bounded.
    const tally = this.metrics.frameTally(namespace, frame.event);
    tally.framesIn += 1;
    const started = performance.now();
    let result: unknown;
    try {
      result = handler(frame.data, frame);
    } catch (err) {
      this.filter.report(socket, err, frame);
      tally.duration.observe((performance.now() - started) / 1000);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        this.reply(socket, value, frame);
        tally.duration.observe((performance.now() - started) / 1000);
      },
      (err: unknown) => {
        this.filter.report(socket, err, frame);
        tally.duration.observe((performance.now() - started) / 1000);
      },
    );
  }

  private reply(socket: Connection, value: unknown, frame: InboundFrame): void {
    if (!isReply(value) || socket.closed) return;
    const message = frame.id === undefined ? { event: value.event, data: value.data ?? {} } : { event: value.event, data: value.data ?? {}, id: frame.id };
    if (socket.send(JSON.stringify(message))) this.metrics.frameTally(socket.namespace.name, value.event).framesOut += 1;
  }
}
