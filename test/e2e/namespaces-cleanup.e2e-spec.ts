/**
 * Cleanup per namespace (docs/protocol.md §7; issue 3 "How it is proven"; findings 3, 4, 5, 7, 8,
 * 20): many connections join/subscribe, then disconnect — half with close(), half with
 * terminate() — and every registry, room, presence-store, limiter and timer entry returns to zero.
 */
import { Client, eventually, type ServerHandle, type Stats, startServer } from '../support/harness.js';
import { ClientPool, reply, seen } from '../support/ns-helpers.js';

const N = 200;

let server: ServerHandle;
const pool = new ClientPool(() => server);

beforeAll(async () => {
  server = await startServer({
    options: {
      handshakeRatePerIp: 1_000_000,
      maxConnectionsPerUser: 1000,
      rateBurst: 2000,
      ratePerSec: 2000,
      authTimeoutMs: 60_000,
    },
  });
});
afterEach(async () => {
  await pool.closeAll();
});
afterAll(async () => {
  await server.stop();
});

/** Disconnects every other client with close(), the rest with terminate(). */
function disconnectHalfAndHalf(clients: Client[]): void {
  clients.forEach((c, i) => (i % 2 === 0 ? c.close() : c.socket.terminate()));
}

const ZERO = {
  subscriptions: { topics: 0, subscriptions: 0, connections: 0 },
  connections: { connections: 0, users: 0, namespaces: 0 },
  limiter: { users: 0, anonymousIps: 0 },
  timers: 0,
  rooms: 0,
};

function cleanupView(s: Stats) {
  return { subscriptions: s.subscriptions, connections: s.connections, limiter: s.limiter, timers: s.lifecycle.timers, rooms: s.rooms };
}

/** Waits until the server holds nothing for any connection, then asserts it exactly. */
async function expectAllClean(): Promise<void> {
  let last: Stats | undefined;
  try {
    await eventually(async () => {
      last = await server.stats();
      return JSON.stringify(cleanupView(last)) === JSON.stringify(ZERO);
    }, 8000, 50);
  } finally {
    expect(last && cleanupView(last)).toEqual(ZERO);
  }
}

