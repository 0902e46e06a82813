/**
 * Issue 4, "How it is proven" (metrics): GET /metrics is Prometheus text and moves as expected
 * after scripted traffic — connection durations observed on close (finding 22), errors by code
 * and namespace, handshake rejections by status, gauges read at scrape time, auth failures by
 * internal reason (never told to the client, finding 19) — and METRICS_TOKEN protects it (§9).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { Client, eventually, handshakeStatus, type ServerHandle, startServer, token } from '../support/harness.js';
import { BODY, bearer, ClientPool, expectError, nowSec } from '../support/e2e-helpers.js';
import { type Exposition, parsePrometheus, scrape } from '../support/observability-helpers.js';

const METRICS_TOKEN = 'metrics-e2e-token-0123456789abcdef';
const OTHER_SECRET = 'another-secret-that-is-long-enough-0123456789';

let server: ServerHandle; // METRICS_TOKEN set, fast heartbeats
let open: ServerHandle; // /metrics open
let failing: ServerHandle; // the activity sink throws
const pool = new ClientPool(() => server);

beforeAll(async () => {
  [server, open, failing] = await Promise.all([
    startServer({ options: { metricsToken: METRICS_TOKEN, heartbeatIntervalMs: 500, pongTimeoutMs: 1000 } }),
    startServer(),
    startServer({ activitySink: 'throwing' }),
  ]);
});

afterEach(async () => {
  await pool.drain();
});

afterAll(async () => {
  await Promise.all([server, open, failing].map((s) => s?.stop()));
});

const metrics = (): Promise<Exposition> => scrape(server, METRICS_TOKEN);

/** Polls /metrics until `check` holds and returns that scrape. */
async function metricsWhen(check: (m: Exposition) => boolean, timeoutMs = 5000): Promise<Exposition> {
  let last: Exposition | undefined;
  await eventually(async () => {
    last = await metrics();
    return check(last);
  }, timeoutMs, 50).catch((err: Error) => {
    throw new Error(`${err.message}; last scrape:\n${last?.text ?? '(none)'}`);
  });
  return last!;
}

const NAMESPACES = ['main', 'tracking', 'notifications', 'projects', 'collaboration', 'commodity', 'activity', 'mololink'];

/** Every metric family the issue asks for, with its Prometheus type. */
const FAMILIES: ReadonlyArray<readonly [string, string]> = [
  ['realtime_connections', 'gauge'],
  ['realtime_connections_opened_total', 'counter'],
  ['realtime_connections_closed_total', 'counter'],
  ['realtime_handshake_rejections_total', 'counter'],
  ['realtime_frames_in_total', 'counter'],
  ['realtime_frames_out_total', 'counter'],
  ['realtime_errors_total', 'counter'],
  ['realtime_handler_duration_seconds', 'histogram'],
  ['realtime_connection_duration_seconds', 'histogram'],
  ['realtime_subscriptions', 'gauge'],
  ['realtime_chat_history_messages', 'gauge'],
  ['realtime_activity_buffer_items', 'gauge'],
  ['realtime_activity_dropped_items_total', 'counter'],
  ['realtime_rate_limited_total', 'counter'],
  ['realtime_auth_failures_total', 'counter'],
  ['realtime_heartbeat_terminations_total', 'counter'],
  ['realtime_slow_consumer_closes_total', 'counter'],
  ['realtime_oldest_connection_age_seconds', 'gauge'],
  ['realtime_alert_active', 'gauge'],
];

describe('the Prometheus text parser of this suite', () => {
  test.each([
    ['a sample without a TYPE', '# HELP realtime_x x\nrealtime_x 1\n'],
    ['an unquoted label value', '# HELP realtime_x x\n# TYPE realtime_x gauge\nrealtime_x{a=b} 1\n'],
    ['a non-numeric value', '# HELP realtime_x x\n# TYPE realtime_x gauge\nrealtime_x{a="b"} one\n'],
    ['a malformed TYPE line', '# HELP realtime_x x\n# TYPE realtime_x thing\nrealtime_x 1\n'],
    ['a duplicate series', '# HELP realtime_x x\n# TYPE realtime_x gauge\nrealtime_x{a="b"} 1\nrealtime_x{a="b"} 2\n'],
    ['a histogram whose +Inf bucket differs from _count', '# HELP realtime_h h\n# TYPE realtime_h histogram\nrealtime_h_bucket{le="1"} 1\nrealtime_h_bucket{le="+Inf"} 1\nrealtime_h_sum 1\nrealtime_h_count 2\n'],
  ])('rejects %s', (_name, text) => {
    expect(() => parsePrometheus(text)).toThrow();
  });

  test('accepts well-formed text and reads escaped labels', () => {
    const m = parsePrometheus('# HELP realtime_x x\n# TYPE realtime_x gauge\nrealtime_x{a="q\\"uo\\\\te",b="2"} 1.5e1\nrealtime_x +Inf\n');
    expect(m.value('realtime_x', { a: 'q"uo\\te', b: '2' })).toBe(15);
    expect(m.value('realtime_x')).toBe(Infinity);
  });
});

