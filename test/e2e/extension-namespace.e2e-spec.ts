/**
 * A namespace added from outside src/ (test/support/echo-namespace.ts: descriptor, DTOs and
 * gateway in one file) is served end to end: handshake, auth mode, frame caps, the
 * descriptor's authorisation rule, HTTP publish validation and delivery, the one close
 * path's cleanup, handler results of every kind Nest allows, and the message-rate
 * decorators.
 */
import request from 'supertest';
import { Client, eventually, type ServerHandle, startServer } from '../support/harness.js';
import { as, expectError } from '../support/e2e-helpers.js';
import { ECHO, ECHO_FRAME_CAP, ECHO_LIMITED_RATE, ECHO_ROLE } from '../support/echo-namespace.js';

const API_KEY = 'k'.repeat(40);
let server: ServerHandle;

beforeAll(async () => {
  server = await startServer({ echoNamespace: true, options: { apiKey: API_KEY } });
});
afterAll(async () => {
  await server.stop();
});

const publish = (body: Record<string, unknown>) => request(server.http()).post('/realtime/publish').set('X-Api-Key', API_KEY).send(body);

describe('a test-only namespace declared by its descriptor', () => {
  test('its path is served with its auth mode: no token → pending, UNAUTHORIZED for its events; a token → authenticated', async () => {
    const pending = await Client.open(server.ws(ECHO.path));
    expect(pending.connected?.data).toMatchObject({ namespace: ECHO.name, authenticated: false });
    expectError(await pending.call(ECHO.client.watch.event, { echoId: 'e0' }), 'UNAUTHORIZED');
    pending.close();
    const user = await Client.open(server.ws(ECHO.path), as({ roles: [ECHO_ROLE] }));
    expect(user.connected?.data).toMatchObject({ namespace: ECHO.name, authenticated: true });
    user.close();
  });

  test('its authorisation rule decides, its frame cap and DTO apply, and it replies with its declared reply event', async () => {
    const denied = await Client.open(server.ws(ECHO.path), as({ roles: ['other'] }));
    expectError(await denied.call('echo.watch', { echoId: 'e1' }), 'UNAUTHORIZED');
    denied.close();
    const client = await Client.open(server.ws(ECHO.path), as({ roles: [ECHO_ROLE] }));
    const reply = await client.call('echo.watch', { echoId: 'e1' }, 'w1');
    expect(reply).toEqual({ event: 'echo.watching', data: { echoId: 'e1' }, id: 'w1' });
    expectError(await client.call('echo.watch', { echoId: 'NOT VALID' }), 'VALIDATION_FAILED');
    expectError(await client.call('echo.promised', { text: 'x'.repeat(ECHO_FRAME_CAP) }), 'PAYLOAD_TOO_LARGE');
    client.close();
  });

  test('HTTP publish follows its publish rule (topic key added; other target fields refused) and reaches its subscribers', async () => {
    const client = await Client.open(server.ws(ECHO.path), as({ roles: [ECHO_ROLE] }));
    await client.call('echo.watch', { echoId: 'e2' });
    await publish({ namespace: ECHO.name, topic: 'e2', data: { n: 1 } }).expect(202);
    expect(await client.next('echo.update')).toEqual({ event: 'echo.update', data: { n: 1, echoId: 'e2' } });
    const refused = await publish({ namespace: ECHO.name, userIds: ['u1'], data: {} }).expect(400);
    expect(JSON.stringify(refused.body)).toContain('userIds');
    await publish({ namespace: ECHO.name, data: {} }).expect(400);
    await publish({ namespace: 'no-such-namespace', topic: 'e2', data: {} }).expect(400);
    client.close();
  });

  test('closing removes its subscriptions without any cleanup code in its gateway', async () => {
    // The earlier tests' clients are gone once their closes are handled.
    await eventually(async () => (await server.stats()).subscriptions.subscriptions === 0);
    const before = 0;
    const clients = await Promise.all([1, 2, 3].map(() => Client.open(server.ws(ECHO.path), as({ roles: [ECHO_ROLE] }))));
    for (const [i, c] of clients.entries()) {
      await c.call('echo.watch', { echoId: `c${i}` });
      await c.call('echo.watch', { echoId: 'shared' });
    }
    expect((await server.stats()).subscriptions.subscriptions).toBe(before + 6);
    clients[0]!.close();
    clients[1]!.socket.terminate();
    clients[2]!.close();
    await eventually(async () => (await server.stats()).subscriptions.subscriptions === before);
  });
});

describe('handler results of every kind Nest allows', () => {
  test('a handler returning a Promise gets its reply, with the frame id', async () => {
    const client = await Client.open(server.ws(ECHO.path), as({ roles: [ECHO_ROLE] }));
    expect(await client.call('echo.promised', { text: 'hi' }, 'p1')).toEqual({ event: 'echo.text', data: { text: 'hi', via: 'promise' }, id: 'p1' });
    client.close();
  });

  test('a handler returning an Observable gets one reply per value it emits, each with the frame id', async () => {
    const client = await Client.open(server.ws(ECHO.path), as({ roles: [ECHO_ROLE] }));
    client.send({ event: 'echo.observed', data: { text: 'hey' }, id: 'o1' });
    expect(await client.next((f) => f.id === 'o1')).toEqual({ event: 'echo.text', data: { text: 'hey', via: 'observable-1' }, id: 'o1' });
    expect(await client.next((f) => f.id === 'o1')).toEqual({ event: 'echo.text', data: { text: 'hey', via: 'observable-2' }, id: 'o1' });
    client.close();
  });
});

describe('message-rate decorators', () => {
  test(`@MessageRate gives a handler its own limit (burst ${ECHO_LIMITED_RATE.burst}): the next frame → RATE_LIMITED with retryAfterMs; the connection's own rate is untouched`, async () => {
    const client = await Client.open(server.ws(ECHO.path), as({ roles: [ECHO_ROLE] }));
    for (let i = 0; i < ECHO_LIMITED_RATE.burst; i += 1) expect((await client.call('echo.limited', {})).event).toBe('echo.ok');
    const limited = await client.call('echo.limited', {});
    expectError(limited, 'RATE_LIMITED');
    expect(limited.retryAfterMs).toBeGreaterThan(5000);
    expect((await client.call('ping', {})).event).toBe('pong');
    client.close();
  });

  test('@SkipMessageRate: 100 frames at once, past the authenticated burst (40), are all answered; the connection stays open', async () => {
    const client = await Client.open(server.ws(ECHO.path), as({ roles: [ECHO_ROLE] }));
    for (let i = 0; i < 100; i += 1) client.send({ event: 'echo.unlimited', data: {}, id: i });
    for (let i = 0; i < 100; i += 1) expect((await client.next((f) => f.id === i)).event).toBe('echo.ok');
    expect((await client.call('ping', {})).event).toBe('pong');
    client.close();
  });
});
