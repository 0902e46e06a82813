/**
 * RedisBroker on the run's three-master Redis Cluster (issue 15): sharded pub/sub
 * (SPUBLISH/SSUBSCRIBE) between two "nodes", the same checks as on a standalone Redis, and the
 * channels of 1,000 topics spread over every master.
 */
import { Redis } from 'ioredis';
import type { BrokerMessage } from '../../src/publishing/broker.js';
import { RedisBroker } from '../../src/redis/redis-broker.js';
import { ShardChannels } from '../../src/redis/shard-channels.js';
import { EnvelopeSigner } from '../../src/redis/signed-envelope.js';
import { TEST_REDIS_CLUSTER_NODES } from '../support/test-redis-env.js';
import { CLUSTER, eventually, publishTrackingPush, recoveryHistoryOn, SIGNING_KEY, sleep, type TestConnection, twoBrokers, uniquePrefix } from './redis-helpers.js';

const prefix = uniquePrefix();
const shards = new ShardChannels(prefix);
let connA: TestConnection;
let connB: TestConnection;
let a: RedisBroker;
let b: RedisBroker;
let masters: Redis[];
const gotA: BrokerMessage[] = [];
const gotB: BrokerMessage[] = [];

const n = (m: BrokerMessage): unknown => (m.type === 'topic' ? m.data['n'] : undefined);
const topicOf = (m: BrokerMessage): unknown => (m.type === 'topic' ? m.topics[0] : undefined);
/** A plain topic message (stream pushes of recoverable namespaces travel as relays). */
const room = (topic: string, n: number): BrokerMessage => ({ type: 'topic', namespace: 'collaboration', topics: [topic], event: 'room.message', data: { n } });

beforeAll(async () => {
  ({ connA, connB, a, b } = await twoBrokers(prefix, CLUSTER, { a: gotA, b: gotB }));
  masters = TEST_REDIS_CLUSTER_NODES.map((seed) => new Redis({ host: seed.host, port: seed.port }));
});

afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
  await Promise.all([connA.close(), connB.close()]);
  for (const master of masters) master.disconnect();
});

beforeEach(() => {
  gotA.length = 0;
  gotB.length = 0;
});

test('the connection knows it is on a cluster', () => {
  expect(connA.isCluster).toBe(true);
  expect(connA.publishCommand).toBe('spublish');
});

test('every namespace and the close control message cross nodes over sharded pub/sub, each once', async () => {
  const messages: BrokerMessage[] = [
    { type: 'namespace', namespace: 'main', event: 'system.announcement', data: { x: 1 } },
    { type: 'targeted', namespace: 'mololink', userIds: [], roles: ['admin'], event: 'event', data: {} },
    { type: 'topic', namespace: 'commodity', topics: ['p1'], event: 'commodity.message', data: {} },
    { type: 'topic', namespace: 'collaboration', topics: ['r1'], event: 'room.message', data: {}, except: 'c1' },
    { type: 'topic', namespace: 'commodity', topics: ['7'], event: 'commodity.message', data: {} },
    { type: 'topic', namespace: 'activity', topics: ['feed'], event: 'activity', data: {} },
    { type: 'namespace', namespace: 'activity', event: 'activity', data: {} },
    { type: 'close', userId: 'u1' },
    { type: 'close', jti: 'j1' },
  ];
  for (const m of messages) await b.publish(m);
  // Different channels live on different masters: no order between them, only exactly once.
  await eventually(() => expect(gotA).toHaveLength(messages.length));
  await sleep(100);
  expect(new Set(gotA.map((m) => JSON.stringify(m)))).toEqual(new Set(messages.map((m) => JSON.stringify(m))));
  expect(gotA).toHaveLength(messages.length);
  expect(gotB).toEqual(messages);
});

test("one topic's messages arrive in publish order; own echoes are ignored and counted", async () => {
  const before = a.stats().ownEchoes;
  for (let i = 0; i < 50; i += 1) await a.publish(room('SHP-ordered', i));
  await eventually(() => expect(gotB).toHaveLength(50));
  expect(gotB.map(n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  await eventually(() => expect(a.stats().ownEchoes).toBe(before + 50));
});

test('forged and misrouted envelopes SPUBLISHed straight to the cluster are dropped and counted', async () => {
  const channel = shards.forTopic('collaboration', 'T1')!;
  const wrongShard = shards.forTopic('collaboration', 'T2')!;
  expect(wrongShard).not.toBe(channel);
  const attacker = new EnvelopeSigner('not the cluster key, but 32+ bytes long');
  const honest = new EnvelopeSigner(SIGNING_KEY);
  const before = b.stats().rejected;
  await connA.publish(channel, attacker.sign('node-x', channel, room('T1', 66)));
  // Signed, but T1's message on T2's shard channel: not where T1 maps to.
  await connA.publish(wrongShard, honest.sign('node-x', wrongShard, room('T1', 66)));
  await eventually(() => {
    const after = b.stats().rejected;
    expect(after.forged - before.forged).toBe(1);
    expect(after.invalid_message - before.invalid_message).toBe(1);
  });
  await connA.publish(channel, honest.sign('node-x', channel, room('T1', 5)));
  await eventually(() => expect(gotB).toEqual([room('T1', 5)]));
  expect(gotB.some((m) => m.type === 'topic' && m.data['n'] === 66)).toBe(false);
});

test('the shard channels of 1,000 topics spread over all three masters, each subscribed by both nodes there', async () => {
  const topics = Array.from({ length: 1000 }, (_, i) => `SHP-${i}`);
  const channels = [...new Set(topics.map((topic) => shards.forTopic('collaboration', topic)!))];
  expect(channels.length).toBeGreaterThan(60); // 64 shards, nearly all hit by 1,000 topics
  // Per master: which of these channels have our two nodes as sharded subscribers there.
  const perMaster = await Promise.all(
    masters.map(async (master) => {
      const reply = (await master.call('PUBSUB', 'SHARDNUMSUB', ...channels)) as Array<string | number>;
      const here: string[] = [];
      for (let i = 0; i < reply.length; i += 2) if (Number(reply[i + 1]) === 2) here.push(String(reply[i]));
      return here;
    }),
  );
  expect(masters).toHaveLength(3);
  // Every channel is served by exactly one master, and every master serves a real share.
  expect(perMaster.flat().sort()).toEqual([...channels].sort());
  for (const here of perMaster) expect(here.length).toBeGreaterThan(channels.length * 0.15);
  process.stdout.write(`\n[cluster] shard channels of 1,000 room topics per master: ${perMaster.map((here) => here.length).join(', ')}\n`);

  // And the messages of those topics actually travel through them.
  await Promise.all(topics.slice(0, 200).map((topic, i) => a.publish(room(topic, i))));
  await eventually(() => expect(gotB).toHaveLength(200), 5000);
  expect(b.stats().rejected.replayed).toBe(0);
  expect(new Set(gotB.map(topicOf))).toEqual(new Set(topics.slice(0, 200)));
});

test('stream pushes: the append script SPUBLISHes the relay in the stream\'s slot; both nodes deliver in offset order', async () => {
  const [historyA, historyB] = [recoveryHistoryOn(connA), recoveryHistoryOn(connB)];
  await Promise.all(Array.from({ length: 30 }, (_, i) => publishTrackingPush(i % 2 === 0 ? a : b, i % 2 === 0 ? historyA : historyB, 'S-cluster', i)));
  for (const got of [gotA, gotB]) {
    await eventually(() => expect(got).toHaveLength(30));
    expect(got.map((m) => (m.type === 'topic' ? m.position?.offset : undefined))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  }
});
