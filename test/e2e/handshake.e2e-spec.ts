/**
 * docs/protocol.md §2: the checks made at the HTTP upgrade, their order, statuses and bodies.
 */
import { eventually, handshakeStatus, type ServerHandle, startServer, token } from '../support/harness.js';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { BODY, bearer, ClientPool, rawUpgrade } from '../support/e2e-helpers.js';

const APP_ORIGIN = 'https://app.example.com';

let main: ServerHandle; // general checks
let limited: ServerHandle; // handshake rate 5/min
let caps: ServerHandle; // per-user 2, anonymous per IP 3
let cookie: ServerHandle; // AUTH_COOKIE_NAME=sid
let query: ServerHandle; // ALLOW_QUERY_TOKEN=true
const pools: ClientPool[] = [];
const pool = (server: () => ServerHandle): ClientPool => {
  const p = new ClientPool(server);
  pools.push(p);
  return p;
};
const onMain = pool(() => main);
const onCaps = pool(() => caps);
const onCookie = pool(() => cookie);
const onQuery = pool(() => query);

/** Every token this file hands to a server; none may appear in any server output. */
const issued: string[] = [];
const tok = (claims: Record<string, unknown> = {}): string => {
  const t = token(claims);
  issued.push(t);
  return t;
};

beforeAll(async () => {
  [main, limited, caps, cookie, query] = await Promise.all([
    startServer({ options: { allowedOrigins: [APP_ORIGIN], authTimeoutMs: 400 } }),
    startServer({ options: { handshakeRatePerIp: 5 } }),
    startServer({ options: { maxConnectionsPerUser: 2, maxAnonConnectionsPerIp: 3 } }),
    startServer({ options: { authCookieName: 'sid' } }),
    startServer({ options: { allowQueryToken: true } }),
  ]);
});

afterEach(async () => {
  for (const p of pools) await p.drain();
});

afterAll(async () => {
  await Promise.all([main, limited, caps, cookie, query].map((s) => s?.stop()));
});

