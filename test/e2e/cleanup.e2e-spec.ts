/**
 * docs/protocol.md §7 (findings 3, 7, 24): when connections go, for any reason, every trace goes
 * with them — subscriptions, empty topics, user and per-IP counts, timers.
 */
import { Client, eventually, type ServerHandle, type Stats, startServer, token } from '../support/harness.js';
import { bearer, ClientPool, expectAlive } from '../support/e2e-helpers.js';

const CONNECTIONS = 1000;
const TOPICS = 50;
const BATCH = 100;

let server: ServerHandle;
const pool = new ClientPool(() => server);

beforeAll(async () => {
  server = await startServer({
    options: {
      handshakeRatePerIp: 100_000,
      maxAnonConnectionsPerIp: CONNECTIONS,
      // Long intervals: the test is about cleanup, not heartbeats or expiry.
      heartbeatIntervalMs: 60_000,
    },
  });
});

afterEach(async () => {
  await pool.drain();
});

afterAll(async () => {
  await server?.stop();
});

const EMPTY = {
  connections: { connections: 0, users: 0, namespaces: 0 },
  subscriptions: { topics: 0, subscriptions: 0, connections: 0 },
  limiter: { users: 0, anonymousIps: 0 },
};

function isEmpty(stats: Stats): boolean {
  return (
    JSON.stringify(stats.connections) === JSON.stringify(EMPTY.connections) &&
    JSON.stringify(stats.subscriptions) === JSON.stringify(EMPTY.subscriptions) &&
    JSON.stringify(stats.limiter) === JSON.stringify(EMPTY.limiter) &&
    stats.lifecycle.timers === 0
  );
}

/** Connection i: every fifth on /ws/main, the rest on /ws/tracking; even ones authenticated (200 users). */
const plan = (i: number) => ({
  path: i % 5 === 0 ? '/ws/main' : '/ws/tracking',
  sub: i % 2 === 0 ? `cleanup-user-${i % 400}` : undefined,
  topics: i % 5 === 0 ? [] : [0, 17, 33].map((offset) => `T-${(i + offset) % TOPICS}`),
});

