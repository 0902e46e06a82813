/**
 * docs/protocol.md §8 (server-side publishing over HTTP), the health endpoints of §1, and the
 * startup checks of §8/§9 on the production entry point (finding 1).
 */
import request from 'supertest';
import { handshakeStatus, runMain, type ServerHandle, startServer, token } from '../support/harness.js';
import { BODY, bearer, ClientPool, expectAlive } from '../support/e2e-helpers.js';

const API_KEY = 'http-api-e2e-key-0123456789abcdefghij';
const NOT_FOUND = { code: 'NOT_FOUND', message: 'Not Found' };
const UNAUTHORIZED = { code: 'UNAUTHORIZED', message: 'Unauthorized' };

let api: ServerHandle; // REALTIME_API_KEY set
let closed: ServerHandle; // no API key
const pool = new ClientPool(() => api);

beforeAll(async () => {
  [api, closed] = await Promise.all([startServer({ options: { apiKey: API_KEY } }), startServer()]);
});

afterEach(async () => {
  await pool.drain();
});

afterAll(async () => {
  await Promise.all([api, closed].map((s) => s?.stop()));
});

/** POSTs JSON to the API server with `key` as X-Api-Key (null: no header at all). */
const post = (path: string, body: unknown, key: string | null = API_KEY) => {
  const req = request(api.http()).post(path).set('Content-Type', 'application/json');
  return key === null ? req.send(body as object) : req.set('X-Api-Key', key).send(body as object);
};

describe('without REALTIME_API_KEY', () => {
  test.each(['/realtime/publish', '/realtime/disconnect', '/realtime/revoke'])('POST %s is 404 with the NOT_FOUND body, with or without a key', async (path) => {
    const bare = await request(closed.http()).post(path).send({ namespace: 'main', data: {} });
    expect(bare.status).toBe(404);
    expect(bare.body).toEqual(NOT_FOUND);
    const keyed = await request(closed.http()).post(path).set('X-Api-Key', API_KEY).send({ namespace: 'main', data: {} });
    expect(keyed.status).toBe(404);
    expect(keyed.body).toEqual(NOT_FOUND);
  });
});

describe('X-Api-Key', () => {
  test.each([
    ['a missing key', null],
    ['a wrong key of the same length', 'x'.repeat(API_KEY.length)],
    ['a prefix of the key', API_KEY.slice(0, -1)],
    ['the key plus one character', `${API_KEY}x`],
    ['the key in upper case', API_KEY.toUpperCase()],
    ['an empty key', ''],
  ])('%s is 401 with the UNAUTHORIZED body and has no effect', async (_name, key) => {
    const client = await pool.open('/ws/main', bearer(token({ sub: 'api-victim' })));
    const valid: Record<string, object> = {
      '/realtime/publish': { namespace: 'main', data: { leak: true } },
      '/realtime/disconnect': { userId: 'api-victim' },
      '/realtime/revoke': { userId: 'api-victim' },
    };
    for (const [path, body] of Object.entries(valid)) {
      const res = await post(path, body, key);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(UNAUTHORIZED);
    }
    await expectAlive(client);
    expect(client.all('system.announcement')).toHaveLength(0);
  });
});

/**
 * The standalone server answers the plain publish from its fast path (src/http/publish-fast-path.ts);
 * any other shape (here a query string) goes through the Nest route. Both must answer alike.
 */
const ROUTES = [
  ['fast path', '/realtime/publish'],
  ['Nest route', '/realtime/publish?via=nest'],
] as const;

test('the plain publish takes the fast path, a query string the Nest route (Express marks its answers)', async () => {
  const fast = await post('/realtime/publish', { namespace: 'main', data: {} });
  const routed = await post('/realtime/publish?via=nest', { namespace: 'main', data: {} });
  expect([fast.status, routed.status]).toEqual([202, 202]);
  expect(fast.headers['x-powered-by']).toBeUndefined();
  expect(routed.headers['x-powered-by']).toBe('Express');
  expect(fast.headers['content-type']).toBe(routed.headers['content-type']);
});

