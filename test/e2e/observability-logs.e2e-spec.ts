/**
 * Issue 4, "How it is proven" (log capture, findings 2 and 25): a full session with tokens in a
 * header, a cookie and a query string, an in-band auth failure, a revoked token and API-key
 * calls leaves log output that is JSON lines only and contains none of the credentials and no
 * raw client IP, while it does carry the query-token deprecation warning and the security
 * audit lines. LOG_LEVEL `warn` (and NODE_ENV=production's default) leaves out info and debug;
 * the audit pattern detector raises one summary for repeated auth failures from one client.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import { Client, eventually, handshakeStatus, type ServerHandle, startServer, token } from '../support/harness.js';
import { BODY, bearer, ClientPool, expectError, nowSec } from '../support/e2e-helpers.js';
import { type LogLine, logLines, outputLines } from '../support/observability-helpers.js';

const API_KEY = 'observability-logs-api-key-0123456789abcdef';
const WRONG_API_KEY = 'observability-logs-WRONG-key-9876543210zyxw';
const OTHER_SECRET = 'a-different-secret-for-forged-tokens-0123456789';
const LEVELS = ['debug', 'info', 'warn', 'error', 'fatal', 'trace'];
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}\b/;

/** Every output line is a JSON object with a known `level` (string) and an ISO `time`. */
function expectJsonLines(server: ServerHandle): LogLine[] {
  const lines = outputLines(server);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect([LEVELS.includes(line.level as string), typeof line.time === 'string' && ISO.test(line.time)]).toEqual([true, true]);
  }
  return logLines(server);
}

/** The text must not contain `secret`; reports where it does without printing the whole output. */
function expectAbsent(output: string, secret: string, what: string): void {
  const at = output.indexOf(secret);
  const context = at < 0 ? '' : output.slice(Math.max(0, at - 200), at + secret.length + 50);
  expect([what, context]).toEqual([what, '']);
}

/** `ip` values of the log lines: hashed, never an address. */
function expectHashedIps(lines: readonly LogLine[]): Set<string> {
  const ips = new Set<string>();
  for (const line of lines) {
    for (const key of ['ip', 'clientIp', 'remoteAddress', 'address']) {
      if (line[key] === undefined) continue;
      const value = String(line[key]);
      expect(value).not.toMatch(IPV4);
      expect(value).not.toContain(':'); // no IPv6 / mapped address
      ips.add(value);
    }
  }
  return ips;
}

const cookie = (jwt: string, extra: Record<string, string> = {}) => ({ headers: { cookie: `theme=dark; access_token=${jwt}; lang=en`, ...extra } });
const PROXIED_IP = '203.0.113.77';

