/**
 * Review findings R1–R11 (issue 13): the attacks a code review found that the first attack
 * suite did not try, each run against a real server and shown to fail. Findings whose proof
 * lives beside the feature are listed in docs/security.md ("Review findings R1–R11"): R1 in
 * test/unit/chat-history-budget.spec.ts and test/redis/redis-chat-history.spec.ts, R3 in
 * test/redis/redis-room-presence.spec.ts, R6 in test/e2e/cluster-security.e2e-spec.ts.
 */
import { request as httpRequest } from 'node:http';
import { Client, handshakeStatus, runMain, SECRET, type ServerHandle, startServer, token } from '../support/harness.js';
import { deleteKeys, nodeOptions, REDIS_URL, redisCommandsOn, uniquePrefix, waitReady } from '../support/cluster-helpers.js';
import { BODY, bearer, expectAlive, expectError } from '../support/e2e-helpers.js';

const servers: ServerHandle[] = [];

async function server(config: Parameters<typeof startServer>[0]): Promise<ServerHandle> {
  const handle = await startServer(config);
  servers.push(handle);
  return handle;
}

const clients: Client[] = [];
async function open(url: string, options: Parameters<typeof Client.open>[1] = {}): Promise<Client> {
  const client = await Client.open(url, options);
  clients.push(client);
  return client;
}

afterAll(async () => {
  for (const c of clients) c.socket.terminate();
  await Promise.all(servers.map((s) => s.stop()));
});

/** Commands Redis runs on keys under `prefix` while `act` runs, as `<command> <first argument>`. */
const commandsOn = async (prefix: string, act: () => Promise<void>): Promise<string[]> =>
  (await redisCommandsOn(prefix, act, REDIS_URL)).map(([command, first]) => `${command} ${first ?? ''}`);

const xff = (address: string) => ({ headers: { 'X-Forwarded-For': address } });

