/**
 * Soak / leak test (issue 6; docs/protocol.md §7; findings 3, 4, 5, 7, 8, 11, 20, 24). The server runs
 * with `--expose-gc`. Three waves of N connections (SOAK_CONNECTIONS, default 2,000 in CI;
 * `SOAK_CONNECTIONS=10000` for the long run) spread over every namespace: they authenticate
 * (half by header, a quarter of the auth-required ones in-band after connecting pending, the
 * rest of the optional-path ones anonymous or in-band on /ws/main), subscribe and join
 * (tracking, notifications, projects with the claim, collaboration rooms with presence and a
 * broadcast, commodity chat with a message, activity reports and the admin feed), then
 * disconnect, half with a close handshake and half abruptly (terminate()).
 *
 * After each wave and a full GC: every registry, room, presence, chat history, limiter,
 * activity-buffer and timer count is back to its baseline (0; chat history once its short TTL
 * has passed), and the retained heap is within HEAP_BOUND of the baseline measured after a
 * warm-up wave.
 */
import { Client, eventually, type ServerHandle, type Stats, startServer, token } from '../support/harness.js';
import { bearer } from '../support/e2e-helpers.js';
import { inBatches, mb } from '../support/safety-helpers.js';

const N = Number(process.env.SOAK_CONNECTIONS ?? 2000);
const WAVES = 3;
const WARMUP = Math.min(400, N);
/** Retained heap after a wave and a full GC may exceed the baseline by at most this. */
const HEAP_BOUND = 20 * 1024 * 1024;
/** And must not creep from wave to wave: the last wave may retain at most this much more than the first. */
const GROWTH_BOUND = 4 * 1024 * 1024;
const BATCH = 200;
const USERS = Math.max(1, Math.ceil(N / 16));
const ROOMS = 40;
const COMMODITIES = 20;
const CHAT_TTL_MS = 2000;
/** Large runs spread their source addresses so closed sockets in TIME_WAIT never exhaust the ephemeral ports. */
const SOURCE_ADDRESSES = N > 3000 ? ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'] : ['127.0.0.1'];

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer({
    exposeGc: true,
    options: {
      // Room to connect N at once from one address; every other limit stays at its default.
      handshakeRatePerIp: 10_000_000,
      maxAnonConnectionsPerIp: 1_000_000,
      chatHistoryTtlMs: CHAT_TTL_MS,
      activityFlushIntervalMs: 500,
    },
  });
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

type Kind = 'tracking' | 'notifications' | 'projects' | 'collaboration' | 'commodity' | 'activity' | 'main' | 'mololink';
const KINDS: readonly Kind[] = ['tracking', 'notifications', 'projects', 'collaboration', 'commodity', 'activity', 'main', 'mololink'];
type Auth = 'header' | 'in-band' | 'anonymous';

interface Plan {
  readonly kind: Kind;
  readonly auth: Auth;
  readonly sub: string;
  readonly claims: Record<string, unknown>;
  /** i / 8: spreads the connections of one namespace over its topics, rooms and commodities. */
  readonly round: number;
}

/** Connection i of a wave: which namespace, how it authenticates, who it is. */
function plan(i: number): Plan {
  const kind = KINDS[i % KINDS.length]!;
  const round = Math.floor(i / KINDS.length);
  const optional = kind === 'main' || kind === 'tracking';
  // Half by header; on auth-required paths a quarter in-band after connecting pending;
  // on optional paths the rest anonymous, and on /ws/main some of those authenticate in-band.
  const auth: Auth = round % 2 === 0 ? 'header' : optional ? (kind === 'main' && round % 4 === 1 ? 'in-band' : 'anonymous') : round % 4 === 1 ? 'in-band' : 'header';
  const sub = `soak-u${i % USERS}`;
  const claims: Record<string, unknown> = { sub, name: `Soak ${i % USERS}`, projects: [`P-${round % 50}`] };
  if (kind === 'activity' && round % 10 === 0) claims.roles = ['admin'];
  return { kind, auth, sub, claims, round };
}

async function expectReply(client: Client, event: string, data: Record<string, unknown>, reply: string): Promise<void> {
  const answer = await client.call(event, data);
  if (answer.event !== reply) throw new Error(`${event} answered ${JSON.stringify(answer)}`);
}

/** Opens connection i and makes it do what its plan says. */
async function run(i: number, wave: number): Promise<Client> {
  const p = plan(i);
  const localAddress = SOURCE_ADDRESSES[(wave + SOURCE_ADDRESSES.length) % SOURCE_ADDRESSES.length]!;
  const client = await Client.open(server.ws(`/ws/${p.kind}`), { localAddress, ...(p.auth === 'header' ? bearer(token(p.claims)) : {}) });
  if (p.auth === 'in-band') await expectReply(client, 'auth', { token: token(p.claims) }, 'auth.ok');
  switch (p.kind) {
    case 'tracking':
      await expectReply(client, 'tracking.subscribe', { trackingId: `T-${p.round % 100}` }, 'tracking.subscribed');
      await expectReply(client, 'tracking.subscribe', { trackingId: `T-${(p.round + 37) % 100}` }, 'tracking.subscribed');
      break;
    case 'notifications':
      await expectReply(client, 'notifications.subscribe', {}, 'notifications.subscribed');
      break;
    case 'projects':
      await expectReply(client, 'project.subscribe', { projectId: `P-${p.round % 50}` }, 'project.subscribed');
      break;
    case 'collaboration':
      await expectReply(client, 'room.join', { roomId: `R-${p.round % ROOMS}` }, 'room.joined');
      if (p.round % 4 === 3) client.send({ event: 'room.broadcast', data: { roomId: `R-${p.round % ROOMS}`, data: { cursor: i } } });
      break;
    case 'commodity':
      await expectReply(client, 'commodity.join', { commodityId: (p.round % COMMODITIES) + 1 }, 'commodity.joined');
      await expectReply(client, 'commodity.message', { commodityId: (p.round % COMMODITIES) + 1, text: `soak message ${i}` }, 'commodity.sent');
      break;
    case 'activity':
      if (Array.isArray(p.claims.roles)) await expectReply(client, 'activity.subscribe', {}, 'activity.subscribed');
      client.send({ event: 'activity.report', data: { type: 'soak', target: `t${i}`, metadata: { wave } } });
      break;
    case 'main':
    case 'mololink':
      await expectReply(client, 'ping', {}, 'pong');
      break;
  }
  return client;
}