describe('a full session at LOG_LEVEL=debug (findings 2, 25)', () => {
  let server: ServerHandle;
  const pool = new ClientPool(() => server);

  beforeAll(async () => {
    // trustProxy 1: a client behind a proxy is known by its X-Forwarded-For address, which must be hashed too.
    server = await startServer({ options: { logLevel: 'debug', apiKey: API_KEY, trustProxy: 1 } });
  });

  afterAll(async () => {
    await server?.stop();
  });

  const secrets: Array<[string, string]> = [];
  const remember = (what: string, jwt: string): string => {
    secrets.push([what, jwt], [`${what} (signature)`, jwt.split('.')[2]!], [`${what} (payload)`, jwt.split('.')[1]!]);
    return jwt;
  };

  test('the session runs: header, cookie and query tokens, in-band auth, bad and revoked tokens, API-key calls', async () => {
    const headerToken = remember('header token', token({ sub: 'log-header', jti: 'log-jti-header' }));
    const cookieToken = remember('cookie token', token({ sub: 'log-cookie' }));
    const queryToken = remember('query token', token({ sub: 'log-query' }));
    const inBandToken = remember('in-band token', token({ sub: 'log-inband' }));
    const refreshToken = remember('refresh token', token({ sub: 'log-inband', exp: nowSec() + 7200 }));
    const forgedToken = remember('forged token', token({ sub: 'log-forged' }, { secret: OTHER_SECRET }));
    const expiredToken = remember('expired token', token({ sub: 'log-expired', exp: nowSec() - 120 }));
    const revokedToken = remember('revoked token', token({ sub: 'log-revoked', jti: 'log-jti-revoked' }));
    const badCookieToken = remember('bad cookie token', token({ sub: 'log-bad-cookie' }, { secret: OTHER_SECRET }));

    // Header token: notifications, with a notification published over the HTTP API (X-Api-Key).
    const notes = await pool.open('/ws/notifications', bearer(headerToken));
    expect(notes.connected?.data?.userId).toBe('log-header');
    expect((await notes.call('notifications.subscribe', {})).event).toBe('notifications.subscribed');
    const published = await request(server.http()).post('/realtime/publish').set('X-Api-Key', API_KEY).send({ namespace: 'notifications', userIds: ['log-header'], data: { hi: 1 } });
    expect(published.status).toBe(202);
    expect((await notes.next('notification')).data).toEqual({ hi: 1 });
    const wrongKey = await request(server.http()).post('/realtime/publish').set('X-Api-Key', WRONG_API_KEY).send({ namespace: 'main', data: {} });
    expect(wrongKey.status).toBe(401);

    // Cookie token: commodity chat.
    const chat = await pool.open('/ws/commodity', cookie(cookieToken, { 'x-forwarded-for': PROXIED_IP }));
    expect(chat.connected?.data?.userId).toBe('log-cookie');
    await chat.call('commodity.join', { commodityId: 4242 });
    expect((await chat.call('commodity.message', { commodityId: 4242, text: 'hello logs' })).event).toBe('commodity.sent');

    // Query token (ignored by default: the connection is anonymous, a deprecation is logged).
    const viaQuery = await pool.open(`/ws/tracking?token=${encodeURIComponent(queryToken)}`);
    expect(viaQuery.connected?.data?.authenticated).toBe(false);
    await viaQuery.call('tracking.subscribe', { trackingId: 'LOG-1' });
    const pushed = await request(server.http()).post('/realtime/publish').set('X-Api-Key', API_KEY).send({ namespace: 'tracking', topic: 'LOG-1', data: { at: 'depot' } });
    expect(pushed.status).toBe(202);
    await viaQuery.next('tracking.update');
    viaQuery.send('{"event":"tracking.subscribe","data":{"trackingId":"bad id!"}}');
    expectError(await viaQuery.next('error'), 'VALIDATION_FAILED');

    // In-band auth on /ws/main: a forged token fails, a valid one passes, then a refresh.
    const main = await pool.open('/ws/main');
    expectError(await main.call('auth', { token: forgedToken }), 'UNAUTHORIZED');
    expect((await main.call('auth', { token: inBandToken })).event).toBe('auth.ok');
    expect((await main.call('auth.refresh', { token: refreshToken })).event).toBe('auth.refreshed');

    // Pending connection on a required path failing in-band: UNAUTHORIZED then 4401.
    const pending = await Client.open(server.ws('/ws/projects'));
    expectError(await pending.call('auth', { token: expiredToken }), 'UNAUTHORIZED');
    expect((await pending.waitClose()).code).toBe(4401);

    // Revoked token: the open connection is closed, later handshakes get the generic 401.
    const doomed = await pool.open('/ws/projects', bearer(revokedToken));
    const revoked = await request(server.http()).post('/realtime/revoke').set('X-Api-Key', API_KEY).send({ jti: 'log-jti-revoked' });
    expect(revoked.status).toBe(202);
    expect((await doomed.waitClose()).code).toBe(4401);
    const again = await handshakeStatus(server.ws('/ws/projects'), bearer(revokedToken));
    expect([again.status, again.body]).toEqual([401, BODY[401]]);

    // Bad credentials at the handshake, in the header and in the cookie.
    expect((await handshakeStatus(server.ws('/ws/notifications'), bearer(forgedToken))).status).toBe(401);
    expect((await handshakeStatus(server.ws('/ws/commodity'), cookie(badCookieToken))).status).toBe(401);
    expect((await handshakeStatus(server.ws('/ws/tracking'), bearer(expiredToken))).status).toBe(401);

    // Security events: a rejected origin (carrying a token), an oversized frame, rate-limit abuse.
    const originToken = remember('origin token', token({ sub: 'log-origin' }));
    expect((await handshakeStatus(server.ws('/ws/tracking'), { ...bearer(originToken), origin: 'http://evil.example' })).status).toBe(403);
    viaQuery.send({ event: 'tracking.subscribe', data: { trackingId: 'LOG-2', pad: 'x'.repeat(5000) } });
    expectError(await viaQuery.next('error'), 'PAYLOAD_TOO_LARGE');
    const flooder = await pool.open('/ws/main'); // anonymous: burst 10, 10 strikes → 4429
    for (let i = 0; i < 25; i += 1) flooder.send({ event: 'ping', data: {}, id: `flood-${i}` });
    expect((await flooder.waitClose()).code).toBe(4429);

    await pool.drain();
    // The close chatter of the last connections has been written.
    await eventually(() => server.output().split('\n').filter((l) => l.includes('"connection closed"')).length >= 7);
  });

  test('the output holds none of the tokens, their signatures or payloads, the API keys, or a raw IP', () => {
    expect(secrets.length).toBeGreaterThan(0);
    const output = server.output();
    for (const [what, secret] of secrets) expectAbsent(output, secret, what);
    expectAbsent(output, API_KEY, 'API key');
    expectAbsent(output, WRONG_API_KEY, 'wrong API key');
    expectAbsent(output, '127.0.0.1', 'raw client IP');
    expectAbsent(output, PROXIED_IP, 'raw forwarded client IP');
    expect(output).not.toMatch(/Bearer\s+ey/i);
    expect(output).not.toMatch(/access_token=ey/);
  });

  test('every line is JSON with level and time; IPs appear only as stable keyed hashes', () => {
    const lines = expectJsonLines(server);
    const ips = expectHashedIps(lines);
    // Two clients (direct, and behind the proxy): two stable hashes, and they do appear (so the check above ran).
    expect([...ips]).toHaveLength(2);
    // Keyed: not a plain digest of the address that anyone could recompute.
    for (const ip of ['127.0.0.1', '::ffff:127.0.0.1', PROXIED_IP]) {
      for (const algorithm of ['sha256', 'sha1', 'md5']) {
        for (const encoding of ['hex', 'base64', 'base64url'] as const) {
          const digest = createHash(algorithm).update(ip).digest(encoding);
          for (const hash of ips) expect(digest.startsWith(hash)).toBe(false);
        }
      }
    }
    for (const hash of ips) expect(hash.length).toBeGreaterThanOrEqual(8);
  });

  test('per-connection chatter is at debug, present at this level', () => {
    const lines = logLines(server);
    const chatter = lines.filter((l) => typeof l.connectionId === 'string' && typeof l.msg === 'string' && /connection (opened|closed)/.test(l.msg));
    expect(chatter.length).toBeGreaterThanOrEqual(14);
    expect(new Set(chatter.map((l) => l.level))).toEqual(new Set(['debug']));
  });

  test('the ignored query token is logged as a deprecated attempt at warn, without the token', () => {
    const lines = logLines(server);
    const deprecated = lines.filter((l) => l.level === 'warn' && typeof l.msg === 'string' && /query/i.test(l.msg) && /deprecat/i.test(l.msg));
    expect(deprecated).toHaveLength(1);
    expect(deprecated[0]).toMatchObject({ namespace: 'tracking' });
  });

  test('auth failures, rejected credentials, invalid frames and forced disconnects reach the security audit log with internal reasons', () => {
    const audit = logLines(server).filter((l) => l.logger === 'security-audit');
    const failures = audit.filter((l) => l.kind === 'auth_failure');
    const reasons = failures.map((l) => l.reason).sort();
    // In-band: forged (main), expired (projects); handshake: revoked, forged header, forged cookie, expired.
    expect(reasons).toEqual(['bad_signature', 'bad_signature', 'bad_signature', 'expired', 'expired', 'revoked']);
    for (const line of failures) {
      expect(line.level).toBe('warn');
      expect(typeof line.ip).toBe('string');
    }
    expect(audit.some((l) => l.kind === 'invalid_frame' && l.namespace === 'tracking')).toBe(true);
    expect(audit.some((l) => l.kind === 'forced_disconnect' && l.namespace === 'projects')).toBe(true);
    expect(audit.some((l) => l.kind === 'origin_rejected' && l.namespace === 'tracking')).toBe(true);
    expect(audit.some((l) => l.kind === 'oversized_frame' && l.namespace === 'tracking')).toBe(true);
    expect(audit.some((l) => l.kind === 'rate_limit_strike' && l.namespace === 'main')).toBe(true);
    for (const line of audit) expect([line.kind, line.level]).toEqual([line.kind, 'warn']);
    expect(audit.some((l) => l.pattern === true)).toBe(false); // far under every pattern threshold
  });
});