describe('the accepted upgrade on the wire', () => {
  /** The bytes of the first read after sending an upgrade by hand. */
  const firstRead = (path: string, port = main.port): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        const key = randomBytes(16).toString('base64');
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`);
      });
      socket.once('data', (chunk: Buffer) => {
        socket.destroy();
        resolve(chunk.toString('latin1'));
      });
      socket.on('error', reject);
    });

  test('the 101 response and the connected frame leave in one write (one segment on the wire)', async () => {
    // Two writes would reach a reader that is already waiting as two reads, almost always;
    // twenty tries so that a second write cannot slip through.
    for (let i = 0; i < 20; i += 1) {
      const read = await firstRead('/ws/main');
      expect(read.startsWith('HTTP/1.1 101 ')).toBe(true);
      expect(read).toContain('{"event":"connected"');
    }
  });

  describe('with WS_WRITE_DELAY_MS', () => {
    const DELAY_MS = 40;
    let delayed: ServerHandle;
    // Not in `pools`: the file's afterEach drains those before this server exists.
    const onDelayed = new ClientPool(() => delayed);

    beforeAll(async () => {
      delayed = await startServer({ options: { writeDelayMs: DELAY_MS } });
    });

    afterAll(async () => {
      await onDelayed.drain();
      await delayed?.stop();
    });

    test('the 101 and the connected frame are held together for the delay, then leave in one write; the connection works', async () => {
      const started = Date.now();
      const read = await firstRead('/ws/main', delayed.port);
      expect(Date.now() - started).toBeGreaterThanOrEqual(DELAY_MS - 15);
      expect(read.startsWith('HTTP/1.1 101 ')).toBe(true);
      expect(read).toContain('{"event":"connected"');
      const client = await onDelayed.open('/ws/tracking', bearer(tok({ sub: 'delayed-user' })));
      await client.call('tracking.subscribe', { trackingId: 'DELAYED-1' });
      await delayed.request({ cmd: 'trackingUpdate', trackingId: 'DELAYED-1', data: { status: 'held' } });
      expect(await client.next('tracking.update')).toMatchObject({ data: { status: 'held', trackingId: 'DELAYED-1' } });
    });
  });
});

describe('§2.2 unknown paths', () => {
  test.each(['/ws/unknown', '/', '/ws', '/ws/main/extra', '/ws/MAIN', '/socket.io/?EIO=4&transport=websocket'])(
    '%s is refused with 404 and the exact NOT_FOUND body, never a hanging socket',
    async (path) => {
      const res = await handshakeStatus(main.ws(path));
      expect(res.status).toBe(404);
      expect(res.body).toBe(BODY[404]);
    },
  );

  test('a known path with a query string is served', async () => {
    const client = await onMain.open('/ws/main?v=1');
    expect(client.connected?.data).toMatchObject({ namespace: 'main', authenticated: false });
  });

  test('the path check comes before the Origin check (foreign Origin on an unknown path is 404)', async () => {
    const res = await handshakeStatus(main.ws('/ws/nope'), { headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(404);
    expect(res.body).toBe(BODY[404]);
  });
});

describe('§2.3 Origin', () => {
  test.each(['https://evil.example', 'http://127.0.0.1.evil.example', `${APP_ORIGIN}.evil.example`, 'https://sub.app.example.com', 'null', 'http://localhost'])(
    'a foreign Origin %s is refused with 403 and the exact FORBIDDEN body',
    async (origin) => {
      const res = await handshakeStatus(main.ws('/ws/tracking'), { headers: { origin } });
      expect(res.status).toBe(403);
      expect(res.body).toBe(BODY[403]);
    },
  );

  test('the same origin as the Host header passes', async () => {
    const client = await onMain.open('/ws/tracking', { origin: `http://127.0.0.1:${main.port}` });
    expect(client.connected?.data).toMatchObject({ namespace: 'tracking' });
  });

  test('an Origin listed in ALLOWED_ORIGINS passes (exact match)', async () => {
    const client = await onMain.open('/ws/main', { origin: APP_ORIGIN });
    expect(client.connected?.data).toMatchObject({ namespace: 'main' });
  });

  test('a request without Origin (non-browser client) passes', async () => {
    const res = await rawUpgrade(main.port, '/ws/main');
    expect(res.status).toBe(101);
  });

  test('the Origin check comes before credentials (foreign Origin with a bad token is 403, not 401)', async () => {
    const res = await handshakeStatus(main.ws('/ws/main'), bearer('not-a-jwt', { headers: { origin: 'https://evil.example' } }));
    expect(res.status).toBe(403);
    expect(res.body).toBe(BODY[403]);
  });
});

describe('§2.4 handshake rate per IP', () => {
  test('over WS_HANDSHAKE_RATE_PER_IP the upgrade is 429 with Retry-After and the exact body; credentials are not even checked', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await handshakeStatus(limited.ws('/ws/main'))).status);
    expect(statuses).toEqual([101, 101, 101, 101, 101]);
    const refused = await handshakeStatus(limited.ws('/ws/main'));
    expect(refused.status).toBe(429);
    expect(refused.body).toBe(BODY[429]);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    // The rate check (step 4) precedes the credential check (step 5).
    const withBadToken = await handshakeStatus(limited.ws('/ws/tracking'), bearer('not-a-jwt'));
    expect(withBadToken.status).toBe(429);
    expect(withBadToken.body).toBe(BODY[429]);
  });
});

