/** RedisBroker between two "nodes" in one process, over the real Redis (issue 5). */
import { jest } from '@jest/globals';
import type { BrokerMessage } from '../../src/publishing/broker.js';
import { RedisBroker } from '../../src/redis/redis-broker.js';
import { ShardChannels, shardOf } from '../../src/redis/shard-channels.js';
import { EnvelopeSigner } from '../../src/redis/signed-envelope.js';
import { connect, deleteKeys, eventually, publishTrackingPush, recoveryHistoryOn, SIGNING_KEY, sleep, TestConnection, twoBrokers, uniquePrefix, REDIS_URL } from './redis-helpers.js';

const prefix = uniquePrefix();
let connA: TestConnection;
let connB: TestConnection;
let a: RedisBroker;
let b: RedisBroker;
const gotA: BrokerMessage[] = [];
const gotB: BrokerMessage[] = [];

/** A plain topic message (stream pushes of recoverable namespaces travel as relays, see below). */
const room = (n: number): BrokerMessage => ({
  type: 'topic',
  namespace: 'collaboration',
  topics: ['T1'],
  event: 'room.message',
  data: { n },
});

beforeAll(async () => {
  ({ connA, connB, a, b } = await twoBrokers(prefix, REDIS_URL, { a: gotA, b: gotB }));
});

afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
  await deleteKeys(connA);
  await Promise.all([connA.close(), connB.close()]);
});

beforeEach(() => {
  gotA.length = 0;
  gotB.length = 0;
});

/** Publishes a marker from A on `namespace`'s channel and waits until B has it: everything sent before on that connection was processed. */
async function barrier(): Promise<void> {
  const marker: BrokerMessage = { type: 'namespace', namespace: 'tracking', event: 'barrier', data: {} };
  await a.publish(marker);
  await eventually(() => expect(gotB).toContainEqual(marker));
}

test('a publish on A reaches A at once (before the Redis round trip) and B exactly once', async () => {
  const pending = a.publish(room(1));
  expect(gotA).toEqual([room(1)]);
  await pending;
  await eventually(() => expect(gotB).toEqual([room(1)]));
  await sleep(100);
  expect(gotA).toEqual([room(1)]);
  expect(gotB).toEqual([room(1)]);
});

test('every namespace and the close control message cross nodes, each once, in both directions', async () => {
  const messages: BrokerMessage[] = [
    { type: 'namespace', namespace: 'main', event: 'system.announcement', data: { x: 1 } },
    { type: 'targeted', namespace: 'notifications', userIds: ['u1'], roles: [], event: 'notification', data: {} },
    { type: 'targeted', namespace: 'mololink', userIds: [], roles: ['admin'], event: 'event', data: {} },
    { type: 'topic', namespace: 'activity', topics: ['p1', 'p2'], event: 'activity', data: {} },
    { type: 'topic', namespace: 'collaboration', topics: ['r1'], event: 'room.message', data: {}, except: 'c1' },
    { type: 'topic', namespace: 'commodity', topics: ['7'], event: 'commodity.message', data: {} },
    { type: 'namespace', namespace: 'activity', event: 'activity', data: {} },
    { type: 'close', userId: 'u1' },
    { type: 'close', jti: 'j1' },
  ];
  for (const m of messages) await b.publish(m);
  // p1 and p2 map to different shard channels: the other node gets one message per shard.
  expect(shardOf('p1')).not.toBe(shardOf('p2'));
  const remote = messages.flatMap((m) => (m.type === 'topic' && m.namespace === 'activity' ? m.topics.map((topic) => ({ ...m, topics: [topic] })) : [m]));
  await eventually(() => expect(gotA).toEqual(remote));
  expect(gotB).toEqual(messages);
  await sleep(100);
  expect(gotA).toHaveLength(remote.length);
  expect(gotB).toHaveLength(messages.length);
});

test('own envelopes coming back from Redis are ignored and counted', async () => {
  const before = a.stats().ownEchoes;
  await a.publish(room(2));
  await eventually(() => expect(a.stats().ownEchoes).toBe(before + 1));
  expect(gotA).toEqual([room(2)]);
});

test('the envelope is serialised once per publish', async () => {
  const stringify = jest.spyOn(JSON, 'stringify');
  try {
    await a.publish(room(3));
    expect(stringify).toHaveBeenCalledTimes(1);
  } finally {
    stringify.mockRestore();
  }
});

test('forged, unsigned, stale and malformed envelopes published straight to Redis are dropped and counted', async () => {
  const channel = new ShardChannels(prefix).forTopic('collaboration', 'T1')!;
  const raw = connA.command;
  const attacker = new EnvelopeSigner('not the cluster key, but 32+ bytes long');
  const staleSigner = new EnvelopeSigner(SIGNING_KEY, { now: () => Date.now() - 60_000 });
  const honest = new EnvelopeSigner(SIGNING_KEY);
  const before = b.stats().rejected;

  await raw.publish(channel, attacker.sign('node-x', channel, room(66)));
  await raw.publish(channel, honest.sign('node-x', channel, room(1)).replace('"n":1', '"n":66'));
  await raw.publish(channel, JSON.stringify({ v: 2, node: 'node-x', epoch: 'e', seq: 1, ch: channel, ts: Date.now(), msg: room(66) }));
  await raw.publish(channel, staleSigner.sign('node-x', channel, room(66)));
  await raw.publish(channel, `${'A'.repeat(10)}.garbage`);
  // Signed, but a commodity message on a collaboration channel, and a non-message.
  await raw.publish(channel, honest.sign('node-x', channel, { ...room(66), namespace: 'commodity' }));
  await raw.publish(channel, honest.sign('node-x', channel, { type: 'topic' }));
  await raw.publish(`${prefix}bus:{control}`, honest.sign('node-x', `${prefix}bus:{control}`, room(66)));
  await barrier();

  const after = b.stats().rejected;
  expect(after.forged - before.forged).toBe(2);
  expect(after.unsigned - before.unsigned).toBe(1);
  expect(after.stale - before.stale).toBe(1);
  expect(after.malformed - before.malformed).toBe(1);
  expect(after.invalid_message - before.invalid_message).toBe(3);
  expect(gotB.some((m) => m.type === 'topic' && m.data['n'] === 66)).toBe(false);
  expect(gotA.some((m) => m.type === 'topic' && m.data['n'] === 66)).toBe(false);
});

