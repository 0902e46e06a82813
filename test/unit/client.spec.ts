/**
 * The client SDK (client/) against a scripted WebSocket: recovery of streams from recorded
 * frames (docs/protocol.md §10, which the server does not implement yet), the reconnect policy
 * per close code, full-jitter backoff, timers cleared on close, the bounded pending map.
 */
import { jest } from '@jest/globals';
import { backoffDelay, CLOSE_POLICY, DEFAULT_BACKOFF, RealtimeClient, type RealtimeClientOptions, reconnectAction } from '../../client/src/index.js';
import type { NamespacePath } from '../../client/src/protocol-types.js';

interface Sent {
  event: string;
  data: Record<string, unknown>;
  id: string;
}

/** A WebSocket whose server side the test plays: it records what the client sends. */
class ScriptedSocket {
  static instances: ScriptedSocket[] = [];
  readyState = 0;
  readonly sent: Sent[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: { message?: string }) => void) | null = null;

  constructor(readonly url: string) {
    ScriptedSocket.instances.push(this);
  }

  send(text: string): void {
    this.sent.push(JSON.parse(text) as Sent);
  }

  close(): void {
    this.readyState = 3;
  }

  /** Opens and sends the `connected` frame. */
  accept(authenticated = false, namespace = 'tracking'): void {
    this.readyState = 1;
    this.onopen?.({});
    this.push({ event: 'connected', data: { connectionId: 'c1', namespace, authenticated, userId: authenticated ? 'u1' : null, expiresAt: null, heartbeatMs: 25000 } });
  }

  push(frame: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** Answers the last frame the client sent for `event`. */
  answer(event: string, reply: string, data: Record<string, unknown>): void {
    const request = [...this.sent].reverse().find((f) => f.event === event);
    if (!request) throw new Error(`nothing sent for ${event}: ${JSON.stringify(this.sent)}`);
    this.push({ event: reply, data, id: request.id });
  }

  drop(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
};

function makeClient<P extends NamespacePath>(path: P, options: Partial<RealtimeClientOptions<P>> = {}): RealtimeClient<P> {
  return new RealtimeClient<P>({
    url: 'ws://server.test',
    path,
    WebSocket: ScriptedSocket,
    backoff: { initialDelayMs: 100, maxDelayMs: 1000, minDelayMs: 10, rateLimitPauseMs: 5000 },
    random: () => 0.5,
    ...options,
  });
}

const last = (): ScriptedSocket => ScriptedSocket.instances[ScriptedSocket.instances.length - 1]!;

beforeEach(() => {
  ScriptedSocket.instances = [];
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('recovery hook (docs/protocol.md §10, recorded frames)', () => {
  test('keeps the last offset/epoch, sends `since` on resubscribe, replays recovered publications, drops repeats', async () => {
    const client = makeClient('/ws/tracking');
    const updates: Array<[Record<string, unknown>, number | undefined]> = [];
    client.on('tracking.update', (data, frame) => updates.push([data, frame?.offset]));
    const subscribing = client.subscribe('tracking.subscribe', { trackingId: 'SHP-1' });
    last().accept();
    await flush();
    expect(last().sent).toEqual([{ event: 'tracking.subscribe', data: { trackingId: 'SHP-1' }, id: expect.any(String) }]);
    last().answer('tracking.subscribe', 'tracking.subscribed', { trackingId: 'SHP-1', offset: 0, epoch: 'k3J9' });
    await subscribing;
    expect(client.position('tracking.subscribe', { trackingId: 'SHP-1' })).toEqual({ offset: 0, epoch: 'k3J9' });

    last().push({ event: 'tracking.update', data: { trackingId: 'SHP-1', status: 'a' }, offset: 1, epoch: 'k3J9' });
    last().push({ event: 'tracking.update', data: { trackingId: 'SHP-1', status: 'b' }, offset: 2, epoch: 'k3J9' });
    last().push({ event: 'tracking.update', data: { trackingId: 'SHP-1', status: 'b' }, offset: 2, epoch: 'k3J9' });
    expect(updates.map(([d, o]) => [d.status, o])).toEqual([['a', 1], ['b', 2]]);
    expect(client.position('tracking.subscribe', { trackingId: 'SHP-1' })).toEqual({ offset: 2, epoch: 'k3J9' });

    last().drop(1006);
    jest.advanceTimersByTime(100);
    last().accept();
    await flush();
    const resubscribe = last().sent.find((f) => f.event === 'tracking.subscribe')!;
    expect(resubscribe.data).toEqual({ trackingId: 'SHP-1', since: { offset: 2, epoch: 'k3J9' } });
    last().answer('tracking.subscribe', 'tracking.subscribed', {
      trackingId: 'SHP-1',
      offset: 4,
      epoch: 'k3J9',
      recovered: true,
      publications: [
        { offset: 3, data: { trackingId: 'SHP-1', status: 'c' } },
        { offset: 4, data: { trackingId: 'SHP-1', status: 'd' } },
      ],
    });
    await flush();
    expect(updates.map(([d, o]) => [d.status, o])).toEqual([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
    last().push({ event: 'tracking.update', data: { trackingId: 'SHP-1', status: 'e' }, offset: 5, epoch: 'k3J9' });
    expect(updates).toHaveLength(5);
    expect(client.position('tracking.subscribe', { trackingId: 'SHP-1' })).toEqual({ offset: 5, epoch: 'k3J9' });
    client.close();
  });

  test('`recovered: false` is surfaced as a `recovery` event and the position restarts from the answer', async () => {
    const client = makeClient('/ws/notifications', { getToken: () => 'tok' });
    const recoveries: unknown[] = [];
    client.on('recovery', (r) => recoveries.push(r));
    const subscribing = client.subscribe('notifications.subscribe');
    last().accept(true, 'notifications');
    await flush();
    last().answer('notifications.subscribe', 'notifications.subscribed', { userId: 'u1', offset: 7, epoch: 'e1' });
    await subscribing;
    last().push({ event: 'notification', data: { n: 8 }, offset: 8, epoch: 'e1' });

    last().drop(1001);
    jest.advanceTimersByTime(100);
    last().accept(true, 'notifications');
    await flush();
    expect(last().sent.find((f) => f.event === 'notifications.subscribe')!.data).toEqual({ since: { offset: 8, epoch: 'e1' } });
    last().answer('notifications.subscribe', 'notifications.subscribed', { userId: 'u1', offset: 0, epoch: 'e2', recovered: false, publications: [] });
    await flush();
    expect(recoveries).toEqual([{ event: 'notifications.subscribe', data: {}, recovered: false, since: { offset: 8, epoch: 'e1' } }]);
    expect(client.position('notifications.subscribe')).toEqual({ offset: 0, epoch: 'e2' });
    client.close();
  });

  test('without positions in the frames (today\'s server) no `since` is ever sent', async () => {
    const client = makeClient('/ws/tracking');
    const subscribing = client.subscribe('tracking.subscribe', { trackingId: 'T' });
    last().accept();
    await flush();
    last().answer('tracking.subscribe', 'tracking.subscribed', { trackingId: 'T' });
    await subscribing;
    last().push({ event: 'tracking.update', data: { trackingId: 'T', status: 'x' } });
    last().drop(1011);
    jest.advanceTimersByTime(100);
    last().accept();
    await flush();
    expect(last().sent.find((f) => f.event === 'tracking.subscribe')!.data).toEqual({ trackingId: 'T' });
    client.close();
  });
});

describe('reconnect policy', () => {
  test('the close-code table of docs/protocol.md §3', () => {
    expect(CLOSE_POLICY).toEqual({ 1000: 'backoff', 1001: 'backoff', 1009: 'stop', 1011: 'backoff', 4001: 'reauth', 4008: 'backoff', 4400: 'stop', 4401: 'reauth', 4429: 'pause' });
    expect(reconnectAction(1006)).toBe('backoff');
    expect(reconnectAction(1002)).toBe('stop');
    expect(reconnectAction(1006, 403)).toBe('stop');
    expect(reconnectAction(1006, 401)).toBe('reauth');
    expect(reconnectAction(1006, 429)).toBe('pause');
    expect(reconnectAction(1006, 503)).toBe('backoff');
  });

  test('full jitter: uniform up to min(cap, initial·2^n), never under the floor', () => {
    const options = { ...DEFAULT_BACKOFF, initialDelayMs: 100, maxDelayMs: 1000, minDelayMs: 20 };
    expect([0, 1, 2, 3, 4, 10, 1000].map((n) => backoffDelay(n, options, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999, 999]);
    expect(backoffDelay(5, options, () => 0)).toBe(20);
    expect(backoffDelay(3, options, () => 0.5)).toBe(400);
  });

  test.each([
    [1001, 'backoff', true],
    [1011, 'backoff', true],
    [4008, 'backoff', true],
    [4429, 'pause', true],
    [1009, 'stop', false],
    [4400, 'stop', false],
  ] as const)('close %i → %s', async (code, action, reconnects) => {
    const client = makeClient('/ws/tracking');
    const drops: Array<{ action: string; willReconnect: boolean; delayMs?: number }> = [];
    const closed: unknown[] = [];
    client.on('disconnected', (d) => drops.push(d));
    client.on('closed', (c) => closed.push(c));
    void client.connect().catch(() => undefined);
    last().accept();
    await flush();
    last().drop(code, 'r');
    expect(drops[0]).toMatchObject({ action, willReconnect: reconnects });
    if (action === 'pause') expect(drops[0]!.delayMs).toBeGreaterThanOrEqual(5000);
    jest.advanceTimersByTime(10_000);
    expect(ScriptedSocket.instances).toHaveLength(reconnects ? 2 : 1);
    expect(closed).toHaveLength(reconnects ? 0 : 1);
    client.close();
  });

  test('4401 without getToken stops; with it, getToken runs before the next upgrade', async () => {
    const plain = makeClient('/ws/notifications');
    const plainClosed: unknown[] = [];
    plain.on('closed', (c) => plainClosed.push(c));
    void plain.connect().catch(() => undefined);
    last().accept(true, 'notifications');
    await flush();
    last().drop(4401);
    expect(plainClosed).toEqual([{ code: 4401, reason: '' }]);

    const tokens: string[] = [];
    const withToken = makeClient('/ws/notifications', { getToken: () => (tokens.push(`t${tokens.length}`), tokens[tokens.length - 1]) });
    void withToken.connect().catch(() => undefined);
    last().accept(true, 'notifications');
    await flush();
    last().drop(4401);
    const before = ScriptedSocket.instances.length;
    jest.advanceTimersByTime(100);
    await flush();
    expect(tokens).toEqual(['t0']);
    expect(ScriptedSocket.instances).toHaveLength(before + 1);
    last().accept(false, 'notifications');
    await flush();
    // The token fetched before reconnecting is the one sent in-band.
    expect(last().sent).toEqual([{ event: 'auth', data: { token: 't0' }, id: expect.any(String) }]);
    withToken.close();
  });
});

describe('resources', () => {
  test('close() clears every timer and rejects what is pending', async () => {
    const client = makeClient('/ws/tracking');
    const pending = [client.request('ping', {}, { timeoutMs: 60_000 }), client.request('tracking.subscribe', { trackingId: 'A' }, { timeoutMs: 60_000 })];
    last().accept();
    await flush();
    last().drop(1006);
    expect(jest.getTimerCount()).toBeGreaterThan(0);
    client.close();
    expect(jest.getTimerCount()).toBe(0);
    const results = await Promise.allSettled(pending);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'resolved'))).toEqual(['DISCONNECTED', 'DISCONNECTED']);
    expect(client.pendingCount).toBe(0);
  });

  test('the pending map is bounded', async () => {
    const client = makeClient('/ws/tracking', { maxPendingRequests: 3 });
    const requests = Array.from({ length: 5 }, () => client.request('ping').catch((e: { code: string }) => e.code));
    expect(client.pendingCount).toBe(3);
    client.close();
    expect(await Promise.all(requests)).toEqual(['CLOSED', 'CLOSED', 'CLOSED', 'TOO_MANY_PENDING', 'TOO_MANY_PENDING']);
  });

  test('a request waits for the connection; idempotent requests survive a drop, others fail DISCONNECTED', async () => {
    const client = makeClient('/ws/tracking');
    const idempotent = client.request('ping', {}, { idempotent: true });
    const once = client.request('ping');
    last().accept();
    await flush();
    expect(last().sent.map((f) => f.event)).toEqual(['ping', 'ping']);
    last().drop(1006);
    await expect(once).rejects.toMatchObject({ code: 'DISCONNECTED', closeCode: 1006 });
    jest.advanceTimersByTime(100);
    last().accept();
    await flush();
    last().answer('ping', 'pong', { timestamp: 't' });
    await expect(idempotent).resolves.toEqual({ timestamp: 't' });
    client.close();
  });
});