describe('R4: per-IP limits use canonical client addresses', () => {
  test('R4: a server listening on :: counts 127.0.0.1 and ::ffff:127.0.0.1 as one client; ::1 is served and has its own bucket', async () => {
    const s = await server({ host: '::', options: { maxAnonConnectionsPerIp: 2 } });
    const at = (host: string) => `ws://${host}:${s.port}/ws/main`;
    await open(at('127.0.0.1'));
    await open(at('[::ffff:127.0.0.1]'));
    expect((await handshakeStatus(at('127.0.0.1'))).status).toBe(429);
    expect((await handshakeStatus(at('[::ffff:127.0.0.1]'))).status).toBe(429);
    await open(at('[::1]'));
    await open(at('[::1]'));
    expect((await handshakeStatus(at('[::1]'))).status).toBe(429);
  });

  test('R4: under TRUST_PROXY the spellings of one IPv4 address in X-Forwarded-For share one bucket', async () => {
    const s = await server({ options: { trustProxy: 1, maxAnonConnectionsPerIp: 3 } });
    for (const spelling of ['203.0.113.7', '::ffff:203.0.113.7', '::FFFF:cb00:7107']) await open(s.ws('/ws/main'), xff(spelling));
    const refused = await handshakeStatus(s.ws('/ws/main'), xff('0:0:0:0:0:ffff:203.0.113.7'));
    expect(refused.status).toBe(429);
    expect(refused.body).toBe(BODY[429]);
  });

  test('R4: X-Forwarded-For rotation inside one IPv6 /64 hits the same handshake rate limit', async () => {
    const s = await server({ options: { trustProxy: 1, handshakeRatePerIp: 5 } });
    const statuses: number[] = [];
    for (let i = 1; i <= 8; i += 1) {
      statuses.push((await handshakeStatus(s.ws('/ws/main'), xff(`2001:db8:77:1:${i.toString(16)}:${(i * 7919).toString(16)}::${i}`))).status);
    }
    expect(statuses.slice(0, 5)).toEqual([101, 101, 101, 101, 101]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    // Another /64 is another client.
    expect((await handshakeStatus(s.ws('/ws/main'), xff('2001:db8:77:2::1'))).status).toBe(101);
  });

  test('R4: garbage X-Forwarded-For hops count as the peer address, so rotating them buys nothing', async () => {
    const s = await server({ options: { trustProxy: 1, handshakeRatePerIp: 4 } });
    const statuses: number[] = [];
    for (const hop of ['garbage-1', 'garbage-2', 'unknown', '1.2.3.4.5', '999.0.0.1', '[::1]:80']) {
      statuses.push((await handshakeStatus(s.ws('/ws/main'), xff(hop))).status);
    }
    expect(statuses).toEqual([101, 101, 101, 101, 429, 429]);
    // A valid forwarded address is still its own client.
    expect((await handshakeStatus(s.ws('/ws/main'), xff('198.51.100.1'))).status).toBe(101);
  });

  test('R4: WS_MAX_PENDING_CONNECTIONS caps anonymous plus pending connections on the node, across every IP → 429', async () => {
    const s = await server({ options: { trustProxy: 1, maxPendingConnections: 3, maxAnonConnectionsPerIp: 1000 } });
    await open(s.ws('/ws/notifications'), xff('198.51.100.10')); // pending (auth required)
    await open(s.ws('/ws/main'), xff('198.51.100.11')); // anonymous
    await open(s.ws('/ws/tracking'), xff('198.51.100.12')); // anonymous
    const refused = await handshakeStatus(s.ws('/ws/notifications'), xff('198.51.100.13'));
    expect(refused.status).toBe(429);
    expect(refused.body).toBe(BODY[429]);
    expect(refused.headers['retry-after']).toBeDefined();
    // Authenticated connections are not pending: still accepted.
    const user = await open(s.ws('/ws/main'), bearer(token({ sub: 'r4-user' }), xff('198.51.100.14')));
    await expectAlive(user);
  });
});

describe('finding 24 end to end: the maps keyed by client address stop at their caps', () => {
  /** Distinct IPv4 addresses to present (env BOUNDS_ADDRESSES): more than both caps. */
  const ADDRESSES = Number(process.env.BOUNDS_ADDRESSES ?? 55_000);
  const HANDSHAKE_CAP = 50_000;
  const AUDIT_CAP = 10_000;

  /** One upgrade with a bad bearer token from `address` (TRUST_PROXY=1): rate-limiter entry, then a 401 audit line. */
  function badUpgrade(port: number, address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        path: '/ws/tracking',
        agent: false,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          Authorization: 'Bearer not-a-token',
          'X-Forwarded-For': address,
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        resolve(101);
      });
      req.on('error', reject);
      req.end();
    });
  }

  test(`finding 24: TRUST_PROXY with ${ADDRESSES} distinct X-Forwarded-For addresses: the handshake limiter and the audit sources stop at their caps`, async () => {
    const s = await server({ options: { trustProxy: 1 } });
    const statuses = new Map<number, number>();
    const CONCURRENCY = 32;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ADDRESSES) {
          const i = next++;
          const status = await badUpgrade(s.port, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    expect(Object.fromEntries(statuses)).toEqual({ 401: ADDRESSES });
    const stats = await s.stats();
    expect(stats.handshakeIps).toBe(Math.min(ADDRESSES, HANDSHAKE_CAP));
    expect(stats.auditSources).toBeLessThanOrEqual(AUDIT_CAP);
    if (ADDRESSES > AUDIT_CAP) expect(stats.auditSources).toBe(AUDIT_CAP);
    console.log(`finding 24: ${ADDRESSES} addresses → handshake map ${stats.handshakeIps} (cap ${HANDSHAKE_CAP}), audit sources ${stats.auditSources} (cap ${AUDIT_CAP}), heap ${(stats.heapUsed / 1048576).toFixed(1)} MB`);
  }, 600_000);
});

