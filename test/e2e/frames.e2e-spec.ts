/**
 * docs/protocol.md §3 and the tracking rows of §5: every frame is answered, errors use the one
 * envelope, per-event and global size caps, invalid-frame and rate-limit strikes.
 */
import type { Client, Frame, ServerHandle } from '../support/harness.js';
import { eventually, sleep, startServer } from '../support/harness.js';
import { as, ClientPool, expectAlive, expectError, expectIso, uniq } from '../support/e2e-helpers.js';

const MAX_INVALID = 6;
let server: ServerHandle;
const pool = new ClientPool(() => server);

beforeAll(async () => {
  // Message rates, payload cap and strike limit stay at the contract defaults.
  server = await startServer({ options: { maxInvalidFrames: MAX_INVALID } });
});

afterEach(async () => {
  await pool.drain();
});

afterAll(async () => {
  await server?.stop();
});

const authed = (path = '/ws/tracking'): Promise<Client> => pool.open(path, as({ sub: uniq('frames') }));

/** Sends a raw text frame and returns the next error envelope. */
async function rawError(client: Client, text: string): Promise<Frame> {
  client.send(text);
  return client.next('error');
}

/** Pads a JSON frame with insignificant whitespace to exactly `bytes` bytes. */
function padded(frame: Record<string, unknown>, bytes: number): string {
  const json = JSON.stringify(frame);
  const pad = bytes - Buffer.byteLength(json);
  if (pad < 0) throw new Error('frame already larger than requested');
  return `${json.slice(0, -1)}${' '.repeat(pad)}}`;
}

describe('finding 14: malformed JSON', () => {
  test.each(['{', 'hello', '{"event":"ping"', "{'event':'ping'}", ''])(
    'finding 14: invalid JSON %j is answered with INVALID_JSON and the connection stays open',
    async (text) => {
      const client = await authed();
      const error = await rawError(client, text);
      expectError(error, 'INVALID_JSON');
      expect(error).not.toHaveProperty('id');
      expect(error).not.toHaveProperty('request');
      await expectAlive(client);
    },
  );
});

describe('INVALID_MESSAGE: JSON that is not the frame shape', () => {
  test.each([
    ['an array', '[{"event":"ping"}]'],
    ['a string', '"ping"'],
    ['a number', '42'],
    ['null', 'null'],
    ['no event', '{"data":{}}'],
    ['an empty event', '{"event":""}'],
    ['a non-string event', '{"event":5}'],
    ['data as an array', '{"event":"ping","data":[]}'],
    ['data as a string', '{"event":"ping","data":"x"}'],
    ['data as a number', '{"event":"ping","data":1}'],
    ['data as null', '{"event":"ping","data":null}'],
  ])('finding 14/15: %s is answered with INVALID_MESSAGE and the connection stays open', async (_name, text) => {
    const client = await authed();
    expectError(await rawError(client, text), 'INVALID_MESSAGE');
    await expectAlive(client);
  });

  test.each([
    ['an empty string id', '{"event":"ping","id":""}'],
    ['a 65-character id', `{"event":"ping","id":"${'i'.repeat(65)}"}`],
    ['a fractional id', '{"event":"ping","id":1.5}'],
    ['an object id', '{"event":"ping","id":{"a":1}}'],
    ['a boolean id', '{"event":"ping","id":true}'],
  ])('finding 15: a bad id (%s) is INVALID_MESSAGE, not echoed, and names the request', async (_name, text) => {
    const client = await authed();
    const error = await rawError(client, text);
    expectError(error, 'INVALID_MESSAGE', { request: 'ping' });
    expect(error).not.toHaveProperty('id');
    await expectAlive(client);
  });

  test('finding 15: an unknown top-level key is INVALID_MESSAGE with id and request echoed', async () => {
    const client = await authed();
    const error = await rawError(client, '{"event":"ping","data":{},"id":"k1","userId":"u2"}');
    expectError(error, 'INVALID_MESSAGE', { id: 'k1', request: 'ping' });
    await expectAlive(client);
  });

  test('a binary frame is INVALID_MESSAGE and the connection stays open', async () => {
    const client = await authed();
    client.socket.send(Buffer.from(JSON.stringify({ event: 'ping', id: 'bin' })), { binary: true });
    expectError(await client.next('error'), 'INVALID_MESSAGE');
    await expectAlive(client);
  });

  test('data is optional and defaults to {}', async () => {
    const client = await authed();
    client.send({ event: 'ping', id: 'no-data' });
    const pong = await client.next((f) => f.id === 'no-data');
    expect(pong.event).toBe('pong');
  });
});

