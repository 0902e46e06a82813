/**
 * Helpers shared by the namespace e2e suites (test/e2e/namespaces-*.e2e-spec.ts).
 * Pure test-side code: nothing here imports Nest or src/.
 */
import type WebSocket from 'ws';
import { Client, eventually, type Frame, type ServerHandle, sleep, token } from './harness.js';

/** A valid `REALTIME_API_KEY` (≥ 32 characters) for the HTTP API of §8. */
export const API_KEY = 'namespaces-e2e-api-key-0123456789abcdef';

/** Client options carrying `Authorization: Bearer <token(claims)>`. */
export const bearer = (claims: Record<string, unknown> = {}): WebSocket.ClientOptions => ({
  headers: { authorization: `Bearer ${token(claims)}` },
});

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** Asserts `value` is an ISO 8601 UTC timestamp string (docs/protocol.md §3). */
export function expectIsoTimestamp(value: unknown): void {
  expect(typeof value).toBe('string');
  expect(value as string).toMatch(ISO_UTC);
  expect(Number.isNaN(Date.parse(value as string))).toBe(false);
}

/**
 * Asserts `frame` is the standard error envelope of §3 with `code`, answering `request`
 * (and echoing the frame id, which `Client.call` already matched on).
 */
export function expectError(frame: Frame, code: string, request?: string): void {
  expect(frame).toMatchObject({ event: 'error', type: 'error', code });
  expect(typeof frame.message).toBe('string');
  expectIsoTimestamp(frame.timestamp);
  if (request !== undefined) expect(frame.request).toBe(request);
  if (code === 'UNAUTHORIZED') expect(frame.message).toBe('Unauthorized');
  if (code === 'VALIDATION_FAILED') {
    expect(Array.isArray(frame.details)).toBe(true);
    expect((frame.details as unknown[]).length).toBeGreaterThan(0);
  } else {
    expect(frame.details).toBeUndefined();
  }
}

/** Frames received so far that match a predicate (without consuming them). */
export const framesWhere = (client: Client, test: (f: Frame) => boolean): Frame[] => client.frames.filter(test);

/**
 * Sends `event` with `data` (no reply expected on success), then proves the server has processed
 * it by a `ping` round trip on the same connection (frames are handled in order).
 */
export async function sendAndSettle(client: Client, event: string, data: Record<string, unknown>, id?: string): Promise<void> {
  client.send({ event, data, ...(id !== undefined ? { id } : {}) });
  expect((await client.call('ping', {})).event).toBe('pong');
}

/** Waits `ms` and returns what arrived that matches; for "nothing must arrive" assertions. */
export async function framesAfter(client: Client, test: (f: Frame) => boolean, ms: number): Promise<Frame[]> {
  await sleep(ms);
  return framesWhere(client, test);
}

/** Tracks clients a test opens so `afterEach` can close them and wait for the server to forget them. */
export class ClientPool {
  private readonly clients: Client[] = [];

  constructor(private readonly server: () => ServerHandle) {}

  async open(path: string, claims?: Record<string, unknown>, options: WebSocket.ClientOptions = {}): Promise<Client> {
    const client = await Client.open(this.server().ws(path), claims === undefined ? options : { ...options, ...bearer(claims) });
    this.clients.push(client);
    return client;
  }

  /** Opens `n` clients, `batch` at a time, with the claims `claimsOf(i)` (undefined: no credentials). */
  async openMany(n: number, path: string, claimsOf: (i: number) => Record<string, unknown> | undefined, batch = 50): Promise<Client[]> {
    const out: Client[] = [];
    for (let start = 0; start < n; start += batch) {
      const slice = Array.from({ length: Math.min(batch, n - start) }, (_, k) => this.open(path, claimsOf(start + k)));
      out.push(...(await Promise.all(slice)));
    }
    return out;
  }

  /** Closes every client still open, then waits until the server has no connection left. */
  async closeAll(): Promise<void> {
    for (const c of this.clients.splice(0)) if (c.socket.readyState <= 1) c.socket.terminate();
    const server = this.server();
    if (server.child.exitCode !== null || server.child.signalCode !== null) return;
    await eventually(async () => (await server.stats()).connections.connections === 0, 5000);
  }
}

/** A `Client.call` that also asserts the reply carries the frame id. */
export async function reply(client: Client, event: string, data?: Record<string, unknown>): Promise<Frame> {
  const id = `r${Math.random().toString(36).slice(2, 10)}`;
  const frame = await client.call(event, data, id);
  expect(frame.id).toBe(id);
  return frame;
}

/**
 * Waits until a frame matching `test` has been received at any time on `client` (unlike
 * `Client.next`, it also sees frames an earlier `next()` skipped), and returns the first one.
 */
export async function seen(client: Client, test: string | ((f: Frame) => boolean), timeoutMs = 5000): Promise<Frame> {
  const match = typeof test === 'string' ? (f: Frame) => f.event === test : test;
  try {
    await eventually(() => client.frames.some(match), timeoutMs, 10);
  } catch {
    throw new Error(`no matching frame within ${timeoutMs} ms; frames: ${JSON.stringify(client.frames).slice(0, 4000)}`);
  }
  return client.frames.find(match)!;
}

/** Resolves like `promise`, or rejects with `message` after `ms` (the timer never outlives it). */
export async function within<T>(promise: Promise<T>, ms: number, message = `not settled within ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
