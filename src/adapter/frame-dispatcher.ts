import type { RawData } from 'ws';
import { isObservable, type Observable } from 'rxjs';
import type { Connection } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import type { WsExceptionFilter } from '../filters/ws-exception.filter.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { parseFrame, type InboundFrame } from '../protocol/frame.js';
import { rememberFrame } from '../protocol/inbound-frames.js';
import type { FrameTally } from '../observability/frame-tally.js';
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

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function byteLength(raw: RawData): number {
  if (Array.isArray(raw)) return raw.reduce((sum, part) => sum + part.length, 0);
  return raw instanceof ArrayBuffer ? raw.byteLength : raw.length;
}

/**
 * Routes each inbound frame: parse, look up the handler, run it, send its reply with the
 * frame's `id`. A handler may answer as Nest allows: a value, a Promise, or an Observable
 * (each value it emits is a reply). Nothing is dropped silently (finding 14): every
 * failure goes to the exception filter, which answers with the standard envelope.
 */
export class FrameDispatcher {
  constructor(
    private readonly filter: WsExceptionFilter,
    private readonly metrics: RealtimeMetrics,
  ) {}

  dispatch(connection: Connection, raw: RawData, isBinary: boolean): void {
    if (connection.closed) return;
    const namespace = connection.namespace.name;
    if (isBinary) {
      this.metrics.framesIn.inc({ namespace, event: UNROUTED });
      this.filter.report(connection, new RealtimeException(ErrorCode.INVALID_MESSAGE, { message: 'Binary frames are not accepted' }));
      return;
    }
    const text = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    const parsed = parseFrame(text, byteLength(raw));
    if (!parsed.ok) {
      this.metrics.framesIn.inc({ namespace, event: UNROUTED });
      this.filter.report(connection, new RealtimeException(parsed.code, { message: parsed.message }), { event: parsed.event, id: parsed.id });
      return;
    }
    const frame = parsed.frame;
    const handler = connection.handlerFor(frame.event);
    if (!handler) {
      this.metrics.framesIn.inc({ namespace, event: UNROUTED });
      // Pending connections learn nothing about which events exist (§4: all but auth/ping → UNAUTHORIZED).
      const error =
        connection.state === 'pending'
          ? new RealtimeException(ErrorCode.UNAUTHORIZED, { invalidFrame: true })
          : new RealtimeException(ErrorCode.UNKNOWN_EVENT, { message: `Unknown event on /ws/${namespace}` });
      this.filter.report(connection, error, frame);
      return;
    }
    // Routed events come from the handler table, so the tallies stay bounded.
    const tally = this.metrics.frameTally(namespace, frame.event);
    tally.framesIn += 1;
    const started = performance.now();
    rememberFrame(frame);
    let result: unknown;
    try {
      result = handler(frame.data);
    } catch (err) {
      this.filter.report(connection, err, frame);
      tally.duration.observe((performance.now() - started) / 1000);
      return;
    }
    if (!isThenable(result)) {
      this.answer(connection, result, frame, tally, started);
      return;
    }
    result.then(
      (value) => this.answer(connection, value, frame, tally, started),
      (err: unknown) => {
        this.filter.report(connection, err, frame);
        tally.duration.observe((performance.now() - started) / 1000);
      },
    );
  }

  /** A value is one reply; an Observable, one per value (Nest's proxy already routes its errors to the filter). */
  private answer(connection: Connection, value: unknown, frame: InboundFrame, tally: FrameTally, started: number): void {
    if (!isObservable(value)) {
      this.reply(connection, value, frame);
      tally.duration.observe((performance.now() - started) / 1000);
      return;
    }
    const done = (): void => tally.duration.observe((performance.now() - started) / 1000);
    (value as Observable<unknown>).subscribe({
      next: (item) => this.reply(connection, item, frame),
      error: (err: unknown) => {
        this.filter.report(connection, err, frame);
        done();
      },
      complete: done,
    });
  }

  private reply(connection: Connection, value: unknown, frame: InboundFrame): void {
    if (!isReply(value) || connection.closed) return;
    const message = frame.id === undefined ? { event: value.event, data: value.data ?? {} } : { event: value.event, data: value.data ?? {}, id: frame.id };
    if (connection.send(JSON.stringify(message))) this.metrics.frameTally(connection.namespace.name, value.event).framesOut += 1;
  }
}
