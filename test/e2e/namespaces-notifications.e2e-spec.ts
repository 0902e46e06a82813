/**
 * /ws/notifications end to end (docs/protocol.md §4, §5, §8; issue 3): every event, reply, push
 * and error of the namespace, multi-tab delivery and user isolation.
 */
import request from 'supertest';
import { eventually, type Frame, type ServerHandle, startServer, token } from '../support/harness.js';
import { API_KEY, ClientPool, expectError, expectIsoTimestamp, framesAfter, reply } from '../support/ns-helpers.js';

const AUTH_TIMEOUT_MS = 600;

let server: ServerHandle;
const pool = new ClientPool(() => server);

beforeAll(async () => {
  server = await startServer({ options: { apiKey: API_KEY, authTimeoutMs: AUTH_TIMEOUT_MS } });
});
afterEach(async () => {
  await pool.closeAll();
});
afterAll(async () => {
  await server.stop();
});

const notify = (userIds: string[], data: Record<string, unknown>) => server.request({ cmd: 'publish', method: 'notify', args: [userIds, data] });
const isNotification = (f: Frame) => f.event === 'notification';

describe('events and replies', () => {
  test('notifications.subscribe {} answers notifications.subscribed with the caller id, then pushes notification', async () => {
    const c = await pool.open('/ws/notifications', { sub: 'u1' });
    expect(c.connected?.data).toMatchObject({ namespace: 'notifications', authenticated: true, userId: 'u1' });
    const sub = await reply(c, 'notifications.subscribe', {});
    expect(sub).toMatchObject({ event: 'notifications.subscribed', data: { userId: 'u1' } });
    expect(sub.data).toEqual({ userId: 'u1', offset: 0, epoch: expect.any(String) });
    await notify(['u1'], { title: 'hello', n: 1 });
    expect((await c.next('notification')).data).toEqual({ title: 'hello', n: 1 });
  });

  test('notifications.subscribe with the caller own userId is accepted', async () => {
    const c = await pool.open('/ws/notifications', { sub: 'u1' });
    expect((await reply(c, 'notifications.subscribe', { userId: 'u1' })).data).toEqual({ userId: 'u1', offset: expect.any(Number), epoch: expect.any(String) });
    await notify(['u1'], { k: 'own' });
    expect((await c.next('notification')).data).toEqual({ k: 'own' });
  });

  test('notifications.subscribe without data defaults to {} and subscribes the caller', async () => {
    const c = await pool.open('/ws/notifications', { sub: 'u1' });
    const sub = await c.call('notifications.subscribe', undefined, 'nodata');
    expect(sub).toMatchObject({ event: 'notifications.subscribed', data: { userId: 'u1' }, id: 'nodata' });
  });

  test('subscribing twice is idempotent: one subscription, one copy per notification', async () => {
    const c = await pool.open('/ws/notifications', { sub: 'u1' });
    await reply(c, 'notifications.subscribe', {});
    expect((await reply(c, 'notifications.subscribe', {})).event).toBe('notifications.subscribed');
    expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 1, connections: 1 });
    await notify(['u1'], { once: true });
    await c.next('notification');
    expect(await framesAfter(c, isNotification, 200)).toHaveLength(1);
  });

  test('notifications.unsubscribe {} answers notifications.unsubscribed {userId} and stops delivery', async () => {
    const c = await pool.open('/ws/notifications', { sub: 'u1' });
    const other = await pool.open('/ws/notifications', { sub: 'u2' });
    await reply(c, 'notifications.subscribe', {});
    await reply(other, 'notifications.subscribe', {});
    const unsub = await reply(c, 'notifications.unsubscribe', {});
    expect(unsub).toMatchObject({ event: 'notifications.unsubscribed' });
    expect(unsub.data).toEqual({ userId: 'u1' });
    expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 1, connections: 1 });
    await notify(['u1'], { after: 'unsubscribe' });
    await notify(['u2'], { barrier: true });
    await other.next('notification');
    expect(await framesAfter(c, isNotification, 150)).toEqual([]);
  });

  test('finding 6: notifications.unsubscribe with a userId field is VALIDATION_FAILED (data must be {})', async () => {
    const c = await pool.open('/ws/notifications', { sub: 'u1' });
    expectError(await reply(c, 'notifications.unsubscribe', { userId: 'u1' }), 'VALIDATION_FAILED', 'notifications.unsubscribe');
  });
});