describe('credentials inside error objects (issue 4: "redacted everywhere, including error objects")', () => {
  test('a failing dependency whose error message carries a bearer token, a cookie, an API key and a bare JWT is logged scrubbed', async () => {
    const jwt = token({ sub: 'log-error-object' });
    const message = `POST https://audit.example/ingest failed: Authorization: Bearer ${jwt}; Cookie: access_token=${jwt}; X-Api-Key: ${API_KEY}; body ${jwt}`;
    const server = await startServer({ activitySink: 'throwing', activitySinkError: message, options: { logLevel: 'debug' } });
    try {
      const client = await Client.open(server.ws('/ws/activity'), bearer(token({ sub: 'log-error-reporter' })));
      client.send({ event: 'activity.report', data: { type: 'click' } });
      expect((await client.call('ping', {})).event).toBe('pong');
      await server.request({ cmd: 'flushActivity' });
      // The failure is logged (its harmless part is there) ...
      await eventually(() => server.output().includes('audit.example'));
      const output = server.output();
      // ... without any of the credentials it carried.
      expectAbsent(output, jwt, 'JWT from the error');
      expectAbsent(output, jwt.split('.')[2]!, 'JWT signature from the error');
      expectAbsent(output, API_KEY, 'API key from the error');
      expectJsonLines(server);
      client.close();
    } finally {
      await server.stop();
    }
  });
});

