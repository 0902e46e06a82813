import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { SecretMatcher } from '../common/secret-matcher.js';
import type { RealtimeLogger } from '../logging/realtime-logger.js';
import { httpErrorAnswer, NOT_JSON } from '../filters/http-error.filter.js';
import { HTTP_REJECTIONS } from '../protocol/error-codes.js';
import type { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { MAX_PUBLISH_BODY_BYTES } from './dto/publish.dto.js';
import { PublishBodyPipe } from './publish-body.pipe.js';

const PATH = '/realtime/publish';
const JSON_TYPE = /^application\/json\s*(?:;\s*charset="?utf-8"?\s*)?$/i;
const ACCEPTED = Buffer.from('{"accepted":true}');

export interface PublishFastPathDeps {
  readonly apiKey: string;
  readonly publisher: RealtimePublisher;
  readonly logger: RealtimeLogger;
}

/**
 * `POST /realtime/publish` served from the HTTP server's `request` event, ahead of Express
 * and Nest's router, in the standalone server (bootstrapRealtimeApp) only: a host app's
 * platform, middleware and interceptors are its own and see every request as before.
 *
 * Why: with small topics the route's cost is the publish (profile of `topics-10k-http`:
 * Express's router, body-parser and Nest's execution context were most of the server CPU of
 * a 2-recipient publish). The same parts decide here as on the Nest route — the body pipe
 * (PublishBodyPipe), the publisher, the error mapping (httpErrorAnswer), the key compared in
 * constant time — in the body parser's order (size, JSON, then key). Only the plain shape is
 * taken: POST, the exact path, `Content-Type: application/json` (UTF-8), a Content-Length and
 * no Content-Encoding; anything else (a query string, chunked, gzip, another charset) goes
 * to the Nest route unchanged.
 */
export function servePublishFastPath(server: Server, deps: PublishFastPathDeps): void {
  const key = new SecretMatcher(deps.apiKey);
  const pipe = new PublishBodyPipe();
  const routed = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', function (this: Server, req: IncomingMessage, res: ServerResponse) {
    if (req.method === 'POST' && req.url === PATH && takes(req)) return void serve(req, res);
    for (const listener of routed) listener.call(this, req, res);
  });

  function serve(req: IncomingMessage, res: ServerResponse): void {
    req.on('error', () => res.destroy());
    const length = Number(req.headers['content-length']);
    if (length > MAX_PUBLISH_BODY_BYTES) {
      // Read off the body before answering, as Express's body parser does: a server that
      // answers and closes mid-upload leaves the client with EPIPE instead of the 413.
      // Memory stays flat (nothing is kept) and the server's request timeout bounds the time.
      req.resume();
      req.on('end', () => answer(res, 413, HTTP_REJECTIONS[413]));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= length) chunks.push(chunk);
    });
    req.on('end', () => {
      if (received !== length) return answer(res, 400, NOT_JSON);
      const body = parse(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
      if (body === NOT_PARSED) return answer(res, 400, NOT_JSON);
      const header = req.headers['x-api-key'];
      if (!key.matches(typeof header === 'string' ? header : undefined)) return answer(res, 401, HTTP_REJECTIONS[401]);
      publish(body).then(
        (count) => (count === undefined ? answer(res, 202, ACCEPTED) : answer(res, 202, { accepted: true, count })),
        (error: unknown) => {
          const { status, body: errorBody } = httpErrorAnswer(error, deps.logger);
          answer(res, status, errorBody);
        },
      );
    });
  }

  /** The controller's work: one publish, or a batch (its size answered). */
  async function publish(body: unknown): Promise<number | undefined> {
    const publishes = pipe.transform(body);
    if (!publishes.batch) {
      await deps.publisher.publish(publishes.item.namespace, publishes.item);
      return undefined;
    }
    await deps.publisher.publishBatch(publishes.items);
    return publishes.items.length;
  }
}

/** The plain shape of a publish; anything else is left to the Nest route. */
function takes(req: IncomingMessage): boolean {
  const { headers } = req;
  const type = headers['content-type'];
  const encoding = headers['content-encoding'];
  return (
    type !== undefined &&
    JSON_TYPE.test(type) &&
    headers['content-length'] !== undefined &&
    /^\d+$/.test(headers['content-length']) &&
    headers['transfer-encoding'] === undefined &&
    (encoding === undefined || encoding.toLowerCase() === 'identity')
  );
}

const NOT_PARSED = Symbol('not parsed');

/** As Express's JSON parser (strict): an empty body is `{}`, otherwise an object or array. */
function parse(bytes: Buffer): unknown {
  if (bytes.length === 0) return {};
  const text = bytes.toString('utf8');
  const first = /^[\x20\x09\x0a\x0d]*(.)/.exec(text)?.[1];
  if (first !== '{' && first !== '[') return NOT_PARSED;
  try {
    return JSON.parse(text);
  } catch {
    return NOT_PARSED;
  }
}

function answer(res: ServerResponse, status: number, body: object | Buffer): void {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length }).end(bytes);
}