describe('UNKNOWN_EVENT', () => {
  test('finding 14/15: an event not handled on this path is UNKNOWN_EVENT with id and request', async () => {
    const client = await authed();
    expectError(await client.call('tracking.explode', {}, 'u1'), 'UNKNOWN_EVENT', { id: 'u1', request: 'tracking.explode' });
    await expectAlive(client);
  });

  test('tracking.subscribe on /ws/main is UNKNOWN_EVENT (handlers are per path)', async () => {
    const client = await authed('/ws/main');
    expectError(await client.call('tracking.subscribe', { trackingId: 'SHP-1' }, 'u2'), 'UNKNOWN_EVENT', { id: 'u2', request: 'tracking.subscribe' });
  });
});

describe('finding 6: VALIDATION_FAILED', () => {
  test('finding 6: a bad trackingId gets the exact message and details of the contract', async () => {
    const client = await authed();
    const error = await client.call('tracking.subscribe', { trackingId: 'SHP 1; DROP TABLE' }, 'r1');
    expectError(error, 'VALIDATION_FAILED', { id: 'r1', request: 'tracking.subscribe' });
    expect(error.message).toBe('trackingId must match ^[A-Za-z0-9_-]{1,64}$');
    expect(error.details).toEqual([{ field: 'trackingId', constraints: ['matches'] }]);
    await expectAlive(client);
  });

  test.each([
    ['a 65-character trackingId', { trackingId: 'a'.repeat(65) }, 'trackingId'],
    ['an empty trackingId', { trackingId: '' }, 'trackingId'],
    ['a numeric trackingId', { trackingId: 12345 }, 'trackingId'],
    ['a missing trackingId', {}, 'trackingId'],
    ['an unknown field', { trackingId: 'SHP-1', extra: 1 }, 'extra'],
    ['a userId in the payload', { trackingId: 'SHP-1', userId: 'someone' }, 'userId'],
    ['a username in the payload', { trackingId: 'SHP-1', username: 'someone' }, 'username'],
  ] as const)('finding 6: tracking.subscribe with %s is VALIDATION_FAILED naming the field', async (_name, data, field) => {
    const client = await authed();
    const error = await client.call('tracking.subscribe', data as Record<string, unknown>, 'v1');
    expectError(error, 'VALIDATION_FAILED', { id: 'v1', request: 'tracking.subscribe' });
    expect((error.details as Array<{ field: string }>).map((d) => d.field)).toContain(field);
    await expectAlive(client);
  });

  test('finding 6: a rejected subscribe creates no subscription', async () => {
    const client = await authed();
    expectError(await client.call('tracking.subscribe', { trackingId: 'OK-1', userId: 'x' }), 'VALIDATION_FAILED');
    expect((await server.stats()).subscriptions).toMatchObject({ topics: 0, subscriptions: 0 });
    await server.request({ cmd: 'trackingUpdate', trackingId: 'OK-1', data: { n: 1 } });
    await expectAlive(client);
    expect(client.all('tracking.update')).toHaveLength(0);
  });

  test('finding 6: ping with a field is VALIDATION_FAILED (DTOs forbid unknown fields)', async () => {
    const client = await authed();
    expectError(await client.call('ping', { x: 1 }, 'p1'), 'VALIDATION_FAILED', { id: 'p1', request: 'ping' });
  });
});