describe('GET /metrics exposition', () => {
  test('is Prometheus text 0.0.4: well-formed lines, every name prefixed realtime_, every metric of the issue present', async () => {
    const res = await request(open.http()).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parsePrometheus(res.text);
    expect(m.samples.length).toBeGreaterThan(0);
    for (const family of m.families.keys()) expect(family).toMatch(/^realtime_[a-z0-9_]+$/);
    for (const sample of m.samples) expect(sample.name).toMatch(/^realtime_/);
    for (const [name, type] of FAMILIES) expect([name, m.families.get(name)?.type]).toEqual([name, type]);
    // The per-namespace gauges have a series for every namespace of §1, 0 when idle.
    for (const ns of NAMESPACES) {
      expect([ns, m.find('realtime_connections', { namespace: ns })?.value]).toEqual([ns, 0]);
      expect([ns, m.find('realtime_oldest_connection_age_seconds', { namespace: ns })?.value]).toEqual([ns, 0]);
    }
  });
});

describe('connection metrics', () => {
  test('a connect + close moves connections opened, closes by code and the duration histogram count by exactly 1 (finding 22)', async () => {
    const before = await metrics();
    const client = await pool.open('/ws/tracking');
    const during = await metrics();
    expect(during.value('realtime_connections', { namespace: 'tracking' })).toBe(before.value('realtime_connections', { namespace: 'tracking' }) + 1);
    expect(during.value('realtime_connections_opened_total', { namespace: 'tracking' })).toBe(before.value('realtime_connections_opened_total', { namespace: 'tracking' }) + 1);
    // Observed on close, not on open.
    expect(during.value('realtime_connection_duration_seconds_count', { namespace: 'tracking' })).toBe(before.value('realtime_connection_duration_seconds_count', { namespace: 'tracking' }));

    client.socket.close(1000);
    await client.waitClose();
    const countBefore = before.value('realtime_connection_duration_seconds_count', { namespace: 'tracking' });
    await metricsWhen((m) => m.value('realtime_connection_duration_seconds_count', { namespace: 'tracking' }) >= countBefore + 1);
    await pool.drain();
    const after = await metrics();
    const delta = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(delta('realtime_connection_duration_seconds_count', { namespace: 'tracking' })).toBe(1);
    expect(delta('realtime_connection_duration_seconds_bucket', { namespace: 'tracking', le: '+Inf' })).toBe(1);
    expect(delta('realtime_connections_closed_total', { namespace: 'tracking', code: '1000' })).toBe(1);
    expect(after.sum('realtime_connections_closed_total', { namespace: 'tracking' }) - before.sum('realtime_connections_closed_total', { namespace: 'tracking' })).toBe(1);
    expect(after.value('realtime_connections', { namespace: 'tracking' })).toBe(0);
    for (const ns of NAMESPACES.filter((n) => n !== 'tracking')) {
      expect([ns, after.value('realtime_connection_duration_seconds_count', { namespace: ns })]).toEqual([ns, before.value('realtime_connection_duration_seconds_count', { namespace: ns })]);
    }
  });

  test('while a connection is open the connections gauge and the oldest-connection age show it; its lifetime lands in the right bucket on close', async () => {
    const before = await metrics();
    const openedAt = Date.now();
    const first = await pool.open('/ws/projects', bearer(token({ sub: 'metrics-age' })));
    const during = await metricsWhen((m) => m.value('realtime_oldest_connection_age_seconds', { namespace: 'projects' }) >= 1.2);
    const age = during.value('realtime_oldest_connection_age_seconds', { namespace: 'projects' });
    expect(age).toBeLessThanOrEqual((Date.now() - openedAt) / 1000 + 0.05);
    expect(during.value('realtime_connections', { namespace: 'projects' })).toBe(1);

    // A younger connection does not change the oldest age.
    await pool.open('/ws/projects', bearer(token({ sub: 'metrics-age-2' })));
    const two = await metrics();
    expect(two.value('realtime_connections', { namespace: 'projects' })).toBe(2);
    expect(two.value('realtime_oldest_connection_age_seconds', { namespace: 'projects' })).toBeGreaterThanOrEqual(age);
    for (const ns of NAMESPACES.filter((n) => n !== 'projects')) {
      expect([ns, two.value('realtime_oldest_connection_age_seconds', { namespace: ns })]).toEqual([ns, 0]);
    }

    first.socket.close(1000);
    await first.waitClose();
    const sumBefore = before.value('realtime_connection_duration_seconds_sum', { namespace: 'projects' });
    const countBefore = before.value('realtime_connection_duration_seconds_count', { namespace: 'projects' });
    const after = await metricsWhen((m) => m.value('realtime_connection_duration_seconds_count', { namespace: 'projects' }) === countBefore + 1);
    // Lived more than 1.2 s: not in le="1", in le="10"; the sum grew by its lifetime.
    expect(after.value('realtime_connection_duration_seconds_bucket', { namespace: 'projects', le: '1' })).toBe(before.value('realtime_connection_duration_seconds_bucket', { namespace: 'projects', le: '1' }));
    expect(after.value('realtime_connection_duration_seconds_bucket', { namespace: 'projects', le: '10' })).toBe(before.value('realtime_connection_duration_seconds_bucket', { namespace: 'projects', le: '10' }) + 1);
    const lived = after.value('realtime_connection_duration_seconds_sum', { namespace: 'projects' }) - sumBefore;
    expect(lived).toBeGreaterThanOrEqual(1.2);
    expect(lived).toBeLessThan(10);
    expect(after.value('realtime_connections', { namespace: 'projects' })).toBe(1);
  });

  test('a peer that stops answering pings moves the heartbeat terminations counter of its namespace', async () => {
    const before = await metrics();
    const silent = await Client.open(server.ws('/ws/tracking'), { autoPong: false });
    const alive = await pool.open('/ws/main');
    const closed = await silent.waitClose(5000);
    expect(closed.code).toBe(1006); // terminated, no close frame (§3)
    const after = await metricsWhen((m) => m.value('realtime_heartbeat_terminations_total', { namespace: 'tracking' }) >= before.value('realtime_heartbeat_terminations_total', { namespace: 'tracking' }) + 1);
    expect(after.value('realtime_heartbeat_terminations_total', { namespace: 'tracking' })).toBe(before.value('realtime_heartbeat_terminations_total', { namespace: 'tracking' }) + 1);
    expect(after.value('realtime_heartbeat_terminations_total', { namespace: 'main' })).toBe(before.value('realtime_heartbeat_terminations_total', { namespace: 'main' }));
    expect(after.value('realtime_connection_duration_seconds_count', { namespace: 'tracking' })).toBe(before.value('realtime_connection_duration_seconds_count', { namespace: 'tracking' }) + 1);
    expect((await alive.call('ping', {})).event).toBe('pong'); // a ponging peer survives the same heartbeats
  });
});