describe('§2.5 credentials', () => {
  test('Authorization: Bearer authenticates the connection', async () => {
    const client = await onMain.open('/ws/tracking', bearer(tok({ sub: 'hdr-user' })));
    expect(client.connected?.data).toMatchObject({ authenticated: true, userId: 'hdr-user' });
  });

  test('the cookie access_token authenticates the connection (among other cookies)', async () => {
    const client = await onMain.open('/ws/main', { headers: { cookie: `theme=dark; access_token=${tok({ sub: 'cookie-user' })}; lang=en` } });
    expect(client.connected?.data).toMatchObject({ authenticated: true, userId: 'cookie-user' });
  });

  test('the Authorization header wins over the cookie', async () => {
    const client = await onMain.open('/ws/main', {
      headers: { authorization: `Bearer ${tok({ sub: 'from-header' })}`, cookie: `access_token=${tok({ sub: 'from-cookie' })}` },
    });
    expect(client.connected?.data).toMatchObject({ authenticated: true, userId: 'from-header' });
  });

  test('an invalid Authorization header is a 401 even when the cookie holds a valid token (first found wins)', async () => {
    const res = await handshakeStatus(main.ws('/ws/main'), {
      headers: { authorization: 'Bearer not-a-jwt', cookie: `access_token=${tok({ sub: 'from-cookie' })}` },
    });
    expect(res.status).toBe(401);
    expect(res.body).toBe(BODY[401]);
  });

  test('an invalid cookie token on an optional path is 401, not a silent anonymous connection', async () => {
    const res = await handshakeStatus(main.ws('/ws/tracking'), { headers: { cookie: 'access_token=not-a-jwt' } });
    expect(res.status).toBe(401);
    expect(res.body).toBe(BODY[401]);
  });

  test('AUTH_COOKIE_NAME selects the cookie: sid authenticates, access_token is then just another cookie', async () => {
    const viaSid = await onCookie.open('/ws/main', { headers: { cookie: `sid=${tok({ sub: 'sid-user' })}` } });
    expect(viaSid.connected?.data).toMatchObject({ authenticated: true, userId: 'sid-user' });
    const viaDefault = await onCookie.open('/ws/main', { headers: { cookie: `access_token=${tok({ sub: 'ignored' })}` } });
    expect(viaDefault.connected?.data).toMatchObject({ authenticated: false, userId: null });
  });

  test('finding 2: a token query parameter is ignored on an optional path (the connection is anonymous)', async () => {
    const t = tok({ sub: 'query-user' });
    const client = await onMain.open(`/ws/tracking?token=${t}`);
    expect(client.connected?.data).toMatchObject({ authenticated: false, userId: null, expiresAt: null });
    // Ignored means ignored: an invalid query token is not a 401 either.
    const invalid = await onMain.open('/ws/main?token=not-a-jwt');
    expect(invalid.connected?.data).toMatchObject({ authenticated: false, userId: null });
  });

  test('finding 2: a token query parameter is ignored on an auth-required path (the connection is pending, then 4401)', async () => {
    const t = tok({ sub: 'query-user' });
    const client = await onMain.open(`/ws/notifications?token=${t}`);
    expect(client.connected?.data).toMatchObject({ namespace: 'notifications', authenticated: false, userId: null, expiresAt: null });
    const closed = await client.waitClose(3000);
    expect(closed.code).toBe(4401);
  });

  test('finding 2: the ignored query token is logged as a deprecated attempt, without the token', async () => {
    const t = tok({ sub: 'logged-user' });
    const before = main.output().length;
    await onMain.open(`/ws/main?token=${t}`);
    await eventually(() => /deprecat/i.test(main.output().slice(before)), 3000);
    expect(main.output()).not.toContain(t);
  });

  test('finding 2: with ALLOW_QUERY_TOKEN=true a query token authenticates, and an invalid one is 401', async () => {
    const t = tok({ sub: 'query-ok' });
    const client = await onQuery.open(`/ws/tracking?token=${t}`);
    expect(client.connected?.data).toMatchObject({ authenticated: true, userId: 'query-ok' });
    const res = await handshakeStatus(query.ws('/ws/tracking?token=not-a-jwt'));
    expect(res.status).toBe(401);
    expect(res.body).toBe(BODY[401]);
    expect(query.output()).not.toContain(t);
  });
});