describe('LOG_LEVEL=warn and NODE_ENV=production (finding 25)', () => {
  /** A short session with a query token accepted (ALLOW_QUERY_TOKEN=true), so a warn line is due. */
  async function session(server: ServerHandle): Promise<string[]> {
    const pool = new ClientPool(() => server);
    const headerToken = token({ sub: 'quiet-header' });
    const queryToken = token({ sub: 'quiet-query' });
    const a = await pool.open('/ws/tracking', bearer(headerToken));
    expect((await a.call('tracking.subscribe', { trackingId: 'Q-1' })).event).toBe('tracking.subscribed');
    a.send('not json');
    expectError(await a.next('error'), 'INVALID_JSON');
    const b = await pool.open(`/ws/projects?token=${encodeURIComponent(queryToken)}`);
    expect(b.connected?.data?.userId).toBe('quiet-query');
    expect((await handshakeStatus(server.ws('/ws/notifications'), bearer('garbage'))).status).toBe(401);
    await eventually(() => logLines(server).some((l) => l.logger === 'security-audit' && l.kind === 'auth_failure'));
    // A graceful shutdown with a connection open: the drain is logged at info (§9).
    const stdout = server.child.stdout!;
    const ended = new Promise<void>((resolve) => (stdout.readableEnded ? resolve() : stdout.once('end', () => resolve())));
    await server.request({ cmd: 'close' });
    expect(await server.exited).toBe(0);
    await ended;
    return [headerToken, queryToken];
  }

  function expectQuiet(server: ServerHandle, tokens: string[]): void {
    const lines = expectJsonLines(server);
    const chatty = lines.filter((l) => l.level === 'debug' || l.level === 'info' || l.level === 'trace');
    expect(chatty.map((l) => `${l.level}: ${String(l.msg)}`)).toEqual([]);
    // The warnings still come through: the accepted query token and the audit lines.
    expect(lines.some((l) => l.level === 'warn' && typeof l.msg === 'string' && /query/i.test(l.msg))).toBe(true);
    expect(lines.some((l) => l.logger === 'security-audit' && l.kind === 'invalid_frame')).toBe(true);
    const output = server.output();
    for (const jwt of tokens) {
      expectAbsent(output, jwt, 'token');
      expectAbsent(output, jwt.split('.')[2]!, 'token signature');
    }
    expectAbsent(output, '127.0.0.1', 'raw client IP');
    expectHashedIps(lines);
  }

  test.each([
    ['option logLevel "warn"', { logLevel: 'warn' as const }],
    ['env LOG_LEVEL=warn', { env: { LOG_LEVEL: 'warn' } }],
    ['env NODE_ENV=production without LOG_LEVEL (default warn)', { env: { NODE_ENV: 'production' } }],
  ])('%s: no info or debug lines, warnings and audit lines still there', async (_name, options) => {
    const server = await startServer({ options: { ...options, allowQueryToken: true } });
    try {
      expectQuiet(server, await session(server));
    } finally {
      await server.stop();
    }
  });

  test('the default level (info) keeps per-connection chatter out', async () => {
    const server = await startServer({ options: { allowQueryToken: true } });
    try {
      await session(server);
      const lines = expectJsonLines(server);
      expect(lines.filter((l) => l.level === 'debug').map((l) => String(l.msg))).toEqual([]);
      // Info lines do come through at this level (the drain), so the warn-level tests above discriminate.
      expect(lines.filter((l) => l.level === 'info').length).toBeGreaterThan(0);
      expect(lines.some((l) => typeof l.msg === 'string' && /connection (opened|closed)/.test(l.msg))).toBe(false);
    } finally {
      await server.stop();
    }
  });
});