describe('multiple tabs and isolation', () => {
  test('finding 4: every subscribed tab of a user receives the notification, an unsubscribed tab does not', async () => {
    const tabs = await Promise.all([1, 2, 3].map(() => pool.open('/ws/notifications', { sub: 'u1' })));
    const idle = await pool.open('/ws/notifications', { sub: 'u1' });
    for (const t of tabs) await reply(t, 'notifications.subscribe', {});
    expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 3, connections: 3 });

    await notify(['u1'], { seq: 1 });
    for (const t of tabs) expect((await t.next('notification')).data).toEqual({ seq: 1 });

    // Closing one tab must not unsubscribe the others (the old map kept one socket per user).
    tabs[0]!.close();
    await tabs[0]!.waitClose();
    await eventually(async () => (await server.stats()).connections.connections === 3);
    await notify(['u1'], { seq: 2 });
    for (const t of tabs.slice(1)) expect((await t.next('notification')).data).toEqual({ seq: 2 });
    expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 2, connections: 2 });
    expect(await framesAfter(idle, isNotification, 150)).toEqual([]);
  });

  test('isolation: u2 never sees u1 notifications, and u1 never sees u2 ones', async () => {
    const u1 = await pool.open('/ws/notifications', { sub: 'u1' });
    const u2 = await pool.open('/ws/notifications', { sub: 'u2' });
    await reply(u1, 'notifications.subscribe', {});
    await reply(u2, 'notifications.subscribe', {});
    await notify(['u1'], { for: 'u1', secret: 's1' });
    await notify(['u2'], { for: 'u2' });
    // In-order delivery: once u2 has its own, u1's would already have arrived if misrouted.
    expect((await u2.next('notification')).data).toEqual({ for: 'u2' });
    expect((await u1.next('notification')).data).toEqual({ for: 'u1', secret: 's1' });
    expect(await framesAfter(u2, isNotification, 150)).toHaveLength(1);
    expect(u1.all('notification')).toHaveLength(1);
  });

  test('a publish to several users reaches each of them once, nobody else', async () => {
    const [a, b, c] = await Promise.all(['ua', 'ub', 'uc'].map((sub) => pool.open('/ws/notifications', { sub })));
    for (const x of [a!, b!, c!]) await reply(x, 'notifications.subscribe', {});
    await notify(['ua', 'ub', 'ua'], { multi: true });
    await notify(['uc'], { barrier: true });
    await c!.next('notification');
    expect(a!.all('notification').map((f) => f.data)).toEqual([{ multi: true }]);
    expect(b!.all('notification').map((f) => f.data)).toEqual([{ multi: true }]);
    expect(c!.all('notification').map((f) => f.data)).toEqual([{ barrier: true }]);
  });

  test('finding 19: notifications.subscribe for another userId is UNAUTHORIZED with message exactly "Unauthorized", nothing subscribed', async () => {
    const u1 = await pool.open('/ws/notifications', { sub: 'u1' });
    const u2 = await pool.open('/ws/notifications', { sub: 'u2' });
    await reply(u2, 'notifications.subscribe', {});
    const denied = await reply(u1, 'notifications.subscribe', { userId: 'u2' });
    expectError(denied, 'UNAUTHORIZED', 'notifications.subscribe');
    expect(denied.message).toBe('Unauthorized');
    // Still open and still only u2's own subscription exists.
    expect((await reply(u1, 'ping', {})).event).toBe('pong');
    expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 1, connections: 1 });
    await notify(['u2'], { private: true });
    await u2.next('notification');
    expect(await framesAfter(u1, isNotification, 150)).toEqual([]);
  });
});