/** Every count that must be back at its baseline once a wave has gone. */
const residue = (s: Stats) => ({
  connections: s.connections,
  subscriptions: s.subscriptions,
  limiter: s.limiter,
  timers: s.lifecycle.timers,
  rooms: s.rooms,
  chat: s.chat,
  activityBuffered: s.activity.buffered,
});
const CLEAN = {
  connections: { connections: 0, users: 0, namespaces: 0 },
  subscriptions: { topics: 0, subscriptions: 0, connections: 0 },
  limiter: { users: 0, anonymousIps: 0 },
  timers: 0,
  rooms: 0,
  chat: { commodities: 0, messages: 0, bytes: 0 },
  activityBuffered: 0,
};

async function wave(index: number, size: number): Promise<{ peak: Stats; after: Stats; heapAfter: number; ms: number }> {
  const started = Date.now();
  const clients = await inBatches(size, BATCH, (i) => run(i, index));
  // Let the fire-and-forget frames (room.broadcast, activity.report) be processed before measuring the peak.
  await Promise.all(clients.filter((_, i) => i % 8 === 3 || i % 8 === 5).map((c) => c.call('ping', {})));
  const peak = await server.stats();
  expect(peak.connections.connections).toBe(size);
  expect(peak.connections.namespaces).toBe(Math.min(size, KINDS.length));

  clients.forEach((client, i) => (i % 2 === 0 ? client.close() : client.socket.terminate()));
  await Promise.all(clients.map((c) => c.waitClose(30_000)));
  let after = await server.stats();
  await eventually(
    async () => {
      after = await server.stats();
      return JSON.stringify(residue(after)) === JSON.stringify(CLEAN);
    },
    CHAT_TTL_MS * 3 + 10_000,
    100,
  ).catch(() => undefined);
  const heapAfter = (await server.gc()).heapUsed;
  return { peak, after, heapAfter, ms: Date.now() - started };
}

test(`findings 3/4/5/7/8/11/20/24: soak — ${WAVES} waves of ${N} connections over all namespaces leave every count at its baseline and the retained heap within ${mb(HEAP_BOUND)} of it`, async () => {
  // Warm-up: JIT, validation metadata, metric label sets and pools exist before the baseline.
  const warm = await wave(-1, WARMUP);
  expect(residue(warm.after)).toEqual(CLEAN);
  const baseline = (await server.gc()).heapUsed;
  console.log(`soak: N=${N}, users=${USERS}, rooms=${ROOMS}, commodities=${COMMODITIES}, source addresses=${SOURCE_ADDRESSES.length}; baseline heap after warm-up (${WARMUP} connections) and GC: ${mb(baseline)}`);

  const lines: string[] = [];
  const retained: number[] = [];
  for (let w = 0; w < WAVES; w += 1) {
    const heapBefore = (await server.gc()).heapUsed;
    const { peak, after, heapAfter, ms } = await wave(w, N);
    retained.push(heapAfter);
    lines.push(
      `wave ${w + 1}: ${N} connections in ${(ms / 1000).toFixed(1)} s; peak: ${peak.connections.connections} connections, ${peak.connections.users} users, ` +
        `${peak.subscriptions.subscriptions} subscriptions on ${peak.subscriptions.topics} topics, ${peak.rooms} rooms, chat ${peak.chat.messages} messages / ${peak.chat.commodities} commodities, ` +
        `${peak.lifecycle.timers} timers, ${mb(peak.heapUsed)} heap; after: ${JSON.stringify(residue(after))}; heap before ${mb(heapBefore)} → after GC ${mb(heapAfter)} (baseline ${mb(baseline)}, bound +${mb(HEAP_BOUND)})`,
    );
    console.log(lines[lines.length - 1]);
    expect(peak.subscriptions.subscriptions).toBeGreaterThan(N / 2);
    expect(peak.rooms).toBe(Math.min(ROOMS, Math.ceil(N / 8)));
    expect(peak.chat.messages).toBeGreaterThan(0);
    expect(residue(after)).toEqual(CLEAN);
    expect(after.handshakeIps).toBeLessThanOrEqual(SOURCE_ADDRESSES.length);
    expect(heapAfter - baseline).toBeLessThan(HEAP_BOUND);
  }
  const growth = retained[retained.length - 1]! - retained[0]!;
  lines.push(`retained heap from wave 1 to wave ${WAVES}: ${growth >= 0 ? '+' : ''}${mb(growth)} (${Math.round(growth / (N * (WAVES - 1)))} bytes per later connection; bound +${mb(GROWTH_BOUND)})`);
  console.log(`soak summary:\n  ${lines.join('\n  ')}`);
  expect(growth).toBeLessThan(GROWTH_BOUND);
}, 600_000);