async function all<T>(clients: Client[], fn: (c: Client, i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(clients.map(fn));
}

test(`findings 4/7: notifications — ${N} connections (two tabs per user) subscribe, then disconnect half close / half terminate`, async () => {
  const clients = await pool.openMany(N, '/ws/notifications', (i) => ({ sub: `n${i % (N / 2)}` }));
  const replies = await all(clients, (c) => reply(c, 'notifications.subscribe', {}));
  expect(replies.every((r) => r.event === 'notifications.subscribed')).toBe(true);
  // Some pending connections too: their auth timers and per-IP slots must go as well.
  const pending = await pool.openMany(10, '/ws/notifications', () => undefined);
  let s = await server.stats();
  expect(s.subscriptions).toEqual({ topics: N / 2, subscriptions: N, connections: N });
  expect(s.connections.connections).toBe(N + 10);
  expect(s.limiter.anonymousIps).toBe(1);
  expect(s.lifecycle.timers).toBeGreaterThan(0);
  // Delivery works before the disconnect (and proves the subscriptions are real).
  await server.request({ cmd: 'publish', method: 'notify', args: [['n0'], { last: true }] });
  await seen(clients[0]!, 'notification');
  await seen(clients[N / 2]!, 'notification');

  disconnectHalfAndHalf([...clients, ...pending]);
  await expectAllClean();
  s = await server.stats();
  expect(s.subscriptions).toEqual(ZERO.subscriptions);
});

test(`finding 5/7: projects — ${N} connections subscribe to projects, then disconnect half close / half terminate`, async () => {
  const clients = await pool.openMany(N, '/ws/projects', (i) =>
    i % 4 === 0 ? { sub: `p${i}`, roles: ['admin'] } : { sub: `p${i}`, projects: [`P${i % 10}`, `Q${i % 3}`] },
  );
  await all(clients, async (c, i) => {
    expect((await reply(c, 'project.subscribe', { projectId: `P${i % 10}` })).event).toBe('project.subscribed');
    if (i % 4 === 0) expect((await reply(c, 'project.subscribe', { projectId: `ADMIN${i % 5}` })).event).toBe('project.subscribed');
  });
  const s = await server.stats();
  expect(s.subscriptions).toEqual({ topics: 10 + 5, subscriptions: N + N / 4, connections: N });
  disconnectHalfAndHalf(clients);
  await expectAllClean();
});

test(`findings 7/20: collaboration — ${N} members join rooms then disconnect half close / half terminate; survivors get every presence leave`, async () => {
  const ROOMS = 5;
  const survivors = await pool.openMany(ROOMS, '/ws/collaboration', (r) => ({ sub: `survivor${r}`, name: `Survivor ${r}` }));
  await all(survivors, (c, r) => reply(c, 'room.join', { roomId: `R${r}` }));
  const clients = await pool.openMany(N, '/ws/collaboration', (i) => ({ sub: `m${i}`, name: `Member ${i}` }));
  await all(clients, async (c, i) => {
    const joined = await reply(c, 'room.join', { roomId: `R${i % ROOMS}` });
    expect(joined.event).toBe('room.joined');
  });
  expect((await server.stats()).subscriptions).toEqual({ topics: ROOMS, subscriptions: N + ROOMS, connections: N + ROOMS });
  expect((await server.stats()).rooms).toBe(ROOMS);
  const perRoom = N / ROOMS;
  const expected = (r: number) => Array.from({ length: perRoom }, (_, k) => `m${k * ROOMS + r}`).sort();
  const presenceUsers = (c: Client, action: string) =>
    c.all('room.presence').filter((f) => f.data?.action === action).map((f) => (f.data?.user as { userId: string }).userId).sort();
  await eventually(() => survivors.every((c) => presenceUsers(c, 'join').length === perRoom));

  disconnectHalfAndHalf(clients);
  await eventually(() => survivors.every((c) => presenceUsers(c, 'leave').length >= perRoom), 8000, 25);
  survivors.forEach((c, r) => {
    expect(presenceUsers(c, 'join')).toEqual(expected(r));
    expect(presenceUsers(c, 'leave')).toEqual(expected(r));
    for (const f of c.all('room.presence')) {
      expect(f.data?.roomId).toBe(`R${r}`);
      const u = f.data?.user as { userId: string; username: string };
      expect(u.username).toBe(`Member ${u.userId.slice(1)}`);
    }
  });
  await eventually(async () => (await server.stats()).connections.connections === ROOMS);
  // Only the survivors are left, alone in their rooms.
  expect((await server.stats()).subscriptions).toEqual({ topics: ROOMS, subscriptions: ROOMS, connections: ROOMS });
  for (const [r, c] of survivors.entries()) {
    expect((await reply(c, 'room.join', { roomId: `R${r}` })).data?.members).toEqual([{ userId: `survivor${r}`, username: `Survivor ${r}` }]);
  }
  disconnectHalfAndHalf(survivors);
  await expectAllClean();
});

test(`finding 8: commodity — ${N} connections join commodities (some chat), then disconnect half close / half terminate`, async () => {
  const clients = await pool.openMany(N, '/ws/commodity', (i) => ({ sub: `c${i}` }));
  await all(clients, async (c, i) => {
    expect((await reply(c, 'commodity.join', { commodityId: (i % 7) + 1 })).event).toBe('commodity.joined');
    if (i % 10 === 0) expect((await reply(c, 'commodity.message', { commodityId: (i % 7) + 1, text: `hello from ${i}` })).event).toBe('commodity.sent');
  });
  expect((await server.stats()).subscriptions).toEqual({ topics: 7, subscriptions: N, connections: N });
  disconnectHalfAndHalf(clients);
  await expectAllClean();
  // History is kept for later joiners (bounded by count/TTL/LRU, not by membership).
  expect((await server.stats()).chat.messages).toBe(N / 10);
});

test(`finding 7: activity — ${N} connections (half admins on the live feed, half reporting), then disconnect half close / half terminate`, async () => {
  const clients = await pool.openMany(N, '/ws/activity', (i) => (i % 2 === 0 ? { sub: `a${i}`, roles: ['admin'] } : { sub: `a${i}` }));
  await all(clients, async (c, i) => {
    if (i % 2 === 0) expect((await reply(c, 'activity.subscribe', {})).event).toBe('activity.subscribed');
    else {
      c.send({ event: 'activity.report', data: { type: 'cleanup', target: `t${i}` } });
      await reply(c, 'ping', {});
    }
  });
  expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: N / 2, connections: N / 2 });
  disconnectHalfAndHalf(clients);
  await expectAllClean();
});

test('findings 3/5/7/20: one user on every namespace at once, all terminated: nothing is left anywhere', async () => {
  const claims = { sub: 'everywhere', roles: ['admin'], projects: ['P1'] };
  const n = await pool.open('/ws/notifications', claims);
  const p = await pool.open('/ws/projects', claims);
  const r = await pool.open('/ws/collaboration', claims);
  const c = await pool.open('/ws/commodity', claims);
  const a = await pool.open('/ws/activity', claims);
  const t = await pool.open('/ws/tracking', claims);
  const m = await pool.open('/ws/mololink', claims);
  await reply(n, 'notifications.subscribe', {});
  await reply(p, 'project.subscribe', { projectId: 'P1' });
  await reply(r, 'room.join', { roomId: 'solo' });
  await reply(c, 'commodity.join', { commodityId: 42 });
  await reply(a, 'activity.subscribe', {});
  await reply(t, 'tracking.subscribe', { trackingId: 'SHP-1' });
  const s = await server.stats();
  expect(s.subscriptions).toEqual({ topics: 6, subscriptions: 6, connections: 6 });
  expect(s.connections).toEqual({ connections: 7, users: 1, namespaces: 7 });
  expect(s.limiter.users).toBe(1);
  for (const x of [n, p, r, c, a, t, m]) x.socket.terminate();
  await expectAllClean();
});