describe('validation (finding 6)', () => {
  test.each([
    ['username', { username: 'mallory' }],
    ['an unknown field', { foo: 1 }],
    ['userId together with username', { userId: 'u1', username: 'x' }],
    ['a non-string userId', { userId: 42 }],
    ['an empty userId', { userId: '' }],
  ])('finding 6: notifications.subscribe with %s is VALIDATION_FAILED and subscribes nothing', async (_label, data) => {
    const c = await pool.open('/ws/notifications', { sub: 'u1' });
    expectError(await reply(c, 'notifications.subscribe', data as Record<string, unknown>), 'VALIDATION_FAILED', 'notifications.subscribe');
    expect((await server.stats()).subscriptions.subscriptions).toBe(0);
    expect((await reply(c, 'ping', {})).event).toBe('pong');
  });

  test('finding 10: a notifications.subscribe frame over 4 KiB is PAYLOAD_TOO_LARGE and the connection stays open', async () => {
    const c = await pool.open('/ws/notifications', { sub: 'u1' });
    expectError(await reply(c, 'notifications.subscribe', { pad: 'x'.repeat(5000) }), 'PAYLOAD_TOO_LARGE', 'notifications.subscribe');
    expect((await reply(c, 'notifications.subscribe', {})).event).toBe('notifications.subscribed');
  });
});

describe('pending connections (auth-required path without credentials)', () => {
  test('connected says pending; notifications.subscribe is UNAUTHORIZED; ping works; in-band auth then subscribe and receive', async () => {
    const c = await pool.open('/ws/notifications');
    expect(c.connected?.data).toMatchObject({ namespace: 'notifications', authenticated: false, userId: null, expiresAt: null });
    expectError(await reply(c, 'notifications.subscribe', {}), 'UNAUTHORIZED', 'notifications.subscribe');
    expectError(await reply(c, 'notifications.unsubscribe', {}), 'UNAUTHORIZED', 'notifications.unsubscribe');
    expect((await reply(c, 'ping', {})).event).toBe('pong');

    const ok = await reply(c, 'auth', { token: token({ sub: 'u9' }) });
    expect(ok.event).toBe('auth.ok');
    expect(ok.data?.userId).toBe('u9');
    expectIsoTimestamp(ok.data?.expiresAt);
    expect((await reply(c, 'notifications.subscribe', {})).data).toEqual({ userId: 'u9', offset: 0, epoch: expect.any(String) });
    await notify(['u9'], { hi: 'after auth' });
    expect((await c.next('notification')).data).toEqual({ hi: 'after auth' });
    // Authenticated: the auth timeout no longer applies.
    // Any frame from now on (an error, a close notice) would show here; the old predicate matched nothing.
    const seen = c.frames.length;
    await framesAfter(c, () => true, AUTH_TIMEOUT_MS + 300);
    expect(c.frames.slice(seen)).toEqual([]);
    expect(c.socket.readyState).toBe(1);
    expect((await reply(c, 'ping', {})).event).toBe('pong');
  });

  test(`a pending connection that never authenticates is closed with 4401 after authTimeoutMs (${AUTH_TIMEOUT_MS} ms)`, async () => {
    const started = Date.now();
    const c = await pool.open('/ws/notifications');
    const closed = await c.waitClose(AUTH_TIMEOUT_MS + 3000);
    const elapsed = Date.now() - started;
    expect(closed.code).toBe(4401);
    expect(elapsed).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 100);
    await pool.closeAll();
    expect((await server.stats()).limiter).toEqual({ users: 0, anonymousIps: 0 });
  });

  test('failed in-band auth on this auth-required path answers UNAUTHORIZED, then closes with 4401', async () => {
    const c = await pool.open('/ws/notifications');
    const bad = token({ sub: 'u1' }, { secret: 'another-secret-0123456789-abcdefghijklmnop' });
    const frame = await reply(c, 'auth', { token: bad });
    expectError(frame, 'UNAUTHORIZED', 'auth');
    expect(frame.message).toBe('Unauthorized');
    expect((await c.waitClose(2000)).code).toBe(4401);
  });

  test('an expired token in-band is UNAUTHORIZED then 4401, same message as a bad signature (finding 19)', async () => {
    const c = await pool.open('/ws/notifications');
    const expired = token({ sub: 'u1', exp: Math.floor(Date.now() / 1000) - 3600 });
    const frame = await reply(c, 'auth', { token: expired });
    expectError(frame, 'UNAUTHORIZED', 'auth');
    expect((await c.waitClose(2000)).code).toBe(4401);
  });
});