describe.each(ROUTES)('%s', (_route, PUBLISH) => {
  test.each([
    ['a body that is not JSON', '{"namespace":', 400, { code: 'VALIDATION_FAILED', message: 'Request body is not valid JSON', details: [] }],
    ['a JSON string', '"x"', 400, { code: 'VALIDATION_FAILED', message: 'Request body is not valid JSON', details: [] }],
    ['an empty body', '', 400, undefined],
  ])('%s is answered %i as the contract says', async (_name, raw, status, body) => {
    const res = await request(api.http()).post(PUBLISH).set('Content-Type', 'application/json').set('X-Api-Key', API_KEY).send(raw);
    expect(res.status).toBe(status);
    if (body) expect(res.body).toEqual(body);
    else expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  test('a wrong key is 401 UNAUTHORIZED; a body over 1 MiB is 413 whatever the key', async () => {
    const wrong = await post(PUBLISH, { namespace: 'main', data: {} }, 'x'.repeat(API_KEY.length));
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(UNAUTHORIZED);
    // 8 MiB with `Connection: close` as well: the body is read off before the answer, so a
    // client still uploading gets its 413 rather than a broken pipe when the server closes.
    for (const size of [1024 * 1024, 8 * 1024 * 1024]) {
      const big = JSON.stringify({ namespace: 'main', data: { pad: 'p'.repeat(size) } });
      for (const key of [API_KEY, null]) {
        const res = await post(PUBLISH, big, key).set('Connection', 'close');
        expect(res.status).toBe(413);
        expect(res.body).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: 'Payload Too Large' });
      }
    }
  });

  describe('POST /realtime/publish', () => {
    test('tracking: 202 {"accepted":true}; subscribers of the topic get tracking.update with trackingId added, others nothing', async () => {
      const subscriber = await pool.open('/ws/tracking');
      const bystander = await pool.open('/ws/tracking');
      await subscriber.call('tracking.subscribe', { trackingId: 'HTTP-1' });
      await bystander.call('tracking.subscribe', { trackingId: 'HTTP-2' });
      const res = await post(PUBLISH, { namespace: 'tracking', topic: 'HTTP-1', data: { status: 'in_transit', eta: 5 } });
      expect(res.status).toBe(202);
      expect(res.text).toBe('{"accepted":true}');
      // Never cached, so not hashed for an ETag on every publish.
      expect(res.headers.etag).toBeUndefined();
      const update = await subscriber.next('tracking.update');
      expect(update).toEqual({ event: 'tracking.update', data: { status: 'in_transit', eta: 5, trackingId: 'HTTP-1' }, offset: expect.any(Number), epoch: expect.any(String) });
      await expectAlive(bystander);
      expect(bystander.all('tracking.update')).toHaveLength(0);
    });

    test('main: system.announcement reaches /ws/main connections only', async () => {
      const onMain = await pool.open('/ws/main');
      const authedMain = await pool.open('/ws/main', bearer(token({ sub: 'reader' })));
      const onTracking = await pool.open('/ws/tracking');
      const res = await post(PUBLISH, { namespace: 'main', data: { text: 'maintenance at 22:00' } });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: true });
      for (const c of [onMain, authedMain]) {
        expect(await c.next('system.announcement')).toEqual({ event: 'system.announcement', data: { text: 'maintenance at 22:00' } });
      }
      await expectAlive(onTracking);
      expect(onTracking.all('system.announcement')).toHaveLength(0);
    });

    test.each([
      ['an unknown namespace', { namespace: 'weather', data: {} }, 'namespace'],
      ['a missing namespace', { topic: 'A', data: {} }, 'namespace'],
      ['a tracking publish without topic', { namespace: 'tracking', data: {} }, 'topic'],
      ['a bad topic pattern', { namespace: 'tracking', topic: 'no spaces!', data: {} }, 'topic'],
      ['a 65-character topic', { namespace: 'tracking', topic: 't'.repeat(65), data: {} }, 'topic'],
      ['data over 64 KiB', { namespace: 'tracking', topic: 'BIG', data: { blob: 'b'.repeat(66 * 1024) } }, 'data'],
      ['data that is not an object', { namespace: 'main', data: ['x'] }, 'data'],
      ['an unknown body field', { namespace: 'main', data: {}, extra: 1 }, 'extra'],
    ])('%s is 400 VALIDATION_FAILED with details naming the field', async (_name, body, field) => {
      const client = await pool.open('/ws/main');
      const res = await post(PUBLISH, body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(typeof res.body.message).toBe('string');
      expect(res.body.message).not.toMatch(/\n\s+at |\.(ts|js):\d+/);
      expect(Array.isArray(res.body.details)).toBe(true);
      expect((res.body.details as Array<{ field: string }>).map((d) => d.field)).toContain(field);
      await expectAlive(client);
      expect(client.all('system.announcement')).toHaveLength(0);
    });

    test('data of exactly 64 KiB is accepted', async () => {
      const subscriber = await pool.open('/ws/tracking');
      await subscriber.call('tracking.subscribe', { trackingId: 'EDGE' });
      const data = { blob: '' };
      data.blob = 'b'.repeat(64 * 1024 - Buffer.byteLength(JSON.stringify(data)));
      const res = await post(PUBLISH, { namespace: 'tracking', topic: 'EDGE', data });
      expect(res.status).toBe(202);
      expect((await subscriber.next('tracking.update')).data?.blob).toBe(data.blob);
    });
  });

  describe('POST /realtime/publish with a batch (an array)', () => {
    const tracking = (topic: string, n: number) => ({ namespace: 'tracking', topic, data: { n } });

    test('202 {"accepted":true,"count":N}; items delivered in array order, two for one topic in that order to each subscriber', async () => {
      const first = await pool.open('/ws/tracking');
      const second = await pool.open('/ws/tracking');
      const onMain = await pool.open('/ws/main');
      for (const c of [first, second]) await c.call('tracking.subscribe', { trackingId: 'BATCH-1' });
      const batch = [tracking('BATCH-1', 1), { namespace: 'main', data: { text: 'between' } }, tracking('BATCH-1', 2), tracking('BATCH-1', 3)];
      const res = await post(PUBLISH, batch);
      expect(res.status).toBe(202);
      expect(res.text).toBe('{"accepted":true,"count":4}');
      for (const c of [first, second]) {
        await c.next((f) => f.event === 'tracking.update' && f.data?.n === 3);
        expect(c.all('tracking.update').map((f) => f.data)).toEqual([1, 2, 3].map((n) => ({ n, trackingId: 'BATCH-1' })));
      }
      expect((await onMain.next('system.announcement')).data).toEqual({ text: 'between' });
    });

    test('one invalid item refuses the whole batch: 400 VALIDATION_FAILED, details carry index beside field and constraints, nothing delivered', async () => {
      const subscriber = await pool.open('/ws/tracking');
      await subscriber.call('tracking.subscribe', { trackingId: 'BATCH-2' });
      const batch = [
        tracking('BATCH-2', 1),
        { namespace: 'tracking', topic: 'no spaces!', data: {} }, // DTO rule
        tracking('BATCH-2', 2),
        { namespace: 'tracking', data: {} }, // namespace rule: topic required
        { namespace: 'main', data: {}, extra: 1 }, // unknown field
      ];
      const res = await post(PUBLISH, batch);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(typeof res.body.message).toBe('string');
      const details = res.body.details as Array<{ index: number; field: string; constraints: string[] }>;
      expect(details).toContainEqual({ index: 1, field: 'topic', constraints: ['matches'] });
      expect(details).toContainEqual({ index: 4, field: 'extra', constraints: ['whitelistValidation'] });
      for (const d of details) expect(Array.isArray(d.constraints)).toBe(true);
      await expectAlive(subscriber);
      expect(subscriber.all('tracking.update')).toHaveLength(0);
    });

    test('an item valid by the DTO but not by its namespace rule refuses the batch with its index', async () => {
      const subscriber = await pool.open('/ws/tracking');
      await subscriber.call('tracking.subscribe', { trackingId: 'BATCH-3' });
      const res = await post(PUBLISH, [tracking('BATCH-3', 1), { namespace: 'tracking', data: {} }, { namespace: 'mololink', event: 'mololink.x', data: {} }]);
      expect(res.status).toBe(400);
      expect(res.body.details).toEqual([
        { index: 1, field: 'topic', constraints: ['isDefined'] },
        { index: 2, field: 'userIds', constraints: ['target'] },
      ]);
      await expectAlive(subscriber);
      expect(subscriber.all('tracking.update')).toHaveLength(0);
    });

    test.each([
      ['an empty array', []],
      ['1,001 items', Array.from({ length: 1001 }, (_, n) => tracking('BATCH-4', n))],
      ['an item that is not an object', [tracking('BATCH-4', 1), 'x']],
    ])('%s is 400 VALIDATION_FAILED', async (_name, body) => {
      const subscriber = await pool.open('/ws/tracking');
      await subscriber.call('tracking.subscribe', { trackingId: 'BATCH-4' });
      const res = await post(PUBLISH, body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(Array.isArray(res.body.details)).toBe(true);
      await expectAlive(subscriber);
      expect(subscriber.all('tracking.update')).toHaveLength(0);
    });

    test('1,000 items in exactly 1 MiB are accepted; one byte more is 413 PAYLOAD_TOO_LARGE and nothing is delivered', async () => {
      const subscriber = await pool.open('/ws/tracking');
      await subscriber.call('tracking.subscribe', { trackingId: 'BATCH-5' });
      /** 1,000 items whose JSON is exactly `bytes` long (each item's data far below 64 KiB). */
      const batchOf = (topic: string, bytes: number) => {
        const batch = Array.from({ length: 1000 }, (_, n) => ({ namespace: 'tracking', topic, data: { n, pad: '' } }));
        const room = bytes - Buffer.byteLength(JSON.stringify(batch));
        for (const item of batch) item.data.pad = 'p'.repeat(Math.floor(room / 1000));
        batch[0]!.data.pad += 'p'.repeat(room % 1000);
        expect(Buffer.byteLength(JSON.stringify(batch))).toBe(bytes);
        return batch;
      };
      const over = await post(PUBLISH, batchOf('BATCH-5', 1024 * 1024 + 1));
      expect(over.status).toBe(413);
      expect(over.body).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: 'Payload Too Large' });
      await expectAlive(subscriber);
      expect(subscriber.all('tracking.update')).toHaveLength(0);

      // The exact size, to a topic nobody reads (1 MiB of frames at once is past one socket's send buffer).
      const ok = await post(PUBLISH, batchOf('BATCH-5-UNREAD', 1024 * 1024));
      expect(ok.status).toBe(202);
      expect(ok.body).toEqual({ accepted: true, count: 1000 });
    });
  });

});

