/**
 * Recovery after reconnect on one node without Redis (docs/protocol.md §10, docs/recovery.md):
 * per recoverable namespace exactly the missed pushes then live ones at the next offset; 100
 * resubscribes racing a publish loop; every `recovered: false` case; `since` validation; the
 * recovery round trip with 50 missed pushes.
 */
import { jest } from '@jest/globals';
import { Client, eventually, type ServerHandle, startServer } from '../support/harness.js';
import { expectError } from '../support/e2e-helpers.js';
import {
  MANY_CLIENTS,
  missedThenLive,
  openStream,
  type Position,
  publishLoop,
  publishTo,
  racingResubscribes,
  STREAM_KINDS,
  streamPushes,
  subscribeData,
  subscribeStream,
  TRACKING_KIND,
} from '../support/recovery-scenarios.js';

jest.setTimeout(30_000);

let server: ServerHandle;
const opened: Client[] = [];

beforeAll(async () => {
  server = await startServer({ options: { ...MANY_CLIENTS, recoveryHistorySize: 150 } });
});

afterEach(() => {
  for (const client of opened.splice(0)) client.socket.terminate();
});

afterAll(async () => {
  await server?.stop();
});

async function open(node: ServerHandle, topic: string, kind = TRACKING_KIND): Promise<Client> {
  const client = await openStream(node, kind, topic);
  opened.push(client);
  return client;
}

/** Subscribes without `since` and returns the stream's position. */
async function position(topic: string, kind = TRACKING_KIND): Promise<Position> {
  const { offset, epoch } = (await subscribeStream(await open(server, topic, kind), kind, topic)).data as unknown as Position;
  return { offset, epoch };
}

describe.each(STREAM_KINDS)('$name', (kind) => {
  test('subscribe, pushes, connection lost, more pushes, resubscribe with since: exactly the missed ones in order, then live at the next offset', async () => {
    await missedThenLive(kind, `rec-${kind.name}-1`, { first: server, second: server, publisher: server });
  });

  test('every push carries offset and epoch; the subscribe answer carries the position (offset 0 before the first push)', async () => {
    const topic = `rec-${kind.name}-2`;
    const client = await open(server, topic, kind);
    const answer = await subscribeStream(client, kind, topic);
    expect(answer.data).toEqual({ ...subscribeData(kind, topic), ...(kind.key ? {} : { userId: topic }), offset: 0, epoch: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/) });
    await publishTo(server, kind, topic, { a: 1 });
    expect(await client.next(kind.push)).toMatchObject({ offset: 1, epoch: answer.data!['epoch'] });
  });
});

test('100 clients resubscribing with since while a tight publish loop runs: no gap, no duplicate in any sequence', async () => {
  await racingResubscribes('rec-race', { subscribers: server, publisher: server });
  // every subscription's gate goes with its connection
  await eventually(async () => (await server.stats()).streamSubscriptions === opened.length, 5000);
});

test('one connection on three streams: each push once with its own offsets; unsubscribing one by one frees each gate and keeps the others live', async () => {
  const topics = ['rec-multi-a', 'rec-multi-b', 'rec-multi-c'];
  const client = await open(server, topics[0]!);
  const gates = async (): Promise<number> => (await server.stats()).streamSubscriptions;
  const before = await gates();
  for (const topic of topics) await subscribeStream(client, TRACKING_KIND, topic);
  expect(await gates()).toBe(before + 3);
  const pushOnEach = async (round: number, live: string[]): Promise<void> => {
    for (const topic of live) await publishTo(server, TRACKING_KIND, topic, { round });
    for (const topic of live) {
      expect(await client.next('tracking.update')).toMatchObject({ data: { round, trackingId: topic }, offset: round });
    }
  };
  await pushOnEach(1, topics);
  const left = [...topics];
  for (const [i, topic] of [topics[1]!, topics[0]!, topics[2]!].entries()) {
    await client.call('tracking.unsubscribe', { trackingId: topic });
    left.splice(left.indexOf(topic), 1);
    expect(await gates()).toBe(before + 2 - i);
    await publishTo(server, TRACKING_KIND, topic, { round: 99 });
    // The remaining streams are still delivered exactly once (their offsets continue).
    if (left.length > 0) {
      for (const t of left) await publishTo(server, TRACKING_KIND, t, { round: i + 2 });
      for (const t of left) expect(await client.next('tracking.update')).toMatchObject({ data: { round: i + 2, trackingId: t }, offset: i + 2 });
    }
  }
  await expectNoMore(client);
});

async function expectNoMore(client: Client): Promise<void> {
  await client.call('ping', {});
  expect(client.all('tracking.update').filter((frame) => (frame.data as { round?: number }).round === 99)).toEqual([]);
}

