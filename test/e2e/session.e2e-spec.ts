/**
 * docs/protocol.md §4: session events on every path — `connected`, `ping`, in-band `auth`,
 * `auth.refresh`, `auth.expiring` and 4001 (finding 17), revocation and forced disconnects,
 * the pending state of auth-required paths (findings 16, 17, 19, 12).
 */
import { type Client, eventually, handshakeStatus, type ServerHandle, sleep, startServer, token } from '../support/harness.js';
import { BODY, bearer, ClientPool, expectAlive, expectError, expectIso, nowSec, uniq } from '../support/e2e-helpers.js';

const REFRESH_WINDOW_MS = 1500;
const AUTH_TIMEOUT_MS = 500;
const HEARTBEAT_MS = 20_000;
let server: ServerHandle;
const pool = new ClientPool(() => server);

beforeAll(async () => {
  server = await startServer({
    options: { maxConnectionsPerUser: 2, refreshWindowMs: REFRESH_WINDOW_MS, authTimeoutMs: AUTH_TIMEOUT_MS, heartbeatIntervalMs: HEARTBEAT_MS },
  });
});

afterEach(async () => {
  await pool.drain();
});

afterAll(async () => {
  await server?.stop();
});

const iso = (expSec: number): string => new Date(expSec * 1000).toISOString();

/** Waits until the server holds exactly `n` connections (closes seen by a client may precede server cleanup). */
const connectionsSettle = (n: number): Promise<void> => eventually(async () => (await server.stats()).connections.connections === n);

/** Asserts the connection stays open for `ms` more milliseconds and still answers. */
async function staysOpen(client: Client, ms = 300): Promise<void> {
  await sleep(ms);
  expect(client.socket.readyState).toBe(client.socket.OPEN);
  await expectAlive(client);
}

describe('connected and ping', () => {
  test('the first frame of an anonymous connection is connected with every field, userId/expiresAt null', async () => {
    const client = await pool.open('/ws/main');
    expect(client.frames[0]).toBe(client.connected);
    const data = client.connected?.data as Record<string, unknown>;
    expect(Object.keys(data).sort()).toEqual(['authenticated', 'connectionId', 'expiresAt', 'heartbeatMs', 'namespace', 'userId']);
    expect(data).toMatchObject({ namespace: 'main', authenticated: false, userId: null, expiresAt: null, heartbeatMs: HEARTBEAT_MS });
    expect(typeof data.connectionId).toBe('string');
    expect((data.connectionId as string).length).toBeGreaterThan(0);
  });

  test('an authenticated connected frame carries userId and the token expiry as ISO 8601', async () => {
    const exp = nowSec() + 600;
    const client = await pool.open('/ws/tracking', bearer(token({ sub: 'conn-user', exp })));
    expect(client.frames[0]?.event).toBe('connected');
    expect(client.connected?.data).toMatchObject({ namespace: 'tracking', authenticated: true, userId: 'conn-user', expiresAt: iso(exp), heartbeatMs: HEARTBEAT_MS });
    const other = await pool.open('/ws/tracking');
    expect(other.connected?.data?.connectionId).not.toBe(client.connected?.data?.connectionId);
  });

  test('ping is answered with pong carrying an ISO timestamp of now, and the id', async () => {
    const client = await pool.open('/ws/tracking');
    const pong = await client.call('ping', {}, 'p-1');
    expect(pong.event).toBe('pong');
    expect(pong.id).toBe('p-1');
    expectIso(pong.data?.timestamp);
    expect(Math.abs(Date.parse(pong.data?.timestamp as string) - Date.now())).toBeLessThan(5000);
  });
});

