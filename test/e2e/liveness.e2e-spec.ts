/**
 * docs/protocol.md §6: protocol heartbeats with a pong deadline (finding 13) and the slow-consumer
 * close (4008) instead of unbounded buffering.
 */
import { eventually, type ServerHandle, sleep, startServer } from '../support/harness.js';
import { as, ClientPool, expectAlive } from '../support/e2e-helpers.js';

const HEARTBEAT_MS = 200;
const PONG_TIMEOUT_MS = 200;
const MAX_BUFFERED = 512 * 1024;

let heartbeat: ServerHandle;
let slow: ServerHandle;
const onHeartbeat = new ClientPool(() => heartbeat);
const onSlow = new ClientPool(() => slow);

beforeAll(async () => {
  [heartbeat, slow] = await Promise.all([
    startServer({ options: { heartbeatIntervalMs: HEARTBEAT_MS, pongTimeoutMs: PONG_TIMEOUT_MS } }),
    startServer({ options: { maxBufferedBytes: MAX_BUFFERED } }),
  ]);
});

afterEach(async () => {
  await Promise.all([onHeartbeat.drain(), onSlow.drain()]);
});

afterAll(async () => {
  await Promise.all([heartbeat, slow].map((s) => s?.stop()));
});

describe('finding 13: heartbeats', () => {
  test('finding 13: a peer that never answers pings is terminated (1006, no close frame) after heartbeat + pong timeout, and counted', async () => {
    const before = (await heartbeat.stats()).lifecycle.heartbeatTerminations;
    const opened = Date.now();
    const dead = await onHeartbeat.open('/ws/tracking', { autoPong: false });
    let pings = 0;
    dead.socket.on('ping', () => (pings += 1));
    const closed = await dead.waitClose(3000);
    const lived = Date.now() - opened;
    expect(closed.code).toBe(1006);
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(lived).toBeGreaterThanOrEqual(HEARTBEAT_MS + PONG_TIMEOUT_MS - 60);
    expect(lived).toBeLessThan(HEARTBEAT_MS + PONG_TIMEOUT_MS + 1500);
    await eventually(async () => {
      const stats = await heartbeat.stats();
      return stats.lifecycle.heartbeatTerminations === before + 1 && stats.connections.connections === 0;
    });
  });

  test('finding 13: a dead authenticated peer is terminated too and its per-user slot is released', async () => {
    const dead = await onHeartbeat.open('/ws/main', { ...as({ sub: 'sleepy' }), autoPong: false });
    expect((await dead.waitClose(3000)).code).toBe(1006);
    await eventually(async () => {
      const stats = await heartbeat.stats();
      return stats.connections.connections === 0 && stats.limiter.users === 0 && stats.lifecycle.timers === 0;
    });
  });

  test('finding 13: a live client answering pings survives many heartbeat intervals', async () => {
    const before = (await heartbeat.stats()).lifecycle.heartbeatTerminations;
    const client = await onHeartbeat.open('/ws/tracking');
    expect(client.connected?.data?.heartbeatMs).toBe(HEARTBEAT_MS);
    let pings = 0;
    client.socket.on('ping', () => (pings += 1));
    await sleep(HEARTBEAT_MS * 6);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    expect(pings).toBeGreaterThanOrEqual(3);
    await expectAlive(client);
    expect((await heartbeat.stats()).lifecycle.heartbeatTerminations).toBe(before);
  });
});

describe('slow consumers', () => {
  test('a client that stops reading is closed with 4008 once its outbound buffer passes WS_MAX_BUFFERED_BYTES; others are unaffected', async () => {
    const stalled = await onSlow.open('/ws/tracking');
    const healthy = await onSlow.open('/ws/tracking');
    expect((await stalled.call('tracking.subscribe', { trackingId: 'FLOOD' })).event).toBe('tracking.subscribed');
    expect((await healthy.call('tracking.subscribe', { trackingId: 'FLOOD' })).event).toBe('tracking.subscribed');
    const raw = (stalled.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();

    const blob = 'x'.repeat(60_000);
    const published = 300; // ~18 MB: far beyond the loopback socket buffers plus 512 KiB
    for (let i = 0; i < published; i += 1) {
      await slow.request({ cmd: 'trackingUpdate', trackingId: 'FLOOD', data: { seq: i, blob } });
    }
    await eventually(() => healthy.all('tracking.update').length === published, 15_000);
    expect(healthy.socket.readyState).toBe(healthy.socket.OPEN);

    raw.resume();
    const closed = await stalled.waitClose(10_000);
    expect(closed.code).toBe(4008);
    // The server stopped writing instead of buffering everything.
    expect(stalled.all('tracking.update').length).toBeLessThan(published);
    await eventually(async () => (await slow.stats()).connections.connections === 1);
    await expectAlive(healthy);
  }, 30_000);
});