test('a valid envelope from another node published raw is delivered (the signature, not the sender, is trusted)', async () => {
  const honest = new EnvelopeSigner(SIGNING_KEY);
  const channel = new ShardChannels(prefix).forTopic('collaboration', 'T1')!;
  await connA.command.publish(channel, honest.sign('node-c', channel, room(5)));
  await eventually(() => expect(gotB).toEqual([room(5)]));
  expect(gotA).toEqual([room(5)]);
});

test('a throwing handler neither stops the other handlers nor the cross-node publish', async () => {
  const errors: unknown[] = [];
  // Its own connection: closing a broker unsubscribes its connection's subscriber.
  const connC = await connect(prefix);
  const c = new RedisBroker({ connection: connC, signer: new EnvelopeSigner(SIGNING_KEY), nodeId: 'node-c', onError: (_c, e) => errors.push(e) });
  const got: BrokerMessage[] = [];
  c.subscribe(() => {
    throw new Error('boom');
  });
  c.subscribe((m) => got.push(m));
  await c.whenSubscribed();
  await c.publish(room(7));
  expect(got).toEqual([room(7)]);
  expect(errors).toHaveLength(1);
  await eventually(() => expect(gotB).toEqual([room(7)]));
  await c.close();
  await connC.close();
});

test('stats count successful publishes and receipts', async () => {
  const before = { a: a.stats(), b: b.stats() };
  await a.publish(room(8));
  await eventually(() => expect(b.stats().received).toBe(before.b.received + 1));
  expect(a.stats().published).toBe(before.a.published + 1);
  expect(a.stats().publishFailures).toBe(0);
});

describe('stream pushes of recoverable namespaces travel as relays of the history append', () => {
  test('every node, the publisher included, delivers them from the relay with their position, in offset order', async () => {
    const [historyA, historyB] = [recoveryHistoryOn(connA), recoveryHistoryOn(connB)];
    const before = { a: a.stats(), b: b.stats() };
    const positions = await Promise.all(
      Array.from({ length: 20 }, (_, i) => publishTrackingPush(i % 2 === 0 ? a : b, i % 2 === 0 ? historyA : historyB, 'S1', i)),
    );
    expect(positions.map((p) => p.offset).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Not delivered from the append reply: the publisher waits for its relay like everyone else.
    for (const got of [gotA, gotB]) {
      await eventually(() => expect(got).toHaveLength(20));
      expect(got.map((m) => (m.type === 'topic' ? m.position?.offset : undefined))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(new Set(got.map((m) => (m.type === 'topic' ? m.position?.epoch : undefined)))).toEqual(new Set([positions[0]!.epoch]));
    }
    expect(a.stats().relayed - before.a.relayed).toBe(20);
    expect(a.stats().ownEchoes - before.a.ownEchoes).toBe(0);
  });

  test('a stream push published without the relay is refused; a relayed one published again is a replay', async () => {
    const channel = new ShardChannels(prefix).forTopic('tracking', 'S2')!;
    const honest = new EnvelopeSigner(SIGNING_KEY);
    const push = { type: 'topic', namespace: 'tracking', topics: ['S2'], event: 'tracking.update', data: { n: 66 } };
    const captured: string[] = [];
    const spy = new TestConnection(prefix);
    spy.onMessage((_channel, text) => captured.push(text));
    await spy.subscribe([channel]);
    const before = b.stats().rejected;
    try {
      await connA.command.publish(channel, honest.sign('node-x', channel, push));
      await publishTrackingPush(a, recoveryHistoryOn(connA), 'S2', 1);
      await eventually(() => expect(captured).toHaveLength(2));
      // The publisher's local JSON text of `data` is not carried: the envelope holds `data` once.
      expect(captured[1]).not.toContain('dataJson');
      await eventually(() => expect(gotB).toHaveLength(1));
      await connA.command.publish(channel, captured[1]!);
      await barrier();
      const after = b.stats().rejected;
      expect(after.invalid_message - before.invalid_message).toBe(1);
      expect(after.replayed - before.replayed).toBe(1);
      expect(gotB.filter((m) => m.type === 'topic' && m.namespace === 'tracking')).toEqual([
        { type: 'topic', namespace: 'tracking', topics: ['S2'], event: 'tracking.update', data: { n: 1, trackingId: 'S2' }, position: expect.objectContaining({ offset: 1 }) },
      ]);
    } finally {
      await spy.close();
    }
  });
});
