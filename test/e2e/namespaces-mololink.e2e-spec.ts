/**
 * /ws/mololink end to end (docs/protocol.md §5, §8; issue 3; finding 18): targeted delivery only —
 * listed users and/or roles, everyone only with an explicit `all: true`; `mololink.*` names;
 * no client events but the session ones.
 */
import request from 'supertest';
import { Client, type Frame, type ServerHandle, startServer, token } from '../support/harness.js';
import { API_KEY, ClientPool, expectError, framesAfter, reply, seen } from '../support/ns-helpers.js';

let server: ServerHandle;
const pool = new ClientPool(() => server);

beforeAll(async () => {
  server = await startServer({ options: { apiKey: API_KEY } });
});
afterEach(async () => {
  await pool.closeAll();
});
afterAll(async () => {
  await server.stop();
});

interface Target {
  userIds?: string[];
  roles?: string[];
  all?: boolean;
}
const mololink = (target: Target, event: string, data: Record<string, unknown>) =>
  server.request({ cmd: 'publish', method: 'mololink', args: [target, event, data] });
const publish = (body: Record<string, unknown>) => request(server.http()).post('/realtime/publish').set('X-Api-Key', API_KEY).send(body);
const mololinkFrames = (c: Client) => c.frames.filter((f) => f.event.startsWith('mololink.'));

/** u1 (carrier, two tabs), u2 (shipper), u3 (no role), u4 (carrier + shipper). */
async function cast() {
  const u1a = await pool.open('/ws/mololink', { sub: 'u1', roles: ['carrier'] });
  const u1b = await pool.open('/ws/mololink', { sub: 'u1', roles: ['carrier'] });
  const u2 = await pool.open('/ws/mololink', { sub: 'u2', roles: ['shipper'] });
  const u3 = await pool.open('/ws/mololink', { sub: 'u3' });
  const u4 = await pool.open('/ws/mololink', { sub: 'u4', roles: ['carrier', 'shipper'] });
  return { u1a, u1b, u2, u3, u4, everyone: [u1a, u1b, u2, u3, u4] };
}

/**
 * Publishes `mololink.barrier` to everyone and waits until each client has it: delivery is in
 * publish order, so a misrouted earlier event would have arrived before the barrier.
 */
async function barrier(clients: Client[]): Promise<void> {
  const n = Math.random();
  await mololink({ all: true }, 'mololink.barrier', { n });
  for (const c of clients) await seen(c, (f) => f.event === 'mololink.barrier' && f.data?.n === n);
}

const got = (c: Client, event: string): Frame[] => c.all(event);