describe('HTTP publish (§8)', () => {
  test('POST /realtime/publish namespace notifications with userIds → 202 {accepted:true} and delivery to that user only', async () => {
    const u1 = await pool.open('/ws/notifications', { sub: 'u1' });
    const u2 = await pool.open('/ws/notifications', { sub: 'u2' });
    await reply(u1, 'notifications.subscribe', {});
    await reply(u2, 'notifications.subscribe', {});
    const res = await request(server.http())
      .post('/realtime/publish')
      .set('X-Api-Key', API_KEY)
      .send({ namespace: 'notifications', userIds: ['u1'], data: { via: 'http' } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: true });
    expect((await u1.next('notification')).data).toEqual({ via: 'http' });
    await notify(['u2'], { barrier: true });
    await u2.next('notification');
    expect(u2.all('notification').map((f) => f.data)).toEqual([{ barrier: true }]);
  });

  test('1000 userIds is accepted (upper bound)', async () => {
    const u = await pool.open('/ws/notifications', { sub: 'user-999' });
    await reply(u, 'notifications.subscribe', {});
    const userIds = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
    const res = await request(server.http()).post('/realtime/publish').set('X-Api-Key', API_KEY).send({ namespace: 'notifications', userIds, data: { bulk: true } });
    expect(res.status).toBe(202);
    expect((await u.next('notification')).data).toEqual({ bulk: true });
  });

  test.each([
    ['empty userIds', { userIds: [] }],
    ['1001 userIds', { userIds: Array.from({ length: 1001 }, (_, i) => `user-${i}`) }],
    ['no userIds', {}],
    ['a topic instead of userIds', { topic: 'u1' }],
  ])('%s → 400 VALIDATION_FAILED and nothing delivered', async (_label, target) => {
    const u1 = await pool.open('/ws/notifications', { sub: 'u1' });
    await reply(u1, 'notifications.subscribe', {});
    const res = await request(server.http())
      .post('/realtime/publish')
      .set('X-Api-Key', API_KEY)
      .send({ namespace: 'notifications', ...target, data: { nope: true } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(typeof res.body.message).toBe('string');
    expect(Array.isArray(res.body.details)).toBe(true);
    expect(await framesAfter(u1, isNotification, 100)).toEqual([]);
  });

  test('a wrong or missing X-Api-Key → 401 UNAUTHORIZED and nothing delivered', async () => {
    const u1 = await pool.open('/ws/notifications', { sub: 'u1' });
    await reply(u1, 'notifications.subscribe', {});
    const body = { namespace: 'notifications', userIds: ['u1'], data: { nope: true } };
    const wrong = await request(server.http()).post('/realtime/publish').set('X-Api-Key', API_KEY.replace(/.$/, 'X')).send(body);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ code: 'UNAUTHORIZED' });
    const missing = await request(server.http()).post('/realtime/publish').send(body);
    expect(missing.status).toBe(401);
    expect(await framesAfter(u1, isNotification, 100)).toEqual([]);
  });

  test('in-process notify([]) and notify(1001 users) are rejected', async () => {
    await expect(notify([], { x: 1 })).rejects.toThrow();
    await expect(notify(Array.from({ length: 1001 }, (_, i) => `x${i}`), { x: 1 })).rejects.toThrow();
  });
});

test('cleanup: after the tabs close, no subscription, connection or limiter entry remains (finding 4)', async () => {
  const tabs = await Promise.all([1, 2, 3, 4].map(() => pool.open('/ws/notifications', { sub: 'u1' })));
  for (const t of tabs) await reply(t, 'notifications.subscribe', {});
  tabs[0]!.close();
  tabs[1]!.socket.terminate();
  tabs[2]!.close();
  tabs[3]!.socket.terminate();
  await pool.closeAll();
  const stats = await server.stats();
  expect(stats.subscriptions).toEqual({ topics: 0, subscriptions: 0, connections: 0 });
  expect(stats.limiter).toEqual({ users: 0, anonymousIps: 0 });
  expect(stats.lifecycle.timers).toBe(0);
});