test('findings 3/7/24: 1,000 connections on 50 topics leave nothing behind after close() and terminate()', async () => {
  const clients: Client[] = [];
  for (let start = 0; start < CONNECTIONS; start += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, CONNECTIONS - start) }, async (_, k) => {
        const i = start + k;
        const { path, sub, topics } = plan(i);
        const client = await Client.open(server.ws(path), sub === undefined ? {} : bearer(token({ sub })));
        for (const trackingId of topics) {
          const reply = await client.call('tracking.subscribe', { trackingId });
          if (reply.event !== 'tracking.subscribed') throw new Error(`subscribe failed: ${JSON.stringify(reply)}`);
        }
        return client;
      }),
    );
    clients.push(...batch);
  }

  const expectedUsers = new Set(Array.from({ length: CONNECTIONS }, (_, i) => plan(i).sub).filter(Boolean)).size;
  const trackingClients = Array.from({ length: CONNECTIONS }, (_, i) => plan(i)).filter((p) => p.topics.length > 0);
  const expectedTopics = new Set(trackingClients.flatMap((p) => p.topics)).size;
  expect(expectedTopics).toBe(TOPICS);
  const loaded = await server.stats();
  expect(loaded.connections).toEqual({ connections: CONNECTIONS, users: expectedUsers, namespaces: 2 });
  expect(loaded.subscriptions).toEqual({ topics: TOPICS, subscriptions: trackingClients.length * 3, connections: trackingClients.length });
  expect(loaded.limiter).toEqual({ users: expectedUsers, anonymousIps: 1 });
  expect(loaded.lifecycle.timers).toBeGreaterThanOrEqual(CONNECTIONS);

  // The registry really routes: one publish reaches exactly the subscribers of T-0.
  const subscribersOfT0 = clients.filter((_, i) => plan(i).topics.includes('T-0'));
  await server.request({ cmd: 'trackingUpdate', trackingId: 'T-0', data: { phase: 'loaded' } });
  await eventually(() => subscribersOfT0.every((c) => c.all('tracking.update').length === 1), 10_000);
  expect(clients.filter((c) => c.all('tracking.update').length > 0)).toHaveLength(subscribersOfT0.length);

  // Half leave politely, half vanish (no close frame).
  clients.forEach((client, i) => (i % 4 < 2 ? client.close() : client.socket.terminate()));
  await Promise.all(clients.map((c) => c.waitClose(10_000)));

  let last: Stats | undefined;
  await eventually(async () => {
    last = await server.stats();
    return isEmpty(last);
  }, 10_000, 100).catch(() => undefined);
  expect(last?.connections).toEqual(EMPTY.connections);
  expect(last?.subscriptions).toEqual(EMPTY.subscriptions);
  expect(last?.limiter).toEqual(EMPTY.limiter);
  expect(last?.lifecycle.timers).toBe(0);
  // finding 24: the handshake-rate map is keyed by client IP and bounded; one IP here.
  expect(last?.handshakeIps).toBeLessThanOrEqual(1);

  // A publish after cleanup reaches only who subscribes now, recreates nothing and throws
  // nothing. The closed clients cannot receive anything, so fresh observers are the witnesses:
  // a new subscriber of T-0 (the publish path works) and an unsubscribed connection.
  const watcher = await pool.open('/ws/tracking');
  expect((await watcher.call('tracking.subscribe', { trackingId: 'T-0' })).event).toBe('tracking.subscribed');
  const idle = await pool.open('/ws/tracking');
  const before = server.output();
  for (let t = 0; t < TOPICS; t += 1) {
    await server.request({ cmd: 'trackingUpdate', trackingId: `T-${t}`, data: { phase: 'after' } });
  }
  await expect(server.request({ cmd: 'announce', data: { phase: 'after' } })).resolves.toBeUndefined();
  await eventually(() => watcher.all('tracking.update').length >= 1, 5000);
  await expectAlive(idle);
  expect(watcher.all('tracking.update').map((f) => f.data?.phase)).toEqual(['after']);
  expect(idle.all('tracking.update')).toEqual([]);
  expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 1, connections: 1 });
  expect(server.output().slice(before.length)).not.toMatch(/"level":"error"|\bERROR\b/);
}, 60_000);

test('finding 3: unsubscribing the last member deletes the topic; a repeated subscribe is not counted twice', async () => {
  const a = await pool.open('/ws/tracking');
  const b = await pool.open('/ws/tracking', bearer(token({ sub: 'unsub-user' })));
  await a.call('tracking.subscribe', { trackingId: 'ONE' });
  await a.call('tracking.subscribe', { trackingId: 'ONE' });
  await b.call('tracking.subscribe', { trackingId: 'ONE' });
  expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 2, connections: 2 });
  expect(await a.call('tracking.unsubscribe', { trackingId: 'ONE' }, 'u')).toEqual({ event: 'tracking.unsubscribed', data: { trackingId: 'ONE' }, id: 'u' });
  expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 1, connections: 1 });
  await b.call('tracking.unsubscribe', { trackingId: 'ONE' });
  expect((await server.stats()).subscriptions).toEqual(EMPTY.subscriptions);
  await server.request({ cmd: 'trackingUpdate', trackingId: 'ONE', data: {} });
  await expectAlive(a);
  await expectAlive(b);
  expect(a.all('tracking.update')).toHaveLength(0);
  expect(b.all('tracking.update')).toHaveLength(0);
});

test('finding 7: a terminated connection with 30 subscriptions leaves no topic, count or timer behind', async () => {
  const client = await pool.open('/ws/tracking', bearer(token({ sub: 'many-topics' })));
  for (let i = 0; i < 30; i += 1) {
    expect((await client.call('tracking.subscribe', { trackingId: `M-${i}` })).event).toBe('tracking.subscribed');
  }
  expect((await server.stats()).subscriptions).toEqual({ topics: 30, subscriptions: 30, connections: 1 });
  client.socket.terminate();
  await eventually(async () => isEmpty(await server.stats()));
});
