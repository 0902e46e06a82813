/**
 * Helpers shared by the pipeline e2e suites (handshake, jwt, frames, session, liveness,
 * cleanup, http-api, shutdown). Pure test-side code: nothing here imports Nest or src/.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type WebSocket from 'ws';
import { Client, eventually, type Frame, type ServerHandle, token, type TokenOptions } from './harness.js';

/** The exact HTTP rejection bodies of docs/protocol.md §2 (finding 19). */
export const BODY = {
  401: '{"code":"UNAUTHORIZED","message":"Unauthorized"}',
  403: '{"code":"FORBIDDEN","message":"Forbidden"}',
  404: '{"code":"NOT_FOUND","message":"Not Found"}',
  429: '{"code":"RATE_LIMITED","message":"Too Many Requests"}',
  503: '{"code":"UNAVAILABLE","message":"Service Unavailable"}',
} as const;

/** Client options carrying `Authorization: Bearer <jwt>`. */
export const bearer = (jwt: string, extra: WebSocket.ClientOptions = {}): WebSocket.ClientOptions => ({
  ...extra,
  headers: { ...(extra.headers ?? {}), authorization: `Bearer ${jwt}` },
});

/** Client options for a fresh valid HS256 token with `claims`. */
export const as = (claims: Record<string, unknown> = {}, options: TokenOptions = {}): WebSocket.ClientOptions =>
  bearer(token(claims, options));

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** Asserts an ISO 8601 UTC timestamp string (§3). */
export function expectIso(value: unknown): void {
  expect(typeof value).toBe('string');
  expect(value as string).toMatch(ISO_UTC);
  expect(Number.isNaN(Date.parse(value as string))).toBe(false);
}

/** Nothing in a client-facing message may look like a stack trace, a file path or a JWT. */
export function expectNoInternals(message: unknown): void {
  expect(typeof message).toBe('string');
  expect(message as string).not.toMatch(/\n\s+at |\.(ts|js):\d+|node_modules|eyJ[A-Za-z0-9_-]{5,}/);
}

/**
 * Asserts the standard error envelope of §3 (finding 15): the always-present keys, optional
 * `id`/`request`, `details` only for VALIDATION_FAILED, `retryAfterMs` only for RATE_LIMITED.
 */
export function expectError(frame: Frame, code: string, ref: { id?: string | number; request?: string } = {}): void {
  expect(frame.event).toBe('error');
  expect(frame.type).toBe('error');
  expect(frame.code).toBe(code);
  expectNoInternals(frame.message);
  expectIso(frame.timestamp);
  if ('id' in ref) expect(frame.id).toBe(ref.id);
  if ('request' in ref) expect(frame.request).toBe(ref.request);
  if (code === 'UNAUTHORIZED') expect(frame.message).toBe('Unauthorized');
  if (code === 'VALIDATION_FAILED') {
    expect(Array.isArray(frame.details)).toBe(true);
    expect((frame.details as unknown[]).length).toBeGreaterThan(0);
  } else {
    expect(frame).not.toHaveProperty('details');
  }
  if (code === 'RATE_LIMITED') {
    expect(typeof frame.retryAfterMs).toBe('number');
    expect(frame.retryAfterMs as number).toBeGreaterThan(0);
  } else {
    expect(frame).not.toHaveProperty('retryAfterMs');
  }
  const allowed = new Set(['event', 'type', 'code', 'message', 'timestamp', 'id', 'request', 'details', 'retryAfterMs']);
  for (const key of Object.keys(frame)) expect(allowed.has(key) ? key : `unexpected key ${key}`).toBe(key);
}

/** Proves the connection is open and answering: a `ping` round trip. */
export async function expectAlive(client: Client): Promise<void> {
  const pong = await client.call('ping', {});
  expect(pong.event).toBe('pong');
}

/** Tracks the clients a suite opens on one server, so they can be closed between tests. */
export class ClientPool {
  private readonly clients: Client[] = [];

  constructor(private readonly server: () => ServerHandle) {}

  async open(path: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
    const client = await Client.open(this.server().ws(path), options);
    this.clients.push(client);
    return client;
  }

  /** Closes every client still open and waits until the server has forgotten all connections. */
  async drain(timeoutMs = 5000): Promise<void> {
    for (const client of this.clients.splice(0)) {
      if (client.socket.readyState === client.socket.OPEN) client.close();
      else if (client.socket.readyState === client.socket.CONNECTING) client.socket.terminate();
    }
    const server = this.server();
    if (server.child.exitCode !== null || server.child.signalCode !== null) return;
    await eventually(async () => {
      const stats = await server.stats();
      return stats.connections.connections === 0 && stats.limiter.users === 0 && stats.limiter.anonymousIps === 0;
    }, timeoutMs);
  }
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** A JWT with any header, signed with HMAC-SHA256 over `key` (or unsigned when `key` is null). */
export function craftJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: string | Buffer | null): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  if (key === null) return `${input}.`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

export const nowSec = (): number => Math.floor(Date.now() / 1000);

export const uniq = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;

export interface RawUpgrade {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A hand-made HTTP upgrade request, so the test sees exactly what the server answered
 * (the `ws` client would itself reject some answers, e.g. a missing subprotocol).
 */
export function rawUpgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<RawUpgrade> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
