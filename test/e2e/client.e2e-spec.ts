/**
 * The client SDK (client/, docs/client.md) against the real server in a child process:
 * request/answer, a typed error for every code the server sends, subscriptions restored after
 * reconnects, the reconnect policy per close-code class, token refresh, backoff bounds.
 */
import { createServer } from 'node:net';
import WebSocket from 'ws';
import { type ClientEvents, RealtimeClient, type RealtimeClientOptions, RealtimeError } from '../../client/src/index.js';
import type { NamespacePath } from '../../client/src/protocol-types.js';
import { eventually, type ServerHandle, sleep, startServer, token } from '../support/harness.js';
import { nowSec, uniq } from '../support/e2e-helpers.js';

const REFRESH_WINDOW_MS = 2500;
const MAX_INVALID_FRAMES = 6;
const FAST = { initialDelayMs: 50, maxDelayMs: 200, minDelayMs: 20, rateLimitPauseMs: 100 };
const SERVER_OPTIONS = { refreshWindowMs: REFRESH_WINDOW_MS, maxInvalidFrames: MAX_INVALID_FRAMES, maxSubscriptions: 3 };

let server: ServerHandle;
const clients: Array<RealtimeClient<NamespacePath>> = [];

beforeAll(async () => {
  server = await startServer({ options: SERVER_OPTIONS, throwingTopic: 'BOOM' });
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await server?.stop();
});

function client<P extends NamespacePath>(path: P, options: Partial<RealtimeClientOptions<P>> = {}, target: () => ServerHandle = () => server): RealtimeClient<P> {
  const c = new RealtimeClient<P>({ url: `ws://127.0.0.1:${target().port}`, path, WebSocket, backoff: FAST, ...options });
  clients.push(c as unknown as RealtimeClient<NamespacePath>);
  return c;
}

/** Records every client event of `name`. */
function record<P extends NamespacePath, E extends keyof ClientEvents>(c: RealtimeClient<P>, name: E): Array<ClientEvents[E]> {
  const seen: Array<ClientEvents[E]> = [];
  (c.on as (event: string, handler: (data: ClientEvents[E]) => void) => () => void)(name, (data) => seen.push(data));
  return seen;
}

const bearerHeaders = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

async function rejection(promise: Promise<unknown>): Promise<RealtimeError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(RealtimeError);
    return err as RealtimeError;
  }
  throw new Error('expected a rejection');
}

/** The next `error` event of `c`. */
function nextError(c: RealtimeClient<NamespacePath>): Promise<RealtimeError> {
  return new Promise((resolve) => {
    const off = c.on('error', (error) => {
      off();
      resolve(error);
    });
  });
}

describe('requests and subscriptions', () => {
  test('request resolves with the answer data; pushes reach on() handlers until unsubscribe', async () => {
    const tracking = client('/ws/tracking');
    const session = await tracking.connect();
    expect(session).toMatchObject({ namespace: 'tracking', authenticated: false, userId: null });
    const pong = await tracking.request('ping');
    expect(typeof pong.timestamp).toBe('string');

    const trackingId = uniq('SHP');
    const updates: Array<Record<string, unknown>> = [];
    tracking.on('tracking.update', (update) => updates.push(update));
    const sub = await tracking.subscribe('tracking.subscribe', { trackingId });
    expect(sub.answer).toEqual({ trackingId, offset: 0, epoch: expect.any(String) });
    expect(tracking.subscriptionCount).toBe(1);
    await server.request({ cmd: 'trackingUpdate', trackingId, data: { status: 'at_hub' } });
    await eventually(() => updates.length === 1);
    expect(updates[0]).toEqual({ trackingId, status: 'at_hub' });

    await sub.unsubscribe();
    expect(tracking.subscriptionCount).toBe(0);
    await server.request({ cmd: 'trackingUpdate', trackingId, data: { status: 'late' } });
    await tracking.request('ping');
    await sleep(100);
    expect(updates).toHaveLength(1);
  });

  test('Node: credentials in the upgrade headers (ws); in-band auth from getToken where there are none', async () => {
    const byHeader = client('/ws/notifications', { headers: bearerHeaders(token({ sub: 'node-h' })) });
    expect(await byHeader.connect()).toMatchObject({ authenticated: true, userId: 'node-h' });
    const inBand = client('/ws/notifications', { getToken: () => token({ sub: 'node-b' }) });
    expect(await inBand.connect()).toMatchObject({ authenticated: true, userId: 'node-b' });
    const sub = await inBand.subscribe('notifications.subscribe');
    expect(sub.answer).toEqual({ userId: 'node-b', offset: 0, epoch: expect.any(String) });
    const got: Array<Record<string, unknown>> = [];
    inBand.on('notification', (n) => got.push(n));
    await server.request({ cmd: 'publish', method: 'notify', args: [['node-b'], { text: 'hi' }] });
    await eventually(() => got.length === 1);
    expect(got[0]).toEqual({ text: 'hi' });
  });
});