describe('R5: /metrics in production', () => {
  test('R5: NODE_ENV=production without METRICS_TOKEN answers 404 (and logs how to enable it once); METRICS_PUBLIC=true opens it', async () => {
    const closed = await runMain({ JWT_SECRET: SECRET, NODE_ENV: 'production', LOG_LEVEL: 'info' }, 15_000, '/metrics');
    expect(closed.listened).toBe(true);
    expect(closed.probe).toEqual({ status: 404, body: BODY[404] });
    expect(closed.stdout.match(/METRICS_PUBLIC=true/g)).toHaveLength(1);
    const open = await runMain({ JWT_SECRET: SECRET, NODE_ENV: 'production', METRICS_PUBLIC: 'true', LOG_LEVEL: 'info' }, 15_000, '/metrics');
    expect(open.probe?.status).toBe(200);
    expect(open.probe?.body).toMatch(/realtime_connections/);
  });

  test('R5: a METRICS_TOKEN shorter than 32 characters stops startup, naming it', async () => {
    const result = await runMain({ JWT_SECRET: SECRET, METRICS_TOKEN: 'short-token' });
    expect(result.listened).toBe(false);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/METRICS_TOKEN/);
  });

  test('R5: with Redis, 1,000 scrapes in a loop cost Redis a constant per cache period, whatever the chat history holds', async () => {
    const prefix = uniquePrefix('r5');
    // The per-user chat rate (R1) raised too: 50 messages from one user set the stage, they are not the attack.
    const s = await server({ options: nodeOptions(prefix, { metricsCacheMs: 1000, ratePerSec: 10_000, rateBurst: 10_000, chatRatePerSec: 10_000, chatRateBurst: 10_000 }) });
    await waitReady(s);
    // History in 50 commodities: the old scrape issued one LLEN per commodity.
    const chat = await open(s.ws('/ws/commodity'), bearer(token({ sub: 'r5-chat' })));
    for (let id = 1; id <= 50; id += 1) {
      expect((await chat.call('commodity.join', { commodityId: id })).event).toBe('commodity.joined');
      expect((await chat.call('commodity.message', { commodityId: id, text: `m${id}` })).event).toBe('commodity.sent');
      await chat.call('commodity.leave', { commodityId: id });
    }
    try {
      const started = Date.now();
      const commands = await commandsOn(prefix, async () => {
        for (let i = 0; i < 1000; i += 1) expect((await fetch(s.http('/metrics'))).status).toBe(200);
      });
      const periods = Math.ceil((Date.now() - started) / 1000) + 1;
      const chatReads = commands.filter((c) => / \{chat:/.test(c));
      // One render per period reads the running counts: ZCARD of the index and HMGET of the totals.
      expect(chatReads.length).toBeLessThanOrEqual(2 * periods);
      expect(chatReads.filter((c) => /^(lua:)?llen /.test(c))).toEqual([]);
      console.log(`R5: 1000 scrapes in ${periods - 1}+ s: ${chatReads.length} chat reads on Redis (${[...new Set(chatReads)].join(', ')})`);
    } finally {
      await deleteKeys(prefix);
    }
  });

  test('R5: 1,000 scrapes in a loop render at most once per cache period', async () => {
    const s = await server({ options: { metricsCacheMs: 60_000 } });
    const texts = new Set<string>();
    for (let i = 0; i < 1000; i += 1) texts.add(await (await fetch(s.http('/metrics'))).text());
    // The rendered text carries scrape-time gauges (heap, connection ages): one render, one text.
    expect(texts.size).toBe(1);
  });
});