describe('finding 15: the envelope and ids', () => {
  test('finding 15: an error envelope carries exactly event, type, code, message, ISO timestamp, id and request', async () => {
    const client = await authed();
    const error = await client.call('nope', {}, 'env-1');
    expect(Object.keys(error).sort()).toEqual(['code', 'event', 'id', 'message', 'request', 'timestamp', 'type']);
    expect(error).toMatchObject({ event: 'error', type: 'error', code: 'UNKNOWN_EVENT', id: 'env-1', request: 'nope' });
    expectIso(error.timestamp);
    expect(Math.abs(Date.parse(error.timestamp as string) - Date.now())).toBeLessThan(10_000);
    const validation = await client.call('tracking.subscribe', { trackingId: '!' }, 'env-2');
    expect(Object.keys(validation).sort()).toEqual(['code', 'details', 'event', 'id', 'message', 'request', 'timestamp', 'type']);
  });

  test.each([['a string id', 'abc-123'], ['an integer id', 7], ['id 0', 0], ['a negative integer id', -42], ['a 64-character id', 'x'.repeat(64)]] as const)(
    'finding 15: %s is echoed on the reply and on an error',
    async (_name, id) => {
      const client = await authed();
      client.send({ event: 'tracking.subscribe', data: { trackingId: 'ID-1' }, id });
      expect(await client.next('tracking.subscribed')).toEqual({ event: 'tracking.subscribed', data: { trackingId: 'ID-1', offset: 0, epoch: expect.any(String) }, id });
      client.send({ event: 'tracking.subscribe', data: { trackingId: '!!' }, id });
      expectError(await client.next('error'), 'VALIDATION_FAILED', { id, request: 'tracking.subscribe' });
      client.send({ event: 'ping', data: {}, id });
      const pong = await client.next('pong');
      expect(pong.id).toBe(id);
    },
  );

  test('a reply to a frame without id carries no id', async () => {
    const client = await authed();
    client.send({ event: 'tracking.subscribe', data: { trackingId: 'NOID-1' } });
    const reply = await client.next('tracking.subscribed');
    expect(reply).toEqual({ event: 'tracking.subscribed', data: { trackingId: 'NOID-1', offset: 0, epoch: expect.any(String) } });
  });
});

describe('finding 10: frame sizes', () => {
  test('finding 10: tracking.subscribe over its 4 KiB cap (but under the global cap) is PAYLOAD_TOO_LARGE and subscribes nothing', async () => {
    const client = await authed();
    client.send(padded({ event: 'tracking.subscribe', data: { trackingId: 'BIG-1' }, id: 'big' }, 5000));
    const error = await client.next('error');
    expectError(error, 'PAYLOAD_TOO_LARGE', { id: 'big', request: 'tracking.subscribe' });
    expect((await server.stats()).subscriptions.topics).toBe(0);
    await expectAlive(client);
  });

  test('finding 10: the per-event cap is inclusive: 4096 bytes pass, 4097 do not', async () => {
    const client = await authed();
    client.send(padded({ event: 'tracking.subscribe', data: { trackingId: 'EDGE-1' }, id: 'at' }, 4096));
    expect((await client.next((f) => f.id === 'at')).event).toBe('tracking.subscribed');
    client.send(padded({ event: 'tracking.subscribe', data: { trackingId: 'EDGE-2' }, id: 'over' }, 4097));
    expectError(await client.next((f) => f.id === 'over'), 'PAYLOAD_TOO_LARGE', { id: 'over' });
  });

  test('finding 10: the size cap is enforced before validation (an oversized frame with unknown fields is PAYLOAD_TOO_LARGE)', async () => {
    const client = await authed();
    const error = await client.call('tracking.subscribe', { trackingId: 'SHP-1', junk: 'j'.repeat(6000) }, 'order');
    expectError(error, 'PAYLOAD_TOO_LARGE', { id: 'order', request: 'tracking.subscribe' });
  });

  test('a frame of exactly WS_MAX_PAYLOAD_BYTES (65536) is not closed: it gets PAYLOAD_TOO_LARGE for its event', async () => {
    const client = await authed();
    client.send(padded({ event: 'ping', data: {}, id: 'max' }, 65536));
    expectError(await client.next((f) => f.id === 'max'), 'PAYLOAD_TOO_LARGE', { id: 'max', request: 'ping' });
    await expectAlive(client);
  });

  test('a frame over WS_MAX_PAYLOAD_BYTES closes the connection with 1009', async () => {
    const client = await authed();
    client.send(padded({ event: 'ping', data: {} }, 65537 + 1000));
    expect((await client.waitClose()).code).toBe(1009);
    await eventually(async () => (await server.stats()).connections.connections === 0);
  });
});