describe('finding 18: targeted delivery', () => {
  test('finding 18: userIds → every connection of the listed user only; other users on /ws/mololink get nothing', async () => {
    const { u1a, u1b, u2, u3, u4, everyone } = await cast();
    await mololink({ userIds: ['u1'] }, 'mololink.offer', { offerId: 'o-1' });
    await barrier(everyone);
    expect(got(u1a, 'mololink.offer').map((f) => f.data)).toEqual([{ offerId: 'o-1' }]);
    expect(got(u1b, 'mololink.offer').map((f) => f.data)).toEqual([{ offerId: 'o-1' }]);
    for (const other of [u2, u3, u4]) expect(got(other, 'mololink.offer')).toEqual([]);
  });

  test('finding 18: roles → only connections whose token holds a listed role', async () => {
    const { u1a, u1b, u2, u3, u4, everyone } = await cast();
    await mololink({ roles: ['shipper'] }, 'mololink.rfq', { rfq: 7 });
    await barrier(everyone);
    expect(got(u2, 'mololink.rfq').map((f) => f.data)).toEqual([{ rfq: 7 }]);
    expect(got(u4, 'mololink.rfq').map((f) => f.data)).toEqual([{ rfq: 7 }]);
    for (const other of [u1a, u1b, u3]) expect(got(other, 'mololink.rfq')).toEqual([]);
  });

  test('finding 18: userIds and roles together reach their union, once per connection', async () => {
    const { u1a, u1b, u2, u3, u4, everyone } = await cast();
    // u4 matches both the role and the userIds; u3 by id only; u1 by role only.
    await mololink({ userIds: ['u3', 'u4'], roles: ['carrier'] }, 'mololink.match', { m: 1 });
    await barrier(everyone);
    for (const c of [u1a, u1b, u3, u4]) expect(got(c, 'mololink.match').map((f) => f.data)).toEqual([{ m: 1 }]);
    expect(got(u2, 'mololink.match')).toEqual([]);
  });

  test('finding 18: all: true reaches every authenticated connection on /ws/mololink', async () => {
    const { everyone } = await cast();
    await mololink({ all: true }, 'mololink.maintenance', { at: 'soon' });
    for (const c of everyone) expect((await seen(c, 'mololink.maintenance')).data).toEqual({ at: 'soon' });
    for (const c of everyone) expect(got(c, 'mololink.maintenance')).toHaveLength(1);
  });

  test('finding 18: targeting unknown users or roles delivers nothing to anyone', async () => {
    const { everyone } = await cast();
    await mololink({ userIds: ['nobody'], roles: ['ghost'] }, 'mololink.lost', { x: 1 });
    await barrier(everyone);
    for (const c of everyone) expect(got(c, 'mololink.lost')).toEqual([]);
  });

  test('finding 18: a targeted user connected on other paths gets mololink events only on /ws/mololink', async () => {
    const ml = await pool.open('/ws/mololink', { sub: 'u1', roles: ['carrier'] });
    const main = await pool.open('/ws/main', { sub: 'u1', roles: ['carrier'] });
    const notif = await pool.open('/ws/notifications', { sub: 'u1', roles: ['carrier'] });
    await mololink({ userIds: ['u1'] }, 'mololink.offer', { o: 1 });
    await mololink({ roles: ['carrier'] }, 'mololink.offer', { o: 2 });
    await mololink({ all: true }, 'mololink.offer', { o: 3 });
    await seen(ml, (f) => f.event === 'mololink.offer' && f.data?.o === 3);
    expect(got(ml, 'mololink.offer').map((f) => f.data?.o)).toEqual([1, 2, 3]);
    expect(await framesAfter(main, (f) => f.event.startsWith('mololink.'), 100)).toEqual([]);
    expect(mololinkFrames(notif)).toEqual([]);
  });

  // §1: /ws/mololink requires auth; §2.6/§4: a pending connection has no identity until `auth`;
  // §5: mololink events go "only to the users/roles a publish targets". `all: true` means every
  // user on the path, not unauthenticated sockets that may never authenticate (finding 18).
  test('finding 18: a pending connection (no credentials yet) receives no mololink event, not even all: true', async () => {
    const authed = await pool.open('/ws/mololink', { sub: 'u1', roles: ['carrier'] });
    const pending = await pool.open('/ws/mololink');
    expect(pending.connected?.data).toMatchObject({ authenticated: false, userId: null });
    await mololink({ roles: ['carrier'] }, 'mololink.offer', { p: 1 });
    await mololink({ all: true }, 'mololink.broadcast', { p: 2 });
    await seen(authed, 'mololink.broadcast');
    expect(await framesAfter(pending, (f) => f.event.startsWith('mololink.'), 100)).toEqual([]);
  });

  test('roles are taken from the refreshed token: after auth.refresh drops a role, role-targeted events stop', async () => {
    const c = await pool.open('/ws/mololink', { sub: 'u1', roles: ['carrier'] });
    const witness = await pool.open('/ws/mololink', { sub: 'w', roles: ['carrier'] });
    expect((await reply(c, 'auth.refresh', { token: token({ sub: 'u1', roles: [] }) })).event).toBe('auth.refreshed');
    await mololink({ roles: ['carrier'] }, 'mololink.offer', { r: 1 });
    await seen(witness, 'mololink.offer');
    await barrier([c, witness]);
    expect(got(c, 'mololink.offer')).toEqual([]);
  });
});