describe('handshake metrics', () => {
  test('a 404 and a 401 move realtime_handshake_rejections_total with their status', async () => {
    const before = await metrics();
    const notFound = await handshakeStatus(server.ws('/ws/does-not-exist'));
    expect(notFound.status).toBe(404);
    const unauthorized = await handshakeStatus(server.ws('/ws/tracking'), bearer('not-a-jwt'));
    expect(unauthorized.status).toBe(401);
    const after = await metrics();
    const rejections = (m: Exposition, status: string) => m.sum('realtime_handshake_rejections_total', { status });
    expect(rejections(after, '404') - rejections(before, '404')).toBe(1);
    expect(after.value('realtime_handshake_rejections_total', { namespace: 'tracking', status: '401' })).toBe(before.value('realtime_handshake_rejections_total', { namespace: 'tracking', status: '401' }) + 1);
    expect(rejections(after, '401') - rejections(before, '401')).toBe(1);
    for (const status of ['403', '429', '503']) expect([status, rejections(after, status)]).toEqual([status, rejections(before, status)]);
  });

  test('auth failures are counted by internal reason; the client only ever sees the generic 401 / UNAUTHORIZED (finding 19)', async () => {
    const before = await metrics();
    const expired = token({ sub: 'metrics-expired', exp: nowSec() - 120 });
    const forged = token({ sub: 'metrics-forged' }, { secret: OTHER_SECRET });

    const seen: string[] = [];
    for (const jwt of [expired, forged]) {
      const res = await handshakeStatus(server.ws('/ws/tracking'), bearer(jwt));
      expect(res.status).toBe(401);
      expect(res.body).toBe(BODY[401]);
      seen.push(res.body, JSON.stringify(res.headers));
    }
    // In-band on an optional path: UNAUTHORIZED, stays anonymous.
    const anon = await pool.open('/ws/main');
    const inBand = await anon.call('auth', { token: expired });
    expectError(inBand, 'UNAUTHORIZED');
    seen.push(JSON.stringify(inBand));
    // In-band on a required path: UNAUTHORIZED, then 4401.
    const pending = await pool.open('/ws/notifications');
    const failed = await pending.call('auth', { token: forged });
    expectError(failed, 'UNAUTHORIZED');
    const closed = await pending.waitClose();
    expect(closed.code).toBe(4401);
    seen.push(JSON.stringify(pending.frames), closed.reason);

    const after = await metrics();
    const delta = (ns: string, reason: string) => after.value('realtime_auth_failures_total', { namespace: ns, reason }) - before.value('realtime_auth_failures_total', { namespace: ns, reason });
    expect(delta('tracking', 'expired')).toBe(1);
    expect(delta('tracking', 'bad_signature')).toBe(1);
    expect(delta('main', 'expired')).toBe(1);
    expect(delta('notifications', 'bad_signature')).toBe(1);
    expect(after.sum('realtime_auth_failures_total') - before.sum('realtime_auth_failures_total')).toBe(4);
    // The server's close code is the one counted.
    expect(after.value('realtime_connections_closed_total', { namespace: 'notifications', code: '4401' })).toBe(before.value('realtime_connections_closed_total', { namespace: 'notifications', code: '4401' }) + 1);
    const reasons = new Set(after.series('realtime_auth_failures_total').map((s) => s.labels.reason));
    for (const reason of reasons) expect(['sub_mismatch', 'missing', 'too_long', 'malformed', 'bad_signature', 'expired', 'not_before', 'bad_claims', 'revoked']).toContain(reason);
    // Nothing the clients received names the reason.
    for (const text of seen) expect(text).not.toMatch(/expired|signature|bad_|revoked|malformed|jwt/i);
  });
});

