/**
 * Issue 4, "How it is proven" (alerts, finding 23): with tiny thresholds and a 100 ms
 * evaluation interval, an alert fires for the namespace that crossed and not the others, once
 * (no repeat each interval); it is logged at warn with the namespace and figure, emitted as an
 * event the host app can listen to (AlertMonitor.onAlert, printed by the harness as
 * `{"alertEvent":…}`), exported as `realtime_alert_active{namespace,alert}` and listed in
 * `/health/ready`'s details while readiness stays 200; and it resolves when back under.
 */
import request from 'supertest';
import { Client, eventually, type ServerHandle, sleep, startServer, token } from '../support/harness.js';
import { bearer, ClientPool, expectError, nowSec } from '../support/e2e-helpers.js';
import { type Exposition, outputLines, scrape } from '../support/observability-helpers.js';

const INTERVAL_MS = 100;
/** Long enough for several evaluations: what has not repeated by then does not repeat. */
const SEVERAL_INTERVALS_MS = 8 * INTERVAL_MS;

let server: ServerHandle;
const pool = new ClientPool(() => server);

beforeAll(async () => {
  server = await startServer({
    alertEvents: true,
    options: {
      alertEvalIntervalMs: INTERVAL_MS,
      heartbeatIntervalMs: 300,
      pongTimeoutMs: 1000,
      // The contract's env variable for a default (every namespace without an override).
      env: { ALERT_MAX_CONNECTIONS: '3' },
      alerts: {
        namespaces: {
          tracking: { errorsPerMin: 3, maxConnections: 2 },
          main: { authFailuresPerMin: 3, rateLimitedPerMin: 2 },
          collaboration: { heartbeatTerminationsPerMin: 1 },
        },
      },
    },
  });
});

afterEach(async () => {
  await pool.drain();
  // Let evaluations that follow the closes happen before the next test takes its mark.
  await sleep(3 * INTERVAL_MS);
});

afterAll(async () => {
  await server?.stop();
});

interface AlertEvent {
  namespace: string;
  alert: string;
  state: 'firing' | 'resolved';
  value: number;
  threshold: number;
  at: string;
}

/** A position in the server's output; events and log lines after it belong to the current test. */
const mark = (): number => server.output().length;

/** Output lines (parsed) written after `from`. */
function linesSince(from: number): Array<Record<string, unknown>> {
  const before = server
    .output()
    .slice(0, from)
    .split('\n')
    .filter((line) => line.trim() !== '').length;
  return outputLines(server).slice(before);
}

function eventsSince(from: number): AlertEvent[] {
  return linesSince(from).flatMap((l) => ('alertEvent' in l ? [l.alertEvent as AlertEvent] : []));
}

/** The server's log lines about alerts (they carry `alert` and `namespace` fields). */
function alertLogsSince(from: number): Array<Record<string, unknown>> {
  return linesSince(from).filter((l) => !('alertEvent' in l) && typeof l.alert === 'string' && typeof l.namespace === 'string');
}

async function waitForEvent(from: number, match: Partial<AlertEvent>, timeoutMs = 2000): Promise<AlertEvent> {
  let found: AlertEvent | undefined;
  await eventually(() => {
    found = eventsSince(from).find((e) => Object.entries(match).every(([k, v]) => e[k as keyof AlertEvent] === v));
    return found !== undefined;
  }, timeoutMs, 20).catch(() => {
    throw new Error(`no alert event ${JSON.stringify(match)} within ${timeoutMs} ms; events: ${JSON.stringify(eventsSince(from))}`);
  });
  return found!;
}

const metrics = (): Promise<Exposition> => scrape(server);

/** `namespace/alert` of every `realtime_alert_active` series at 1. */
const activeInMetrics = (m: Exposition): string[] =>
  m
    .series('realtime_alert_active')
    .filter((s) => s.value === 1)
    .map((s) => `${s.labels.namespace}/${s.labels.alert}`)
    .sort();

async function readiness(): Promise<{ status: number; body: { status: string; details: Record<string, { status: string; active?: Array<Record<string, unknown>> }> } }> {
  const res = await request(server.http()).get('/health/ready');
  return { status: res.status, body: res.body };
}