describe('security audit pattern detector', () => {
  let server: ServerHandle;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  const summaries = () => logLines(server).filter((l) => typeof l.msg === 'string' && l.msg.startsWith('security pattern:'));
  const failures = () => logLines(server).filter((l) => l.logger === 'security-audit' && l.kind === 'auth_failure' && l.pattern !== true);

  test('12 handshakes with a bad token from one client in a minute raise exactly one "repeated auth_failure" summary', async () => {
    const forged = token({ sub: 'pattern' }, { secret: OTHER_SECRET });
    for (let i = 0; i < 12; i += 1) {
      const res = await handshakeStatus(server.ws('/ws/tracking'), bearer(forged));
      expect([res.status, res.body]).toEqual([401, BODY[401]]);
    }
    await eventually(() => failures().length >= 12);
    await eventually(() => summaries().length >= 1);
    const found = summaries();
    expect(found).toHaveLength(1);
    const summary = found[0]!;
    expect(summary.msg).toBe('security pattern: repeated auth_failure');
    expect(summary).toMatchObject({ level: 'warn', logger: 'security-audit', kind: 'auth_failure', pattern: true });
    expect(summary.count as number).toBeGreaterThanOrEqual(10);
    expect(summary.count as number).toBeLessThanOrEqual(12);
    expect(summary.ip).toBe(failures()[0]!.ip); // the same hashed source
    expect(failures()).toHaveLength(12);
  });

  test('more failures from the same client in the same minute do not repeat the summary', async () => {
    const forged = token({ sub: 'pattern-2' }, { secret: OTHER_SECRET });
    for (let i = 0; i < 8; i += 1) expect((await handshakeStatus(server.ws('/ws/tracking'), bearer(forged))).status).toBe(401);
    await eventually(() => failures().length >= 20);
    expect(summaries()).toHaveLength(1);
    const output = server.output();
    expectAbsent(output, forged, 'forged token');
    expectAbsent(output, '127.0.0.1', 'raw client IP');
    expectJsonLines(server);
  });

  test('20 invalid frames from one client raise one "repeated invalid_frame" summary (and the 4400 close)', async () => {
    const client = await Client.open(server.ws('/ws/tracking'));
    for (let i = 0; i < 20; i += 1) client.send(`not json ${i}`);
    expect((await client.waitClose()).code).toBe(4400);
    await eventually(() => summaries().some((l) => l.kind === 'invalid_frame'));
    const found = summaries().filter((l) => l.kind === 'invalid_frame');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ msg: 'security pattern: repeated invalid_frame', level: 'warn', logger: 'security-audit', pattern: true });
  });
});