describe('frame metrics', () => {
  test('an INVALID_JSON frame on /ws/tracking moves errors_total{namespace="tracking",code="INVALID_JSON"} by 1 and no other namespace', async () => {
    const tracking = await pool.open('/ws/tracking');
    const main = await pool.open('/ws/main');
    const before = await metrics();
    tracking.send('{not json');
    expectError(await tracking.next('error'), 'INVALID_JSON');
    const key = { namespace: 'tracking', code: 'INVALID_JSON' };
    await metricsWhen((m) => m.value('realtime_errors_total', key) >= before.value('realtime_errors_total', key) + 1);
    expect((await main.call('ping', {})).event).toBe('pong');
    expect((await tracking.call('ping', {})).event).toBe('pong');
    const after = await metrics();
    expect(after.value('realtime_errors_total', key)).toBe(before.value('realtime_errors_total', key) + 1);
    expect(after.sum('realtime_errors_total', { namespace: 'tracking' })).toBe(before.sum('realtime_errors_total', { namespace: 'tracking' }) + 1);
    expect(after.sum('realtime_errors_total', { code: 'INVALID_JSON' })).toBe(before.sum('realtime_errors_total', { code: 'INVALID_JSON' }) + 1);
    const elsewhere = (m: Exposition) => m.sum('realtime_errors_total', {}, (l) => l.namespace !== 'tracking');
    expect(elsewhere(after)).toBe(elsewhere(before));
  });

  test('frames in and out and the handler duration histogram are counted by event', async () => {
    const client = await pool.open('/ws/tracking');
    const before = await metrics();
    expect((await client.call('tracking.subscribe', { trackingId: 'MET-FRAMES' })).event).toBe('tracking.subscribed');
    const after = await metricsWhen((m) => m.value('realtime_handler_duration_seconds_count', { namespace: 'tracking', event: 'tracking.subscribe' }) >= 1);
    const delta = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(delta('realtime_frames_in_total', { namespace: 'tracking', event: 'tracking.subscribe' })).toBe(1);
    expect(delta('realtime_frames_out_total', { namespace: 'tracking', event: 'tracking.subscribed' })).toBe(1);
    expect(delta('realtime_handler_duration_seconds_count', { namespace: 'tracking', event: 'tracking.subscribe' })).toBe(1);
  });

  test('label values stay bounded: client-chosen paths and event names never become label values', async () => {
    const marker = `zz${Date.now().toString(36)}`;
    expect((await handshakeStatus(server.ws(`/ws/${marker}-path`))).status).toBe(404);
    const client = await pool.open('/ws/tracking');
    for (let i = 0; i < 3; i += 1) {
      expectError(await client.call(`${marker}.event${i}`, {}), 'UNKNOWN_EVENT');
    }
    const m = await metrics();
    expect(m.text).not.toContain(marker);
    const namespaces = new Set(m.samples.map((s) => s.labels.namespace).filter((v) => v !== undefined));
    for (const ns of namespaces) expect([...NAMESPACES, 'unknown']).toContain(ns);
  });

  test('RATE_LIMITED answers move realtime_rate_limited_total of the namespace', async () => {
    const client = await pool.open('/ws/tracking'); // anonymous: burst 10
    const before = await metrics();
    const ids = Array.from({ length: 13 }, (_, i) => `rl-${i}`);
    for (const id of ids) client.send({ event: 'ping', data: {}, id });
    await eventually(() => ids.every((id) => client.frames.some((f) => f.id === id)));
    const answers = ids.map((id) => client.frames.find((f) => f.id === id)!);
    const limited = answers.filter((f) => f.event === 'error' && f.code === 'RATE_LIMITED').length;
    expect(limited).toBeGreaterThanOrEqual(1);
    const after = await metricsWhen((m) => m.value('realtime_rate_limited_total', { namespace: 'tracking' }) >= before.value('realtime_rate_limited_total', { namespace: 'tracking' }) + limited);
    expect(after.value('realtime_rate_limited_total', { namespace: 'tracking' })).toBe(before.value('realtime_rate_limited_total', { namespace: 'tracking' }) + limited);
    expect(after.value('realtime_errors_total', { namespace: 'tracking', code: 'RATE_LIMITED' })).toBe(before.value('realtime_errors_total', { namespace: 'tracking', code: 'RATE_LIMITED' }) + limited);
    expect(after.sum('realtime_rate_limited_total', {}, (l) => l.namespace !== 'tracking')).toBe(before.sum('realtime_rate_limited_total', {}, (l) => l.namespace !== 'tracking'));
  });
});