test('without an injected implementation: the global WebSocket (Node ≥ 22, browsers), or a clear CONNECT_FAILED (Node 20)', async () => {
  const global = new RealtimeClient({ url: `ws://127.0.0.1:${server.port}`, path: '/ws/main' });
  clients.push(global as unknown as RealtimeClient<NamespacePath>);
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function') {
    expect(await global.connect()).toMatchObject({ namespace: 'main' });
    expect(typeof (await global.request('ping')).timestamp).toBe('string');
  } else {
    const errors = record(global, 'error');
    const failed = await rejection(global.connect());
    expect(failed.code).toBe('CONNECT_FAILED');
    expect(failed.message).toMatch(/options\.WebSocket/);
    expect(errors.map((e) => e.code)).toEqual(['CONNECT_FAILED']);
    expect(global.state).toBe('closed');
  }
});

describe('typed errors', () => {
  test('every error code the server can send reaches the caller as a RealtimeError', async () => {
    const anon = client('/ws/tracking');
    await anon.connect();

    // Malformed frames have no request to reject: they come as `error` events (sendRaw, docs/client.md).
    let error = nextError(anon);
    expect(anon.sendRaw('{not json')).toBe(true);
    expect(await error).toMatchObject({ code: 'INVALID_JSON', fromServer: true });
    error = nextError(anon);
    anon.sendRaw(JSON.stringify({ event: 'ping', data: [] }));
    expect(await error).toMatchObject({ code: 'INVALID_MESSAGE' });

    const unknown = await rejection((anon.request as (event: string) => Promise<unknown>)('no.such.event'));
    expect(unknown).toMatchObject({ code: 'UNKNOWN_EVENT', request: 'no.such.event' });

    const invalid = await rejection(anon.request('tracking.subscribe', { trackingId: 'not valid!' }));
    expect(invalid.code).toBe('VALIDATION_FAILED');
    expect(invalid.request).toBe('tracking.subscribe');
    expect(invalid.details).toEqual([expect.objectContaining({ field: 'trackingId' })]);

    const tooLarge = await rejection(anon.request('tracking.subscribe', { trackingId: 'x'.repeat(5000) }));
    expect(tooLarge.code).toBe('PAYLOAD_TOO_LARGE');

    const internal = await rejection(anon.request('tracking.subscribe', { trackingId: 'BOOM' }));
    expect(internal).toMatchObject({ code: 'INTERNAL_ERROR', message: 'Internal error' });

    const user = client('/ws/notifications', { headers: bearerHeaders(token({ sub: 'err-user' })) });
    const unauthorized = await rejection(user.request('notifications.subscribe', { userId: 'someone-else' }));
    expect(unauthorized).toMatchObject({ code: 'UNAUTHORIZED', message: 'Unauthorized' });

    const tracker = client('/ws/tracking', { headers: bearerHeaders(token({ sub: 'err-limit' })) });
    for (let i = 0; i < SERVER_OPTIONS.maxSubscriptions; i += 1) await tracker.subscribe('tracking.subscribe', { trackingId: `LIM-${i}` });
    const limit = await rejection(tracker.subscribe('tracking.subscribe', { trackingId: 'LIM-over' }));
    expect(limit.code).toBe('LIMIT_EXCEEDED');
    expect(tracker.subscriptionCount).toBe(SERVER_OPTIONS.maxSubscriptions);

    // Anonymous: bursts of 10. Non-idempotent requests over it are rejected with retryAfterMs.
    const burst = client('/ws/tracking');
    await burst.connect();
    const results = await Promise.allSettled(Array.from({ length: 14 }, () => burst.request('ping')));
    const limited = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as RealtimeError);
    expect(limited.length).toBeGreaterThan(0);
    for (const e of limited) {
      expect(e).toBeInstanceOf(RealtimeError);
      expect(e.code).toBe('RATE_LIMITED');
      expect(e.retryAfterMs).toBeGreaterThan(0);
    }
  });

  test('RATE_LIMITED is retried after retryAfterMs for idempotent requests only', async () => {
    const c = client('/ws/tracking');
    await c.connect();
    const answers = await Promise.all(Array.from({ length: 14 }, () => c.request('ping', {}, { idempotent: true, timeoutMs: 8000 })));
    expect(answers).toHaveLength(14);
    for (const a of answers) expect(typeof a.timestamp).toBe('string');
  });

  test('client-side errors: TIMEOUT, TOO_MANY_PENDING, CLOSED', async () => {
    const activity = client('/ws/activity', { headers: bearerHeaders(token({ sub: 'err-t' })), maxPendingRequests: 2 });
    await activity.connect();
    // `activity.report` has no answer on success: as a request it can only time out.
    const report = (activity.request as (e: string, d: unknown, o: unknown) => Promise<unknown>)('activity.report', { type: 'x' }, { timeoutMs: 200 });
    const second = activity.request('ping');
    const third = await rejection(activity.request('ping'));
    expect(third.code).toBe('TOO_MANY_PENDING');
    expect((await rejection(report)).code).toBe('TIMEOUT');
    await second;
    expect(activity.pendingCount).toBe(0);

    const closing = activity.request('ping', {}, { timeoutMs: 5000 });
    activity.close();
    expect((await rejection(closing)).code).toBe('CLOSED');
    expect(activity.state).toBe('closed');
    expect((await rejection(activity.request('ping'))).code).toBe('CLOSED');
  });
});