describe('invalid-frame strikes', () => {
  test(`after WS_MAX_INVALID_FRAMES (${MAX_INVALID}) invalid frames of any kind the connection is closed with 4400`, async () => {
    const client = await authed();
    const bad = ['{', '[1]', '{"event":"nope"}', '{"event":"tracking.subscribe","data":{"trackingId":"!"}}', '"x"'];
    for (const text of bad.slice(0, MAX_INVALID - 1)) client.send(text);
    await eventually(() => client.all('error').length === MAX_INVALID - 1);
    await expectAlive(client);
    client.send('{"event":"still-unknown"}');
    expect((await client.waitClose()).code).toBe(4400);
    // Replies are not required to keep frame order (validation is asynchronous), so compare as sets.
    expect(client.all('error').map((e) => e.code).sort()).toEqual(
      ['INVALID_JSON', 'INVALID_MESSAGE', 'INVALID_MESSAGE', 'UNKNOWN_EVENT', 'UNKNOWN_EVENT', 'VALIDATION_FAILED'],
    );
  });

  test('errors that are not invalid frames (UNAUTHORIZED, PAYLOAD_TOO_LARGE) do not count towards 4400', async () => {
    const client = await authed();
    for (let i = 0; i < MAX_INVALID; i += 1) {
      expectError(await client.call('auth.refresh', { token: 'x' }), 'UNAUTHORIZED');
      expectError(await client.call('tracking.subscribe', { trackingId: 'S', pad: 'p'.repeat(5000) }), 'PAYLOAD_TOO_LARGE');
    }
    await expectAlive(client);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
  });
});

describe('finding 9: message rates', () => {
  test('finding 9: an anonymous connection gets RATE_LIMITED with retryAfterMs after its burst of 10', async () => {
    const client = await pool.open('/ws/tracking');
    for (let i = 0; i < 12; i += 1) client.send({ event: 'ping', data: {}, id: `a${i}` });
    await eventually(() => client.all('pong').length + client.all('error').length === 12);
    // Replies may arrive out of order; what matters is which frames were served.
    const served = client.all('pong').map((f) => f.id);
    const limited = client.all('error');
    expect(served.length).toBeGreaterThanOrEqual(10);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 10; i += 1) expect(served).toContain(`a${i}`);
    for (const error of limited) {
      expectError(error, 'RATE_LIMITED', { request: 'ping' });
      expect(String(error.id)).toMatch(/^a1[01]$/);
    }
    expect(client.socket.readyState).toBe(client.socket.OPEN);
  });

  test('finding 9: sustained abuse (WS_MAX_RATE_LIMIT_STRIKES = 10 RATE_LIMITED) closes the connection with 4429', async () => {
    const client = await pool.open('/ws/main');
    for (let i = 0; i < 30; i += 1) client.send({ event: 'ping', data: {}, id: i });
    expect((await client.waitClose()).code).toBe(4429);
    expect(client.all('error').filter((e) => e.code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(10);
  });

  test('finding 9: an authenticated connection has the larger burst (40)', async () => {
    const client = await authed('/ws/main');
    for (let i = 0; i < 44; i += 1) client.send({ event: 'ping', data: {}, id: i });
    await eventually(() => client.all('pong').length + client.all('error').length === 44);
    const pongs = client.all('pong').length;
    expect(pongs).toBeGreaterThanOrEqual(40);
    expect(pongs).toBeLessThan(44);
    for (const e of client.all('error')) expectError(e, 'RATE_LIMITED', { request: 'ping' });
    // The first 40 frames were all served.
    const served = client.all('pong').map((f) => f.id);
    for (let i = 0; i < 40; i += 1) expect(served).toContain(i);
  });

  test('finding 9: the bucket refills: after retryAfterMs an anonymous connection is served again', async () => {
    const client = await pool.open('/ws/tracking');
    for (let i = 0; i < 11; i += 1) client.send({ event: 'ping', data: {} });
    const limited = await client.next('error');
    expect(limited.code).toBe('RATE_LIMITED');
    await sleep((limited.retryAfterMs as number) + 50);
    await expectAlive(client);
  });
});

describe('UNAUTHORIZED', () => {
  test('finding 19: auth.refresh on an anonymous connection is UNAUTHORIZED and the connection stays open', async () => {
    const client = await pool.open('/ws/tracking');
    const reply = await client.call('auth.refresh', { token: 'whatever' }, 'ref-1');
    expectError(reply, 'UNAUTHORIZED', { id: 'ref-1', request: 'auth.refresh' });
    await expectAlive(client);
  });
});