describe('POST /realtime/disconnect and /realtime/revoke', () => {
  test('disconnect {userId}: 202 and every connection of the user closes with 4401', async () => {
    const a = await pool.open('/ws/main', bearer(token({ sub: 'http-kick' })));
    const b = await pool.open('/ws/tracking', bearer(token({ sub: 'http-kick' })));
    const other = await pool.open('/ws/main', bearer(token({ sub: 'http-stay' })));
    const res = await post('/realtime/disconnect', { userId: 'http-kick' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: true });
    expect((await a.waitClose()).code).toBe(4401);
    expect((await b.waitClose()).code).toBe(4401);
    await expectAlive(other);
  });

  test('revoke {jti}: 202, matching connections close with 4401, and the token is refused afterwards', async () => {
    const revoked = token({ sub: 'http-rev', jti: 'http-jti-1' });
    const client = await pool.open('/ws/tracking', bearer(revoked));
    const sibling = await pool.open('/ws/main', bearer(token({ sub: 'http-rev', jti: 'http-jti-2' })));
    const res = await post('/realtime/revoke', { jti: 'http-jti-1' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: true });
    expect((await client.waitClose()).code).toBe(4401);
    await expectAlive(sibling);
    const again = await handshakeStatus(api.ws('/ws/main'), bearer(revoked));
    expect(again.status).toBe(401);
    expect(again.body).toBe(BODY[401]);
  });

  test('revoke {userId}: 202, all their connections close with 4401, and their earlier tokens are refused', async () => {
    const earlier = token({ sub: 'http-rev-user', iat: Math.floor(Date.now() / 1000) - 10 });
    const a = await pool.open('/ws/main', bearer(earlier));
    const res = await post('/realtime/revoke', { userId: 'http-rev-user' });
    expect(res.status).toBe(202);
    expect((await a.waitClose()).code).toBe(4401);
    const again = await handshakeStatus(api.ws('/ws/tracking'), bearer(earlier));
    expect(again.status).toBe(401);
    expect(again.body).toBe(BODY[401]);
  });

  test.each([
    ['/realtime/disconnect', {}],
    ['/realtime/disconnect', { userId: '' }],
    ['/realtime/disconnect', { userId: 'u', extra: true }],
    ['/realtime/revoke', {}],
    ['/realtime/revoke', { jti: 5 }],
  ])('POST %s with %j is 400 VALIDATION_FAILED with details', async (path, body) => {
    const res = await post(path, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(Array.isArray(res.body.details)).toBe(true);
    expect(res.body.details.length).toBeGreaterThan(0);
  });
});

describe('health', () => {
  test('/health/live and /health/ready are 200 on a running server, with or without an API key', async () => {
    for (const server of [api, closed]) {
      const live = await request(server.http()).get('/health/live');
      expect(live.status).toBe(200);
      expect(live.body.status).toBe('ok');
      const ready = await request(server.http()).get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('ok');
    }
  });
});

describe('startup of the production entry (dist/main.js)', () => {
  const SECRET_32 = 's'.repeat(32);

  test('control: with a 32-byte JWT_SECRET the server starts and listens', async () => {
    const run = await runMain({ JWT_SECRET: SECRET_32 });
    expect(run.listened).toBe(true);
  });

  test('finding 1: without JWT_SECRET (or JWT_PUBLIC_KEY) startup fails non-zero, naming JWT_SECRET, before listening', async () => {
    const run = await runMain({});
    expect(run.listened).toBe(false);
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stderr).toContain('JWT_SECRET');
  });

  test('finding 1: a 10-byte JWT_SECRET fails startup non-zero, naming JWT_SECRET', async () => {
    const run = await runMain({ JWT_SECRET: '0123456789' });
    expect(run.listened).toBe(false);
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stderr).toContain('JWT_SECRET');
    expect(run.stderr).not.toContain('0123456789');
  });

  test('finding 1: a 31-byte JWT_SECRET (one short of the minimum) fails startup', async () => {
    const run = await runMain({ JWT_SECRET: 's'.repeat(31) });
    expect(run.listened).toBe(false);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('JWT_SECRET');
  });

  test('a 10-character REALTIME_API_KEY fails startup non-zero, naming REALTIME_API_KEY', async () => {
    const run = await runMain({ JWT_SECRET: SECRET_32, REALTIME_API_KEY: 'short-key!' });
    expect(run.listened).toBe(false);
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stderr).toContain('REALTIME_API_KEY');
    expect(run.stderr).not.toContain('short-key!');
  });
});