describe('recovered: false', () => {
  test('more than 100 missed pushes (even when retained), since ahead of the stream, another epoch', async () => {
    const topic = 'rec-many';
    const start = await position(topic);
    await publishLoop(server, TRACKING_KIND, topic, 101);
    const tooMany = await subscribeStream(await open(server, topic), TRACKING_KIND, topic, start);
    expect(tooMany.data).toMatchObject({ offset: 101, epoch: start.epoch, recovered: false, publications: [] });
    // 100 missed is still one answer
    const hundred = await subscribeStream(await open(server, topic), TRACKING_KIND, topic, { offset: 1, epoch: start.epoch });
    expect(hundred.data).toMatchObject({ recovered: true });
    expect((hundred.data!['publications'] as unknown[]).length).toBe(100);
    const ahead = await subscribeStream(await open(server, topic), TRACKING_KIND, topic, { offset: 102, epoch: start.epoch });
    expect(ahead.data).toMatchObject({ offset: 101, recovered: false, publications: [] });
    const otherEpoch = await subscribeStream(await open(server, topic), TRACKING_KIND, topic, { offset: 100, epoch: 'not-the-epoch' });
    expect(otherEpoch.data).toMatchObject({ offset: 101, epoch: start.epoch, recovered: false, publications: [] });
    const current = await subscribeStream(await open(server, topic), TRACKING_KIND, topic, { offset: 101, epoch: start.epoch });
    expect(current.data).toMatchObject({ offset: 101, recovered: true, publications: [] });
  });

  test('more than 512 KiB of missed data', async () => {
    const topic = 'rec-large';
    const start = await position(topic);
    const big = 'x'.repeat(200 * 1024);
    for (let i = 0; i < 3; i += 1) await publishTo(server, TRACKING_KIND, topic, { big, i });
    const large = await subscribeStream(await open(server, topic), TRACKING_KIND, topic, start);
    expect(large.data).toMatchObject({ offset: 3, recovered: false, publications: [] });
    const two = await subscribeStream(await open(server, topic), TRACKING_KIND, topic, { offset: 1, epoch: start.epoch });
    expect(two.data).toMatchObject({ recovered: true });
    expect((two.data!['publications'] as Array<{ data: { i: number } }>).map((p) => p.data.i)).toEqual([1, 2]);
  });

  test('pushes no longer retained (RECOVERY_HISTORY_SIZE) and a history past RECOVERY_HISTORY_TTL_MS (new epoch)', async () => {
    const small = await startServer({ options: { ...MANY_CLIENTS, recoveryHistorySize: 5, recoveryHistoryTtlMs: 1000 } });
    try {
      const client = await open(small, 'rec-old');
      const start = (await subscribeStream(client, TRACKING_KIND, 'rec-old')).data as unknown as Position;
      await publishLoop(small, TRACKING_KIND, 'rec-old', 10);
      const old = await subscribeStream(await open(small, 'rec-old'), TRACKING_KIND, 'rec-old', { offset: 2, epoch: start.epoch });
      expect(old.data).toMatchObject({ offset: 10, recovered: false, publications: [] });
      const kept = await subscribeStream(await open(small, 'rec-old'), TRACKING_KIND, 'rec-old', { offset: 5, epoch: start.epoch });
      expect((kept.data!['publications'] as unknown[]).length).toBe(5);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const expired = await subscribeStream(await open(small, 'rec-old'), TRACKING_KIND, 'rec-old', { offset: 10, epoch: start.epoch });
      expect(expired.data).toMatchObject({ offset: 0, recovered: false, publications: [] });
      expect(expired.data!['epoch']).not.toBe(start.epoch);
    } finally {
      await small.stop();
    }
  });

  test('epoch change: the node restarted without Redis', async () => {
    const first = await startServer();
    const client = await open(first, 'rec-restart');
    const { epoch } = (await subscribeStream(client, TRACKING_KIND, 'rec-restart')).data as unknown as Position;
    const start = { offset: 0, epoch };
    await publishTo(first, TRACKING_KIND, 'rec-restart', { n: 1 });
    await client.next(TRACKING_KIND.push);
    await first.stop();
    const second = await startServer();
    try {
      const answer = await subscribeStream(await open(second, 'rec-restart'), TRACKING_KIND, 'rec-restart', { offset: 1, epoch: start.epoch });
      expect(answer.data).toMatchObject({ offset: 0, recovered: false, publications: [] });
      expect(answer.data!['epoch']).not.toBe(start.epoch);
      // offsets start again at 1 in the new epoch
      await publishTo(second, TRACKING_KIND, 'rec-restart', { n: 2 });
      expect(await opened.at(-1)!.next(TRACKING_KIND.push)).toMatchObject({ offset: 1, epoch: answer.data!['epoch'] });
    } finally {
      await second.stop();
    }
  });
});

test.each([
  ['offset negative', { offset: -1, epoch: 'e' }],
  ['offset not an integer', { offset: 1.5, epoch: 'e' }],
  ['offset a string', { offset: '3', epoch: 'e' }],
  ['epoch empty', { offset: 1, epoch: '' }],
  ['epoch of 65 chars', { offset: 1, epoch: 'e'.repeat(65) }],
  ['epoch missing', { offset: 1 }],
  ['another field', { offset: 1, epoch: 'e', extra: true }],
  ['not an object', 5],
])('a malformed since (%s) → VALIDATION_FAILED, no subscription', async (_name, since) => {
  for (const kind of STREAM_KINDS) {
    const client = await open(server, 'rec-bad', kind);
    const answer = await client.call(kind.subscribe, subscribeData(kind, 'rec-bad', since), 'bad');
    expectError(answer, 'VALIDATION_FAILED', { id: 'bad' });
  }
  await publishTo(server, TRACKING_KIND, 'rec-bad', { n: 1 });
  expect(opened.every((client) => streamPushes(client, TRACKING_KIND).length === 0)).toBe(true);
});

test('measured: recovery round trip with 50 missed pushes (in memory)', async () => {
  const topic = 'rec-rtt';
  const start = await position(topic);
  await publishLoop(server, TRACKING_KIND, topic, 50);
  const samples: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    const client = await open(server, topic);
    const t0 = performance.now();
    const answer = await subscribeStream(client, TRACKING_KIND, topic, start);
    samples.push(performance.now() - t0);
    expect((answer.data!['publications'] as unknown[]).length).toBe(50);
    client.socket.terminate();
  }
  samples.sort((a, b) => a - b);
  process.stdout.write(`\n[memory] recovery round trip, 50 missed pushes: median ${samples[10]!.toFixed(2)} ms, p90 ${samples[18]!.toFixed(2)} ms\n`);
});