describe('the audit log cannot be flooded', () => {
  let server: ServerHandle;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  test('R10: a burst of 152 invalid frames from one source writes at most its source budget (30 + 2/s); the rest is counted and summarised, not lost', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => Client.open(server.ws('/ws/tracking'))));
    const started = Date.now();
    for (const client of clients) for (let i = 0; i < 19; i += 1) client.send(`not json ${i}`);
    await eventually(() => clients.every((c) => c.all('error').length === 19));
    const elapsedSec = (Date.now() - started) / 1000;
    const audit = () => logLines(server).filter((l) => l.logger === 'security-audit' && l.kind === 'invalid_frame' && l.pattern !== true);
    const lines = () => audit().filter((l) => l.msg === 'security: invalid_frame');
    const summaries = () => audit().filter((l) => l.msg === 'security: suppressed invalid_frame lines');
    await eventually(() => lines().length >= 30);
    expect(lines().length).toBeLessThanOrEqual(30 + Math.ceil(2 * elapsedSec) + 1);
    // No further invalid frame arrives, yet the suppressed ones are reported within the summary period.
    const counted = (l: LogLine) => (typeof l.suppressedSinceLast === 'number' ? l.suppressedSinceLast : 0) + (typeof l.suppressed === 'number' ? l.suppressed : 0);
    const accounted = () => lines().length + audit().reduce((acc, l) => acc + counted(l), 0);
    const sent = clients.reduce((acc, c) => acc + c.all('error').length, 0);
    expect(sent).toBe(152);
    await eventually(() => accounted() >= sent, 8000, 100);
    expect(accounted()).toBe(sent);
    expect(summaries().length).toBeGreaterThanOrEqual(1);
    for (const client of clients) client.close();
  }, 15_000);
});

describe('R10: one kind or one source cannot hide another (TRUST_PROXY=1, sources by X-Forwarded-For)', () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await startServer({ options: { trustProxy: 1 } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const from = (ip: string, headers: Record<string, string> = {}) => ({ headers: { 'x-forwarded-for': ip, ...headers } });
  const authLines = () => logLines(server).filter((l) => l.logger === 'security-audit' && l.msg === 'security: auth_failure');

  test('R10: 300 foreign-Origin upgrades and 200 bad tokens from one attacker source, then 12 bad tokens from another source: all 12 are written, with their pattern summary', async () => {
    const forged = token({ sub: 'noise' }, { secret: OTHER_SECRET });
    await Promise.all(Array.from({ length: 300 }, () => handshakeStatus(server.ws('/ws/tracking'), from('198.51.100.7', { origin: 'https://evil.example' }))));
    for (let i = 0; i < 200; i += 1) expect((await handshakeStatus(server.ws('/ws/tracking'), from('198.51.100.7', { authorization: `Bearer ${forged}` }))).status).toBe(401);
    const before = authLines().length;
    const victimBurst = token({ sub: 'stuffed' }, { secret: OTHER_SECRET });
    for (let i = 0; i < 12; i += 1) expect((await handshakeStatus(server.ws('/ws/tracking'), from('203.0.113.5', { authorization: `Bearer ${victimBurst}` }))).status).toBe(401);
    await eventually(() => authLines().length >= before + 12);
    const victimIp = authLines()[authLines().length - 1]!.ip;
    expect(authLines().filter((l) => l.ip === victimIp)).toHaveLength(12);
    await eventually(() => logLines(server).some((l) => l.msg === 'security pattern: repeated auth_failure' && l.ip === victimIp));
  }, 30_000);

  test('R10: an auth-failure burst spread over 150 sources (none past its own pattern threshold) always yields its summary: lines + suppressed = 150', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5500)); // the kind's budget refills after the previous test
    const forged = token({ sub: 'spread' }, { secret: OTHER_SECRET });
    const before = logLines(server).length;
    await Promise.all(Array.from({ length: 150 }, (_, i) => handshakeStatus(server.ws('/ws/notifications'), from(`192.0.2.${i + 1}`, { authorization: `Bearer ${forged}` }))));
    const fresh = () => logLines(server).slice(before).filter((l) => l.logger === 'security-audit' && l.kind === 'auth_failure');
    await eventually(() => fresh().some((l) => l.msg === 'security: suppressed auth_failure lines'), 8000, 100);
    const written = fresh().filter((l) => l.msg === 'security: auth_failure');
    expect(written.length).toBeLessThan(150);
    const suppressed = fresh().reduce((acc, l) => acc + (typeof l.suppressed === 'number' ? l.suppressed : 0) + (typeof l.suppressedSinceLast === 'number' ? l.suppressedSinceLast : 0), 0);
    expect(written.length + suppressed).toBe(150);
  }, 20_000);
});