describe('HTTP publish (§8)', () => {
  test('namespace mololink with userIds → 202 and delivery to that user only', async () => {
    const { u1a, u1b, u2, u3, u4, everyone } = await cast();
    const res = await publish({ namespace: 'mololink', userIds: ['u2'], event: 'mololink.quote', data: { q: 1 } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: true });
    expect((await seen(u2, 'mololink.quote')).data).toEqual({ q: 1 });
    await barrier(everyone);
    for (const c of [u1a, u1b, u3, u4]) expect(got(c, 'mololink.quote')).toEqual([]);
  });

  test('namespace mololink with roles → 202 and delivery to the role holders only', async () => {
    const { u1a, u1b, u2, u3, u4, everyone } = await cast();
    const res = await publish({ namespace: 'mololink', roles: ['carrier'], event: 'mololink.load', data: { l: 1 } });
    expect(res.status).toBe(202);
    await barrier(everyone);
    for (const c of [u1a, u1b, u4]) expect(got(c, 'mololink.load').map((f) => f.data)).toEqual([{ l: 1 }]);
    for (const c of [u2, u3]) expect(got(c, 'mololink.load')).toEqual([]);
  });

  test('namespace mololink with all: true → 202 and delivery to everyone', async () => {
    const { everyone } = await cast();
    const res = await publish({ namespace: 'mololink', all: true, event: 'mololink.notice', data: { n: 1 } });
    expect(res.status).toBe(202);
    for (const c of everyone) expect((await seen(c, 'mololink.notice')).data).toEqual({ n: 1 });
  });

  test.each([
    ['no target at all', { event: 'mololink.offer' }],
    ['all: false and no other target', { all: false, event: 'mololink.offer' }],
    ['empty userIds and roles', { userIds: [], roles: [], event: 'mololink.offer' }],
    ['a topic instead of a target', { topic: 'x', event: 'mololink.offer' }],
    ['an event not named mololink.*', { userIds: ['u1'], event: 'notification' }],
    ['an event in another namespace', { all: true, event: 'tracking.update' }],
    ['an event with uppercase', { userIds: ['u1'], event: 'mololink.Offer' }],
    ['the bare prefix', { userIds: ['u1'], event: 'mololink.' }],
    ['an event with a space', { userIds: ['u1'], event: 'mololink.offer now' }],
    ['no event', { userIds: ['u1'] }],
  ])('finding 18: HTTP mololink publish with %s → 400 VALIDATION_FAILED, nothing delivered', async (_l, target) => {
    const { everyone } = await cast();
    const res = await publish({ namespace: 'mololink', ...target, data: { leak: true } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(typeof res.body.message).toBe('string');
    expect(Array.isArray(res.body.details)).toBe(true);
    await barrier(everyone);
    for (const c of everyone) expect(c.frames.filter((f) => f.data?.leak === true)).toEqual([]);
  });

  test('finding 18: the in-process publisher refuses a mololink publish without target or with a bad event name', async () => {
    const { everyone } = await cast();
    await expect(mololink({}, 'mololink.offer', { leak: 1 })).rejects.toThrow();
    await expect(mololink({ userIds: [], roles: [] }, 'mololink.offer', { leak: 2 })).rejects.toThrow();
    await expect(mololink({ all: false }, 'mololink.offer', { leak: 3 })).rejects.toThrow();
    await expect(mololink({ userIds: ['u1'] }, 'offer', { leak: 4 })).rejects.toThrow();
    await barrier(everyone);
    for (const c of everyone) expect(c.frames.filter((f) => f.data?.leak !== undefined)).toEqual([]);
  });

  test('a wrong X-Api-Key → 401 and nothing delivered', async () => {
    const { everyone } = await cast();
    const res = await request(server.http()).post('/realtime/publish').set('X-Api-Key', 'x'.repeat(40)).send({ namespace: 'mololink', all: true, event: 'mololink.x', data: { leak: 1 } });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'UNAUTHORIZED' });
    await barrier(everyone);
    for (const c of everyone) expect(c.frames.filter((f) => f.data?.leak !== undefined)).toEqual([]);
  });
});

describe('client events', () => {
  test.each([
    'mololink.subscribe',
    'mololink.offer',
    'tracking.subscribe',
    'notifications.subscribe',
    'room.join',
    'commodity.join',
    'activity.report',
    'broadcast',
  ])('a client event %s on /ws/mololink → UNKNOWN_EVENT, connection stays open', async (event) => {
    const c = await pool.open('/ws/mololink', { sub: 'u1', roles: ['admin'] });
    const err = await reply(c, event, {});
    expectError(err, 'UNKNOWN_EVENT', event);
    expect((await reply(c, 'ping', {})).event).toBe('pong');
  });

  test('session events work on /ws/mololink: ping, auth.refresh, auth with the same sub', async () => {
    const c = await pool.open('/ws/mololink', { sub: 'u1' });
    expect((await reply(c, 'ping', {})).event).toBe('pong');
    expect((await reply(c, 'auth.refresh', { token: token({ sub: 'u1' }) })).event).toBe('auth.refreshed');
    expect((await reply(c, 'auth', { token: token({ sub: 'u1' }) })).event).toBe('auth.refreshed');
  });

  test('a pending connection can auth in-band and then receive its targeted events', async () => {
    const c = await pool.open('/ws/mololink');
    expect((await reply(c, 'auth', { token: token({ sub: 'late', roles: ['carrier'] }) })).event).toBe('auth.ok');
    await mololink({ userIds: ['late'] }, 'mololink.hello', { h: 1 });
    expect((await seen(c, 'mololink.hello')).data).toEqual({ h: 1 });
    await mololink({ roles: ['carrier'] }, 'mololink.hello', { h: 2 });
    await seen(c, (f) => f.event === 'mololink.hello' && f.data?.h === 2);
  });
});