describe('reconnect policy by close code', () => {
  test('1001 (server SIGTERM): reconnects with backoff to the restarted server and resubscribes', async () => {
    let own = await startServer({ options: { ...SERVER_OPTIONS, shutdownTimeoutMs: 2000 } });
    try {
      const trackingId = uniq('RST');
      const c = client('/ws/tracking', {}, () => own);
      const disconnected = record(c, 'disconnected');
      const resubscribed = record(c, 'resubscribed');
      const updates: Array<Record<string, unknown>> = [];
      c.on('tracking.update', (u) => updates.push(u));
      await c.subscribe('tracking.subscribe', { trackingId });
      const port = own.port;

      own.child.kill('SIGTERM');
      await own.exited;
      await eventually(() => disconnected.length > 0);
      expect(disconnected[0]).toMatchObject({ code: 1001, action: 'backoff', willReconnect: true });
      expect(disconnected[0]!.delayMs).toBeLessThanOrEqual(FAST.maxDelayMs);

      own = await startServer({ options: SERVER_OPTIONS, port });
      await eventually(() => resubscribed.length === 1, 8000);
      expect(c.state).toBe('ready');
      await own.request({ cmd: 'trackingUpdate', trackingId, data: { status: 'after-restart' } });
      await eventually(() => updates.length === 1);
      expect(updates[0]).toEqual({ trackingId, status: 'after-restart' });
    } finally {
      await own.stop();
    }
  });

  test('4401 (force-disconnect): getToken is called first, then it reconnects, authenticates and resubscribes', async () => {
    const userId = uniq('u4401');
    let calls = 0;
    const c = client('/ws/notifications', {
      getToken: () => {
        calls += 1;
        return token({ sub: userId });
      },
    });
    const order: string[] = [];
    c.on('disconnected', (d) => order.push(`disconnected ${d.code} ${d.action}`));
    c.on('connecting', () => order.push(`connecting after ${calls} tokens`));
    const resubscribed = record(c, 'resubscribed');
    const got: Array<Record<string, unknown>> = [];
    c.on('notification', (n) => got.push(n));
    await c.subscribe('notifications.subscribe');
    expect(calls).toBe(1);

    await server.request({ cmd: 'disconnectUser', userId });
    await eventually(() => resubscribed.length === 1, 5000);
    expect(order).toEqual(['connecting after 0 tokens', 'disconnected 4401 reauth', 'connecting after 2 tokens']);
    expect(c.session).toMatchObject({ authenticated: true, userId });
    await server.request({ cmd: 'publish', method: 'notify', args: [[userId], { n: 1 }] });
    await eventually(() => got.length === 1);
  });

  test('recovery (docs/protocol.md §10): pushes published while the client was away are replayed in order on resubscribe, then live ones follow', async () => {
    const userId = uniq('urec');
    let calls = 0;
    let release: () => void = () => undefined;
    const away = new Promise<void>((resolve) => (release = resolve));
    const c = client('/ws/notifications', {
      getToken: async () => {
        calls += 1;
        if (calls > 1) await away; // reconnecting waits here while the missed pushes are published
        return token({ sub: userId });
      },
    });
    const got: Array<{ n: unknown; offset: unknown }> = [];
    c.on('notification', (n, frame) => got.push({ n: n['n'], offset: frame?.['offset'] }));
    const recoveries = record(c, 'recovery');
    const resubscribed = record(c, 'resubscribed');
    const handle = await c.subscribe('notifications.subscribe');
    expect(handle.answer).toMatchObject({ offset: 0, epoch: expect.any(String) });
    const notify = (n: number) => server.request({ cmd: 'publish', method: 'notify', args: [[userId], { n }] });
    await notify(1);
    await notify(2);
    await eventually(() => got.length === 2);

    await server.request({ cmd: 'disconnectUser', userId });
    await eventually(() => calls === 2);
    for (const n of [3, 4, 5]) await notify(n);
    release();
    await eventually(() => resubscribed.length === 1, 5000);
    expect(resubscribed[0]!.answer).toMatchObject({ recovered: true, offset: 5 });
    await notify(6);
    await eventually(() => got.length === 6);
    await sleep(100);
    expect(got).toEqual([1, 2, 3, 4, 5, 6].map((n) => ({ n, offset: n })));
    expect(recoveries).toEqual([]);
  });

  test('4400 (too many invalid frames): no reconnect; closed and error say why; later requests fail CLOSED', async () => {
    const c = client('/ws/tracking', { headers: bearerHeaders(token({ sub: 'u4400' })) });
    await c.connect();
    const connecting = record(c, 'connecting');
    const closed = record(c, 'closed');
    const errors = record(c, 'error');
    for (let i = 0; i < MAX_INVALID_FRAMES; i += 1) c.sendRaw('x');
    await eventually(() => closed.length === 1);
    expect(closed[0]).toEqual({ code: 4400, reason: 'too many invalid frames' });
    expect(c.state).toBe('closed');
    expect(errors.map((e) => e.code)).toContain('CLOSED');
    expect(errors.find((e) => e.code === 'CLOSED')!.closeCode).toBe(4400);
    expect((await rejection(c.request('ping'))).code).toBe('CLOSED');
    await sleep(300);
    expect(connecting).toHaveLength(0);
  });

  test('4429 (sustained rate-limit abuse): a longer pause, then it reconnects', async () => {
    const c = client('/ws/tracking', { backoff: { ...FAST, rateLimitPauseMs: 400 } });
    await c.connect();
    const drops = record(c, 'disconnected');
    const connected = record(c, 'connected');
    // Anonymous: bursts of 10, and the 10th RATE_LIMITED within a minute closes with 4429.
    const flood = await Promise.allSettled(Array.from({ length: 25 }, () => c.request('ping', {}, { timeoutMs: 3000 })));
    expect(flood.some((r) => r.status === 'rejected')).toBe(true);
    await eventually(() => drops.length === 1);
    expect(drops[0]).toMatchObject({ code: 4429, action: 'pause', willReconnect: true });
    expect(drops[0]!.delayMs).toBeGreaterThanOrEqual(400);
    await eventually(() => connected.length === 1, 5000);
    await c.request('ping');
  });

  test('1009 (frame over WS_MAX_PAYLOAD_BYTES): no reconnect', async () => {
    const c = client('/ws/tracking');
    await c.connect();
    const closed = record(c, 'closed');
    const connecting = record(c, 'connecting');
    const oversized = await rejection(c.request('tracking.subscribe', { trackingId: 'x'.repeat(70_000) }));
    expect(oversized).toMatchObject({ code: 'DISCONNECTED', closeCode: 1009 });
    expect(closed).toEqual([{ code: 1009, reason: expect.any(String) }]);
    await sleep(200);
    expect(connecting).toHaveLength(0);
    expect(c.state).toBe('closed');
  });

  test('4001: the token is refreshed on auth.expiring before expiry; without getToken the server closes 4001 and the client stops', async () => {
    const userId = uniq('refresh');
    const shortExp = nowSec() + 3;
    let calls = 0;
    const refreshing = client('/ws/notifications', {
      getToken: () => {
        calls += 1;
        return calls === 1 ? token({ sub: userId, exp: shortExp }) : token({ sub: userId });
      },
    });
    const refreshed = record(refreshing, 'auth.refreshed');
    const refreshingDrops = record(refreshing, 'disconnected');
    await refreshing.subscribe('notifications.subscribe');

    const control = client('/ws/notifications', { headers: bearerHeaders(token({ sub: `${userId}-c`, exp: shortExp })) });
    const controlDrops = record(control, 'disconnected');
    const controlClosed = record(control, 'closed');
    await control.connect();

    await eventually(() => refreshed.length === 1, 4000);
    expect(Date.parse(refreshed[0]!.expiresAt)).toBeGreaterThan(shortExp * 1000 + 60_000);
    expect(refreshing.session?.expiresAt).toBe(refreshed[0]!.expiresAt);
    await eventually(() => controlClosed.length === 1, 5000);
    expect(controlDrops[0]).toMatchObject({ code: 4001, action: 'stop', willReconnect: false });
    expect(control.state).toBe('closed');

    // Past the short token's expiry: the refreshed connection never dropped and still answers.
    await sleep(Math.max(0, shortExp * 1000 + 300 - Date.now()));
    expect(refreshingDrops).toHaveLength(0);
    await refreshing.request('ping');
  });

  test('backoff with the server down: full jitter within [minDelayMs, maxDelayMs], bounded attempts, errors reported', async () => {
    const port = await freePort();
    const down = { port } as ServerHandle;
    const backoff = { initialDelayMs: 100, maxDelayMs: 400, minDelayMs: 50, rateLimitPauseMs: 0 };
    const jittered = client('/ws/main', { backoff }, () => down);
    const pinned = client('/ws/main', { backoff, random: () => 1 }, () => down);
    const attempts = { jittered: record(jittered, 'connecting'), pinned: record(pinned, 'connecting') };
    const drops = record(jittered, 'disconnected');
    const pinnedDrops = record(pinned, 'disconnected');
    const errors = record(jittered, 'error');
    const waiting = jittered.request('ping', {}, { timeoutMs: 2500 });
    pinned.connect().catch(() => undefined);
    const windowMs = 3000;
    await sleep(windowMs);

    // Hard bound from the floor: no more than one attempt per minDelayMs.
    expect(attempts.jittered.length).toBeLessThanOrEqual(1 + windowMs / backoff.minDelayMs);
    expect(attempts.jittered.length).toBeGreaterThanOrEqual(3);
    for (const d of drops) {
      expect(d).toMatchObject({ code: 1006, opened: false, action: 'backoff', willReconnect: true });
      expect(d.delayMs).toBeGreaterThanOrEqual(backoff.minDelayMs);
      expect(d.delayMs).toBeLessThanOrEqual(backoff.maxDelayMs);
    }
    // The ceiling doubles to the cap: with the jitter pinned to its top, 100, 200, 400, 400, …
    expect(pinnedDrops.slice(0, 5).map((d) => d.delayMs)).toEqual([100, 200, 400, 400, 400]);
    expect(attempts.pinned.length).toBeLessThanOrEqual(2 + Math.ceil((windowMs - 300) / 400));
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e.code).toBe('CONNECT_FAILED');
    expect((await rejection(waiting)).code).toBe('TIMEOUT');

    jittered.close();
    const after = attempts.jittered.length;
    await sleep(300);
    expect(attempts.jittered.length).toBe(after);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