describe('state gauges', () => {
  test('realtime_subscriptions and realtime_topics follow subscribes, unsubscribes and closes', async () => {
    const a = await pool.open('/ws/tracking');
    const b = await pool.open('/ws/tracking');
    const before = await metrics();
    expect(before.value('realtime_subscriptions', { namespace: 'tracking' })).toBe(0);
    await a.call('tracking.subscribe', { trackingId: 'MET-S1' });
    await a.call('tracking.subscribe', { trackingId: 'MET-S2' });
    await b.call('tracking.subscribe', { trackingId: 'MET-S1' });
    let m = await metrics();
    expect(m.value('realtime_subscriptions', { namespace: 'tracking' })).toBe(3);
    expect(m.value('realtime_topics', { namespace: 'tracking' })).toBe(2);
    await a.call('tracking.unsubscribe', { trackingId: 'MET-S2' });
    m = await metrics();
    expect(m.value('realtime_subscriptions', { namespace: 'tracking' })).toBe(2);
    expect(m.value('realtime_topics', { namespace: 'tracking' })).toBe(1);
    await pool.drain();
    m = await metrics();
    expect(m.value('realtime_subscriptions', { namespace: 'tracking' })).toBe(0);
    expect(m.value('realtime_topics', { namespace: 'tracking' })).toBe(0);
  });

  test('chat history gauges move after a commodity message and agree with the store', async () => {
    const commodityId = 100000 + Math.floor(Math.random() * 1000000);
    const client = await pool.open('/ws/commodity', bearer(token({ sub: 'metrics-chat' })));
    const before = await metrics();
    expect((await client.call('commodity.join', { commodityId })).event).toBe('commodity.joined');
    expect((await client.call('commodity.message', { commodityId, text: 'hello metrics' })).event).toBe('commodity.sent');
    const after = await metrics();
    expect(after.value('realtime_chat_history_messages')).toBe(before.value('realtime_chat_history_messages') + 1);
    expect(after.value('realtime_chat_history_commodities')).toBe(before.value('realtime_chat_history_commodities') + 1);
    const stats = await server.stats();
    expect(after.value('realtime_chat_history_messages')).toBe(stats.chat.messages);
    expect(after.value('realtime_chat_history_commodities')).toBe(stats.chat.commodities);
  });

  test('the activity buffer gauge shows reported items waiting for a flush', async () => {
    const client = await pool.open('/ws/activity', bearer(token({ sub: 'metrics-activity' })));
    const before = await metrics();
    client.send({ event: 'activity.report', data: { type: 'click', target: 'metrics' } });
    expect((await client.call('ping', {})).event).toBe('pong');
    const after = await metrics();
    expect(after.value('realtime_activity_buffer_items')).toBe(before.value('realtime_activity_buffer_items') + 1);
    expect(after.value('realtime_activity_buffer_items')).toBe((await server.stats()).activity.buffered);
  });
});