describe('R8: token lifetime', () => {
  test('R8: a token whose exp lies more than JWT_MAX_TOKEN_LIFETIME_MS ahead → 401 at the upgrade and UNAUTHORIZED in-band', async () => {
    const s = await server({ options: { jwtMaxTokenLifetimeMs: 3_600_000, revocationTtlMs: 3_600_000 } });
    const nowSec = Math.floor(Date.now() / 1000);
    const long = token({ sub: 'r8', exp: nowSec + 3_600 + 120 });
    const refused = await handshakeStatus(s.ws('/ws/notifications'), bearer(long));
    expect(refused).toMatchObject({ status: 401, body: BODY[401] });
    const client = await open(s.ws('/ws/notifications'));
    expectError(await client.call('auth', { token: long }), 'UNAUTHORIZED');
    const ok = await open(s.ws('/ws/notifications'), bearer(token({ sub: 'r8', exp: nowSec + 3_500 })));
    await expectAlive(ok);
  });

  test('R8: REVOCATION_TTL_MS shorter than JWT_MAX_TOKEN_LIFETIME_MS stops startup, naming both', async () => {
    const result = await runMain({ JWT_SECRET: SECRET, REVOCATION_TTL_MS: '3600000' });
    expect(result.listened).toBe(false);
    expect(result.stderr).toMatch(/REVOCATION_TTL_MS/);
    expect(result.stderr).toMatch(/JWT_MAX_TOKEN_LIFETIME_MS/);
  });
});

describe('R11: cookies and Origin', () => {
  test('R11: a Cookie header carrying the credentials cookie twice → 401 with the one 401 body, even when both are valid', async () => {
    const s = await server({});
    const valid = token({ sub: 'r11' });
    const refused = await handshakeStatus(s.ws('/ws/notifications'), { headers: { Cookie: `access_token=${valid}; access_token=${valid}` } });
    expect(refused).toMatchObject({ status: 401, body: BODY[401] });
    const single = await open(s.ws('/ws/notifications'), { headers: { Cookie: `access_token=${valid}` } });
    await expectAlive(single);
  });

  test('R11: AUTH_COOKIE_NAME=__Host-access_token: read under that name only; a planted unprefixed cookie is ignored', async () => {
    const s = await server({ options: { authCookieName: '__Host-access_token' } });
    const valid = token({ sub: 'r11-host' });
    const client = await open(s.ws('/ws/notifications'), { headers: { Cookie: `access_token=planted; __Host-access_token=${valid}` } });
    await expectAlive(client);
    expect(client.connected?.data?.userId ?? 'r11-host').toBe('r11-host');
  });

  test('R11: the same-origin check compares the scheme: http://host is not the origin of a TLS request (X-Forwarded-Proto under TRUST_PROXY)', async () => {
    const s = await server({ options: { trustProxy: 1 } });
    const host = `127.0.0.1:${s.port}`;
    const viaProxy = (origin: string, proto: string) => ({ headers: { Origin: origin, 'X-Forwarded-Proto': proto } });
    expect((await handshakeStatus(s.ws('/ws/main'), viaProxy(`http://${host}`, 'https'))).status).toBe(403);
    expect((await handshakeStatus(s.ws('/ws/main'), viaProxy(`https://${host}`, 'https'))).status).toBe(101);
    expect((await handshakeStatus(s.ws('/ws/main'), viaProxy(`https://${host}`, 'http'))).status).toBe(403);
    // Without a proxy header the plain socket is http.
    expect((await handshakeStatus(s.ws('/ws/main'), { headers: { Origin: `https://${host}` } })).status).toBe(403);
    expect((await handshakeStatus(s.ws('/ws/main'), { headers: { Origin: `http://${host}` } })).status).toBe(101);
  });

  test('R11: X-Forwarded-Proto is ignored without TRUST_PROXY', async () => {
    const s = await server({});
    const host = `127.0.0.1:${s.port}`;
    expect((await handshakeStatus(s.ws('/ws/main'), { headers: { Origin: `https://${host}`, 'X-Forwarded-Proto': 'https' } })).status).toBe(403);
  });
});