const activeInReadiness = (body: Awaited<ReturnType<typeof readiness>>['body']): string[] =>
  (body.details.alerts?.active ?? []).map((a) => `${String(a.namespace)}/${String(a.alert)}`).sort();

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('per-namespace alerts (finding 23)', () => {
  test('error_rate: 3 invalid frames on /ws/tracking (threshold 3) fire one alert for tracking only — gauge, readiness details, warn log, event', async () => {
    const from = mark();
    const main = await pool.open('/ws/main');
    const tracking = await pool.open('/ws/tracking');
    // One error on main, far under its default threshold (120).
    main.send('not json');
    expectError(await main.next('error'), 'INVALID_JSON');
    for (let i = 0; i < 3; i += 1) {
      tracking.send(`{broken ${i}`);
      expectError(await tracking.next('error'), 'INVALID_JSON');
    }
    const firing = await waitForEvent(from, { namespace: 'tracking', alert: 'error_rate', state: 'firing' }, 1000);
    expect(firing).toEqual({ namespace: 'tracking', alert: 'error_rate', state: 'firing', value: 3, threshold: 3, at: expect.stringMatching(ISO) });

    const m = await metrics();
    expect(m.find('realtime_alert_active', { namespace: 'tracking', alert: 'error_rate' })?.value).toBe(1);
    expect(activeInMetrics(m)).toEqual(['tracking/error_rate']);

    const ready = await readiness();
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ok');
    expect(ready.body.details.alerts?.status).toBe('up');
    expect(ready.body.details.alerts?.active).toEqual([
      { namespace: 'tracking', alert: 'error_rate', value: 3, threshold: 3, since: firing.at },
    ]);

    // Fired once: no repeat on the following evaluations, for this or any other namespace.
    await sleep(SEVERAL_INTERVALS_MS);
    expect(eventsSince(from)).toEqual([firing]);
    const logs = alertLogsSince(from);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level: 'warn', namespace: 'tracking', alert: 'error_rate', state: 'firing', value: 3, threshold: 3 });
    expect(String(logs[0]!.msg)).toContain('tracking');
    expect(activeInMetrics(await metrics())).toEqual(['tracking/error_rate']);
  });

  test('connections: the alert fires when 2 connections are open on /ws/tracking (ceiling 2), not at 1, once, and resolves after they close', async () => {
    const from = mark();
    const first = await pool.open('/ws/tracking');
    await sleep(4 * INTERVAL_MS);
    expect(eventsSince(from).filter((e) => e.alert === 'connections')).toEqual([]);

    const second = await pool.open('/ws/tracking');
    const firing = await waitForEvent(from, { namespace: 'tracking', alert: 'connections', state: 'firing' });
    expect(firing).toMatchObject({ value: 2, threshold: 2 });
    expect((await metrics()).find('realtime_alert_active', { namespace: 'tracking', alert: 'connections' })?.value).toBe(1);
    const ready = await readiness();
    expect(ready.status).toBe(200);
    expect(ready.body.details.alerts?.active).toContainEqual({ namespace: 'tracking', alert: 'connections', value: 2, threshold: 2, since: firing.at });

    await sleep(SEVERAL_INTERVALS_MS);
    expect(eventsSince(from)).toEqual([firing]);

    first.close();
    second.close();
    await Promise.all([first.waitClose(), second.waitClose()]);
    const resolved = await waitForEvent(from, { namespace: 'tracking', alert: 'connections', state: 'resolved' });
    expect(resolved.threshold).toBe(2);
    expect(resolved.value).toBeLessThan(2);
    expect(resolved.at).toMatch(ISO);

    const m = await metrics();
    expect(m.find('realtime_alert_active', { namespace: 'tracking', alert: 'connections' })?.value).toBe(0);
    const after = await readiness();
    expect(after.status).toBe(200);
    expect(activeInReadiness(after.body)).not.toContain('tracking/connections');

    await sleep(SEVERAL_INTERVALS_MS);
    expect(eventsSince(from)).toEqual([firing, resolved]);
    const logs = alertLogsSince(from);
    expect(logs.map((l) => [l.level, l.state, l.namespace, l.alert])).toEqual([
      ['warn', 'firing', 'tracking', 'connections'],
      ['warn', 'resolved', 'tracking', 'connections'],
    ]);
  });

  test('connections: a namespace without an override uses the default ceiling (ALERT_MAX_CONNECTIONS=3)', async () => {
    const from = mark();
    await pool.open('/ws/projects', bearer(token({ sub: 'alert-p1' })));
    await pool.open('/ws/projects', bearer(token({ sub: 'alert-p2' })));
    await sleep(4 * INTERVAL_MS);
    expect(eventsSince(from).filter((e) => e.namespace === 'projects')).toEqual([]);
    await pool.open('/ws/projects', bearer(token({ sub: 'alert-p3' })));
    const firing = await waitForEvent(from, { namespace: 'projects', alert: 'connections', state: 'firing' });
    expect(firing).toMatchObject({ value: 3, threshold: 3 });
    await pool.drain();
    await waitForEvent(from, { namespace: 'projects', alert: 'connections', state: 'resolved' });
    expect(eventsSince(from).map((e) => `${e.namespace}/${e.alert}/${e.state}`)).toEqual(['projects/connections/firing', 'projects/connections/resolved']);
    expect((await metrics()).find('realtime_alert_active', { namespace: 'projects', alert: 'connections' })?.value).toBe(0);
  });

  test('auth_failures: 3 in-band auth failures on /ws/main (threshold 3) fire the alert for main only', async () => {
    const from = mark();
    const client = await pool.open('/ws/main');
    const bad = [
      token({ sub: 'alert-expired', exp: nowSec() - 120 }),
      token({ sub: 'alert-forged' }, { secret: 'a-different-secret-0123456789abcdefghij' }),
      'not.a.jwt',
    ];
    expectError(await client.call('auth', { token: bad[0] }), 'UNAUTHORIZED');
    expectError(await client.call('auth', { token: bad[1] }), 'UNAUTHORIZED');
    await sleep(4 * INTERVAL_MS);
    expect(eventsSince(from)).toEqual([]);
    expectError(await client.call('auth', { token: bad[2] }), 'UNAUTHORIZED');
    const firing = await waitForEvent(from, { namespace: 'main', alert: 'auth_failures', state: 'firing' });
    expect(firing).toMatchObject({ value: 3, threshold: 3 });
    await sleep(SEVERAL_INTERVALS_MS);
    expect(eventsSince(from)).toEqual([firing]);
    const m = await metrics();
    expect(m.find('realtime_alert_active', { namespace: 'main', alert: 'auth_failures' })?.value).toBe(1);
    expect(activeInMetrics(m)).not.toContain('main/error_rate');
    const ready = await readiness();
    expect(ready.status).toBe(200);
    expect(activeInReadiness(ready.body)).toContain('main/auth_failures');
  });

  test('rate_limited: RATE_LIMITED answers on /ws/main past its threshold (2) fire the alert for main', async () => {
    const from = mark();
    const client = await pool.open('/ws/main'); // anonymous: burst 10
    const ids = Array.from({ length: 13 }, (_, i) => `alert-rl-${i}`);
    for (const id of ids) client.send({ event: 'ping', data: {}, id });
    await eventually(() => ids.every((id) => client.frames.some((f) => f.id === id)));
    expect(client.frames.filter((f) => f.code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(2);
    const firing = await waitForEvent(from, { namespace: 'main', alert: 'rate_limited', state: 'firing' });
    expect(firing.threshold).toBe(2);
    expect(firing.value).toBeGreaterThanOrEqual(2);
    expect((await metrics()).find('realtime_alert_active', { namespace: 'main', alert: 'rate_limited' })?.value).toBe(1);
    await sleep(SEVERAL_INTERVALS_MS);
    expect(eventsSince(from)).toEqual([firing]);
  });

  test('heartbeat_terminations: a dead peer on /ws/collaboration (threshold 1) fires the alert for collaboration', async () => {
    const from = mark();
    const silent = await Client.open(server.ws('/ws/collaboration'), { ...bearer(token({ sub: 'alert-silent' })), autoPong: false });
    expect((await silent.waitClose(5000)).code).toBe(1006);
    const firing = await waitForEvent(from, { namespace: 'collaboration', alert: 'heartbeat_terminations', state: 'firing' });
    expect(firing).toMatchObject({ value: 1, threshold: 1 });
    expect((await metrics()).find('realtime_alert_active', { namespace: 'collaboration', alert: 'heartbeat_terminations' })?.value).toBe(1);
    await sleep(SEVERAL_INTERVALS_MS);
    expect(eventsSince(from)).toEqual([firing]);
  });

  test('every alert still active is in both the gauge and readiness, which stays 200', async () => {
    const m = await metrics();
    const ready = await readiness();
    expect(ready.status).toBe(200);
    expect(activeInReadiness(ready.body)).toEqual(activeInMetrics(m));
    // What the earlier tests fired and has not had a minute to resolve; nothing else.
    expect(activeInMetrics(m)).toEqual(['collaboration/heartbeat_terminations', 'main/auth_failures', 'main/rate_limited', 'tracking/error_rate']);
  });
});

describe('readiness and alerts', () => {
  test('readiness fails (503) when the heap is over HEALTH_HEAP_LIMIT_BYTES, never because of an alert; liveness stays 200', async () => {
    const tight = await startServer({ options: { heapLimitBytes: 1 } });
    try {
      const ready = await request(tight.http()).get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.details?.heap?.status).toBe('down');
      expect(ready.body.details?.alerts?.status).toBe('up');
      expect((await request(tight.http()).get('/health/live')).status).toBe(200);
    } finally {
      await tight.stop();
    }
    // The alerting server above has had alerts active throughout and stayed ready.
    const ready = await readiness();
    expect(ready.status).toBe(200);
    expect(ready.body.details.heap?.status).toBe('up');
    expect(ready.body.details.websocket?.status).toBe('up');
    expect(activeInReadiness(ready.body).length).toBeGreaterThan(0);
  });
});