describe('activity drops', () => {
  test('items the sink could not take move realtime_activity_dropped_items_total and leave the buffer', async () => {
    const client = await Client.open(failing.ws('/ws/activity'), bearer(token({ sub: 'metrics-drop' })));
    try {
      const before = await scrape(failing);
      client.send({ event: 'activity.report', data: { type: 'click', target: 'a' } });
      client.send({ event: 'activity.report', data: { type: 'click', target: 'b' } });
      expect((await client.call('ping', {})).event).toBe('pong');
      const buffered = await scrape(failing);
      expect(buffered.value('realtime_activity_buffer_items')).toBe(before.value('realtime_activity_buffer_items') + 2);
      await failing.request({ cmd: 'flushActivity' });
      const after = await scrape(failing);
      expect(after.value('realtime_activity_dropped_items_total')).toBe(before.value('realtime_activity_dropped_items_total') + 2);
      expect(after.value('realtime_activity_buffer_items')).toBe(0);
    } finally {
      client.close();
    }
  });
});

describe('operator docs', () => {
  test('docs/operations.md names every metric family the server exports, every alert and the §9 variables', async () => {
    const docs = readFileSync(fileURLToPath(new URL('../../docs/operations.md', import.meta.url)), 'utf8');
    const m = parsePrometheus((await request(open.http()).get('/metrics')).text);
    for (const family of m.families.keys()) expect([family, docs.includes(family)]).toEqual([family, true]);
    for (const name of ['error_rate', 'auth_failures', 'rate_limited', 'heartbeat_terminations', 'connections']) expect([name, docs.includes(name)]).toEqual([name, true]);
    for (const env of ['METRICS_TOKEN', 'ALERT_EVAL_INTERVAL_MS', 'ALERT_ERRORS_PER_MIN', 'ALERT_AUTH_FAILURES_PER_MIN', 'ALERT_RATE_LIMITED_PER_MIN', 'ALERT_HEARTBEAT_TERMINATIONS_PER_MIN', 'ALERT_MAX_CONNECTIONS', 'LOG_LEVEL', 'NODE_ENV']) {
      expect([env, docs.includes(env)]).toEqual([env, true]);
    }
  });
});

describe('METRICS_TOKEN', () => {
  const UNAUTHORIZED = '{"code":"UNAUTHORIZED","message":"Unauthorized"}';

  test.each([
    ['no Authorization header', undefined],
    ['a wrong bearer token', `Bearer ${'x'.repeat(METRICS_TOKEN.length)}`],
    ['a prefix of the token', `Bearer ${METRICS_TOKEN.slice(0, -1)}`],
    ['the token plus a character', `Bearer ${METRICS_TOKEN}x`],
    ['the token with another scheme', `Basic ${METRICS_TOKEN}`],
    ['the bare token', METRICS_TOKEN],
    ['an empty bearer', 'Bearer '],
  ])('%s → 401 with the UNAUTHORIZED body and no metrics', async (_name, authorization) => {
    const req = request(server.http()).get('/metrics');
    const res = await (authorization === undefined ? req : req.set('Authorization', authorization));
    expect(res.status).toBe(401);
    expect(res.text).toBe(UNAUTHORIZED);
    expect(res.text).not.toContain('realtime_');
  });

  test('the right bearer token → 200 with the exposition', async () => {
    const res = await request(server.http()).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(parsePrometheus(res.text).families.has('realtime_connections')).toBe(true);
  });

  test('without METRICS_TOKEN /metrics is open, and a bearer header does no harm', async () => {
    expect((await request(open.http()).get('/metrics')).status).toBe(200);
    expect((await request(open.http()).get('/metrics').set('Authorization', 'Bearer anything')).status).toBe(200);
  });
});