describe('§2 negotiation', () => {
  test('an offered Sec-WebSocket-Protocol is never echoed back', async () => {
    const res = await rawUpgrade(main.port, '/ws/main', { 'Sec-WebSocket-Protocol': 'chat, superchat' });
    expect(res.status).toBe(101);
    expect(res.headers['sec-websocket-protocol']).toBeUndefined();
    const withToken = await rawUpgrade(main.port, '/ws/tracking', {
      'Sec-WebSocket-Protocol': 'access_token',
      Authorization: `Bearer ${tok({ sub: 'proto-user' })}`,
    });
    expect(withToken.status).toBe(101);
    expect(withToken.headers['sec-websocket-protocol']).toBeUndefined();
  });

  test('permessage-deflate is not negotiated', async () => {
    const res = await rawUpgrade(main.port, '/ws/main', { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' });
    expect(res.status).toBe(101);
    expect(res.headers['sec-websocket-extensions']).toBeUndefined();
    const client = await onMain.open('/ws/main', { perMessageDeflate: true });
    expect(client.socket.extensions).toBe('');
  });
});

describe('§2.7 connection caps', () => {
  test('finding 12: the per-user cap counts /ws/main and /ws/tracking together; the next one is 429 with Retry-After', async () => {
    await onCaps.open('/ws/main', bearer(tok({ sub: 'capped' })));
    await onCaps.open('/ws/tracking', bearer(tok({ sub: 'capped' })));
    const refused = await handshakeStatus(caps.ws('/ws/tracking'), bearer(tok({ sub: 'capped' })));
    expect(refused.status).toBe(429);
    expect(refused.body).toBe(BODY[429]);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const refusedMain = await handshakeStatus(caps.ws('/ws/main'), bearer(tok({ sub: 'capped' })));
    expect(refusedMain.status).toBe(429);
    // Another user is not affected.
    const other = await onCaps.open('/ws/tracking', bearer(tok({ sub: 'someone-else' })));
    expect(other.connected?.data).toMatchObject({ userId: 'someone-else' });
  });

  test('finding 12: the per-user cap counts auth-required paths too', async () => {
    await onCaps.open('/ws/notifications', bearer(tok({ sub: 'capped-2' })));
    await onCaps.open('/ws/main', bearer(tok({ sub: 'capped-2' })));
    const refused = await handshakeStatus(caps.ws('/ws/tracking'), bearer(tok({ sub: 'capped-2' })));
    expect(refused.status).toBe(429);
    expect(refused.body).toBe(BODY[429]);
  });

  test('finding 12: a closed connection gives its per-user slot back', async () => {
    const first = await onCaps.open('/ws/main', bearer(tok({ sub: 'slot-user' })));
    await onCaps.open('/ws/tracking', bearer(tok({ sub: 'slot-user' })));
    expect((await handshakeStatus(caps.ws('/ws/main'), bearer(tok({ sub: 'slot-user' })))).status).toBe(429);
    first.socket.terminate();
    await first.waitClose();
    let status = 0;
    await eventually(async () => {
      status = (await handshakeStatus(caps.ws('/ws/main'), bearer(tok({ sub: 'slot-user' })))).status;
      return status === 101;
    }, 3000, 50);
    expect(status).toBe(101);
  });

  test('finding 12: anonymous connections per IP are capped over all paths with 429 and the exact body', async () => {
    await onCaps.open('/ws/main');
    await onCaps.open('/ws/tracking');
    await onCaps.open('/ws/main');
    const refused = await handshakeStatus(caps.ws('/ws/tracking'));
    expect(refused.status).toBe(429);
    expect(refused.body).toBe(BODY[429]);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Authenticated connections are not counted against the anonymous cap.
    const authed = await onCaps.open('/ws/tracking', bearer(tok({ sub: 'not-anon' })));
    expect(authed.connected?.data).toMatchObject({ authenticated: true });
  });

  test('finding 12: pending connections share the anonymous per-IP count', async () => {
    await onCaps.open('/ws/notifications');
    await onCaps.open('/ws/projects');
    await onCaps.open('/ws/main');
    const refusedPending = await handshakeStatus(caps.ws('/ws/collaboration'));
    expect(refusedPending.status).toBe(429);
    expect(refusedPending.body).toBe(BODY[429]);
    const refusedAnon = await handshakeStatus(caps.ws('/ws/tracking'));
    expect(refusedAnon.status).toBe(429);
  });
});

test('finding 2/25: no server output ever contains a token this suite sent', () => {
  expect(issued.length).toBeGreaterThan(10);
  const outputs = [main, limited, caps, cookie, query].map((s) => s.output());
  expect(outputs.join('').length).toBeGreaterThan(0);
  for (const out of outputs) for (const t of issued) expect(out.includes(t) ? t : '').toBe('');
});