describe('in-band auth on an optional path (finding 16)', () => {
  test('finding 16: an anonymous connection on /ws/main authenticates in-band: auth.ok {userId, expiresAt}', async () => {
    const exp = nowSec() + 600;
    const client = await pool.open('/ws/main');
    const ok = await client.call('auth', { token: token({ sub: 'inband', exp }) }, 'a1');
    expect(ok).toEqual({ event: 'auth.ok', data: { userId: 'inband', expiresAt: iso(exp) }, id: 'a1' });
    // Now authenticated: auth.refresh (not public) is served, and the user's slot is counted.
    const refreshed = await client.call('auth.refresh', { token: token({ sub: 'inband', exp: exp + 60 }) });
    expect(refreshed).toMatchObject({ event: 'auth.refreshed', data: { expiresAt: iso(exp + 60) } });
    expect((await server.stats()).limiter).toEqual({ users: 1, anonymousIps: 0 });
  });

  test.each([
    ['a garbage token', () => 'garbage'],
    ['a token signed with another secret', () => token({ sub: 'ghost' }, { secret: 'another-secret-0123456789-abcdefghijklmnop' })],
    ['an expired token', () => token({ sub: 'ghost', exp: nowSec() - 60 })],
    ['an alg none token', () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'ghost', exp: nowSec() + 60 })).toString('base64url')}.`],
  ])('finding 16: in-band auth with %s is UNAUTHORIZED; the connection stays open and anonymous', async (_name, make) => {
    const client = await pool.open('/ws/main');
    expectError(await client.call('auth', { token: make() }, 'bad'), 'UNAUTHORIZED', { id: 'bad', request: 'auth' });
    await server.request({ cmd: 'disconnectUser', userId: 'ghost' });
    await staysOpen(client);
    expect((await server.stats()).limiter).toEqual({ users: 0, anonymousIps: 1 });
    expectError(await client.call('auth.refresh', { token: token({ sub: 'ghost' }) }), 'UNAUTHORIZED');
  });

  test('auth with a different sub on an authenticated connection is UNAUTHORIZED and the identity is unchanged', async () => {
    const client = await pool.open('/ws/main', bearer(token({ sub: 'alice' })));
    expectError(await client.call('auth', { token: token({ sub: 'mallory' }) }, 'x'), 'UNAUTHORIZED', { id: 'x', request: 'auth' });
    await server.request({ cmd: 'disconnectUser', userId: 'mallory' });
    await staysOpen(client);
    await server.request({ cmd: 'disconnectUser', userId: 'alice' });
    expect((await client.waitClose()).code).toBe(4401);
  });

  test('auth with the same sub on an authenticated connection acts as a refresh: auth.refreshed', async () => {
    const client = await pool.open('/ws/tracking', bearer(token({ sub: 'same' })));
    const exp = nowSec() + 900;
    expect(await client.call('auth', { token: token({ sub: 'same', exp }) }, 's1')).toEqual({
      event: 'auth.refreshed',
      data: { expiresAt: iso(exp) },
      id: 's1',
    });
  });

  test('finding 12: in-band auth for a user already at the per-user cap is LIMIT_EXCEEDED, then close 4429', async () => {
    await pool.open('/ws/main', bearer(token({ sub: 'full' })));
    await pool.open('/ws/tracking', bearer(token({ sub: 'full' })));
    const client = await pool.open('/ws/main');
    expectError(await client.call('auth', { token: token({ sub: 'full' }) }, 'cap'), 'LIMIT_EXCEEDED', { id: 'cap', request: 'auth' });
    expect((await client.waitClose()).code).toBe(4429);
  });
});

describe('auth.refresh', () => {
  test('auth.refresh with another sub is UNAUTHORIZED and the old expiry stands (close 4001 at the old exp)', async () => {
    const exp = nowSec() + 3;
    const client = await pool.open('/ws/main', bearer(token({ sub: 'bob', exp })));
    expectError(await client.call('auth.refresh', { token: token({ sub: 'eve', exp: exp + 600 }) }, 'r'), 'UNAUTHORIZED', { id: 'r', request: 'auth.refresh' });
    const closed = await client.waitClose(6000);
    expect(closed.code).toBe(4001);
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
  });

  test('auth.refresh with an invalid token is UNAUTHORIZED and the connection stays authenticated', async () => {
    const client = await pool.open('/ws/tracking', bearer(token({ sub: 'carol' })));
    expectError(await client.call('auth.refresh', { token: 'nope' }), 'UNAUTHORIZED');
    const exp = nowSec() + 1200;
    expect(await client.call('auth.refresh', { token: token({ sub: 'carol', exp }) }, 'ok')).toEqual({
      event: 'auth.refreshed',
      data: { expiresAt: iso(exp) },
      id: 'ok',
    });
  });
});

describe('finding 17: token expiry', () => {
  test('finding 17: auth.expiring arrives WS_REFRESH_WINDOW_MS before exp and the connection closes with 4001 at exp', async () => {
    const exp = nowSec() + 3;
    const client = await pool.open('/ws/main', bearer(token({ sub: 'expiring', exp })));
    const expiring = await client.next('auth.expiring', 5000);
    const at = Date.now();
    expect(expiring.data).toEqual({ expiresAt: iso(exp) });
    expect(at).toBeGreaterThanOrEqual(exp * 1000 - REFRESH_WINDOW_MS - 50);
    expect(at).toBeLessThan(exp * 1000);
    const closed = await client.waitClose(5000);
    const closedAt = Date.now();
    expect(closed.code).toBe(4001);
    expect(closedAt).toBeGreaterThanOrEqual(exp * 1000 - 50);
    expect(closedAt).toBeLessThan(exp * 1000 + 1000);
  });

  test('finding 17: a refresh after auth.expiring pushes the deadline (no 4001 at the old exp)', async () => {
    const exp = nowSec() + 3;
    const client = await pool.open('/ws/tracking', bearer(token({ sub: 'refresher', exp })));
    await client.next('auth.expiring', 5000);
    const newExp = nowSec() + 600;
    expect(await client.call('auth.refresh', { token: token({ sub: 'refresher', exp: newExp }) })).toMatchObject({
      event: 'auth.refreshed',
      data: { expiresAt: iso(newExp) },
    });
    await sleep(Math.max(0, exp * 1000 + 600 - Date.now()));
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    await expectAlive(client);
  });

  test('finding 17: a token accepted inside the 5 s clock tolerance is told auth.expiring and closed with 4001 at once', async () => {
    const exp = nowSec() - 2;
    const client = await pool.open('/ws/main', bearer(token({ sub: 'late', exp })));
    expect(client.connected?.data).toMatchObject({ authenticated: true, userId: 'late' });
    expect((await client.next('auth.expiring', 2000)).data).toEqual({ expiresAt: iso(exp) });
    expect((await client.waitClose(2000)).code).toBe(4001);
  });
});

describe('revocation and forced disconnects', () => {
  test('revoking a jti closes its connections with 4401; later handshakes, auth and refresh with it are refused', async () => {
    const user = uniq('rev');
    const revoked = token({ sub: user, jti: 'jti-revoked' });
    const kept = token({ sub: user, jti: 'jti-kept' });
    const a = await pool.open('/ws/main', bearer(revoked));
    const b = await pool.open('/ws/tracking', bearer(revoked));
    await server.request({ cmd: 'revoke', jti: 'jti-revoked' });
    expect((await a.waitClose()).code).toBe(4401);
    expect((await b.waitClose()).code).toBe(4401);
    await connectionsSettle(0);
    const c = await pool.open('/ws/main', bearer(kept));
    await expectAlive(c);
    expectError(await c.call('auth.refresh', { token: revoked }), 'UNAUTHORIZED');
    const res = await handshakeStatus(server.ws('/ws/main'), bearer(revoked));
    expect(res.status).toBe(401);
    expect(res.body).toBe(BODY[401]);
    const anon = await pool.open('/ws/main');
    expectError(await anon.call('auth', { token: revoked }), 'UNAUTHORIZED');
    await staysOpen(c, 0);
  });

  test('revoking a user closes all their connections with 4401 and refuses their earlier tokens at the handshake', async () => {
    const user = uniq('revuser');
    const earlier = token({ sub: user, iat: nowSec() - 10 });
    const a = await pool.open('/ws/main', bearer(earlier));
    const b = await pool.open('/ws/tracking', bearer(token({ sub: user, iat: nowSec() - 5 })));
    const bystander = await pool.open('/ws/main', bearer(token({ sub: uniq('bystander') })));
    await server.request({ cmd: 'revoke', userId: user });
    expect((await a.waitClose()).code).toBe(4401);
    expect((await b.waitClose()).code).toBe(4401);
    const res = await handshakeStatus(server.ws('/ws/tracking'), bearer(earlier));
    expect(res.status).toBe(401);
    expect(res.body).toBe(BODY[401]);
    await staysOpen(bystander, 0);
  });

  test('finding 12/17: disconnectUser closes every connection of the user on every path with 4401, and only theirs', async () => {
    const user = uniq('kick');
    const a = await pool.open('/ws/main', bearer(token({ sub: user })));
    const b = await pool.open('/ws/notifications', bearer(token({ sub: user })));
    const other = await pool.open('/ws/main', bearer(token({ sub: uniq('other') })));
    const anon = await pool.open('/ws/tracking');
    await server.request({ cmd: 'disconnectUser', userId: user });
    expect((await a.waitClose()).code).toBe(4401);
    expect((await b.waitClose()).code).toBe(4401);
    await staysOpen(other, 100);
    await staysOpen(anon, 0);
    await connectionsSettle(2);
    // Not revoked: the user may connect again.
    const again = await pool.open('/ws/main', bearer(token({ sub: user })));
    expect(again.connected?.data).toMatchObject({ userId: user });
  });
});

describe('pending state on an auth-required path', () => {
  test('finding 16: a pending connection may only ping and auth; other events are UNAUTHORIZED until auth.ok', async () => {
    const client = await pool.open('/ws/notifications');
    expect(client.connected?.data).toMatchObject({ namespace: 'notifications', authenticated: false, userId: null, expiresAt: null });
    expectError(await client.call('notifications.subscribe', {}, 'n1'), 'UNAUTHORIZED', { id: 'n1', request: 'notifications.subscribe' });
    expectError(await client.call('auth.refresh', { token: token({ sub: 'pend' }) }), 'UNAUTHORIZED');
    await expectAlive(client);
    const exp = nowSec() + 600;
    expect((await client.call('auth', { token: token({ sub: 'pend', exp }) })).data).toEqual({ userId: 'pend', expiresAt: iso(exp) });
    expect((await client.call('notifications.subscribe', {})).data).toEqual({ userId: 'pend', offset: 0, epoch: expect.any(String) });
    await staysOpen(client, AUTH_TIMEOUT_MS + 200);
  });

  test('a pending connection that never authenticates is closed with 4401 after WS_AUTH_TIMEOUT_MS', async () => {
    const opened = Date.now();
    const client = await pool.open('/ws/notifications');
    expect((await client.waitClose(3000)).code).toBe(4401);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 50);
  });

  test('finding 16: failed in-band auth on an auth-required path is UNAUTHORIZED, then close 4401', async () => {
    const opened = Date.now();
    const client = await pool.open('/ws/notifications');
    expectError(await client.call('auth', { token: 'garbage' }, 'f'), 'UNAUTHORIZED', { id: 'f', request: 'auth' });
    expect((await client.waitClose(AUTH_TIMEOUT_MS)).code).toBe(4401);
    // Closed because the auth failed, not by the auth timeout.
    expect(Date.now() - opened).toBeLessThan(AUTH_TIMEOUT_MS - 150);
  });
});
