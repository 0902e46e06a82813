/**
 * Issue 15 item 2, the other half of cluster-failover.e2e-spec.ts: a node that loses one
 * Redis Cluster master recovers when the cluster fails over. A private cluster of three
 * masters with one replica each and a one-second node timeout; two nodes on it. One master is
 * killed and stays dead; once its replica took over its slots: readiness 200 again on both
 * nodes, cross-node delivery on every shard (among them the shards whose channels live on the
 * failed-over slots) on the connections opened before, and a recoverable subscribe on those
 * shards answers with the history kept by the promoted replica.
 */
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { Client, eventually, type ServerHandle, token } from '../support/harness.js';
import { bearer, expectAlive } from '../support/e2e-helpers.js';
import { channel, nodeOptions, readiness, startCluster, topicShard, trackingDeliveredOnce, trackingDeliveredOnceAgain, uniquePrefix } from '../support/cluster-helpers.js';
import { type PrivateCluster, startPrivateCluster } from '../support/global-setup.js';
import type { Position } from '../support/recovery-scenarios.js';

jest.setTimeout(60_000);

const PREFIX = uniquePrefix('replica-failover');
/** Topics enough that their shard channels and keys land on every master. */
const TOPICS = Array.from({ length: 24 }, (_, i) => `rf-${i}`);
/** Servers 0…2 start as the masters (startPrivateCluster); this one is killed. */
const VICTIM = 1;
let cluster: PrivateCluster;
let a: ServerHandle;
let b: ServerHandle;
let watcher: Client;
const positions = new Map<string, Position>();

beforeAll(async () => {
  cluster = await startPrivateCluster(3, ['--cluster-node-timeout', '1000'], 1);
  const { redisUrl: _standalone, ...options } = nodeOptions(PREFIX);
  [a, b] = await startCluster(2, { ...options, redisClusterNodes: cluster.seeds });
  watcher = await Client.open(b.ws('/ws/tracking'), bearer(token({ sub: 'rf-watcher' })));
  for (const trackingId of TOPICS) {
    const answer = await watcher.call('tracking.subscribe', { trackingId });
    expect(answer.event).toBe('tracking.subscribed');
    const { offset, epoch } = answer.data as unknown as Position;
    positions.set(trackingId, { offset, epoch });
  }
});

afterAll(async () => {
  watcher?.socket.terminate();
  await Promise.all([a, b].map((s) => s?.stop()));
  await cluster?.stop();
});

/** The topics whose shard channel (and recovery keys) live on the slots `port` serves as a master. */
async function topicsServedBy(port: number): Promise<string[]> {
  const direct = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
  try {
    await direct.connect();
    expect(((await direct.call('ROLE')) as unknown[])[0]).toBe('master');
    const ranges = ((await direct.cluster('SLOTS')) as unknown as Array<[number, number, [string, number]]>).filter(([, , owner]) => owner[1] === port);
    const served: string[] = [];
    for (const trackingId of TOPICS) {
      const slot = Number(await direct.cluster('KEYSLOT', channel(PREFIX, topicShard('tracking', trackingId))));
      if (ranges.some(([from, to]) => slot >= from && slot <= to)) served.push(trackingId);
    }
    return served;
  } finally {
    direct.disconnect();
  }
}

test('a master lost for good: its replica takes over; readiness 200, delivery on every shard, recovery on the failed-over shards', async () => {
  expect((await readiness(a)).status).toBe(200);
  await trackingDeliveredOnce(a, watcher, TOPICS, 'before');
  const failedOver = await topicsServedBy(cluster.servers[VICTIM]!.port);
  expect(failedOver.length).toBeGreaterThan(0);

  const killedAt = Date.now();
  await cluster.kill(VICTIM);
  // The loss is seen before the replica takes over (about 2 s with a 1 s node timeout).
  await eventually(async () => (await readiness(a)).status === 503, 5000, 50);
  await cluster.waitForFailover(VICTIM);
  const promotedAfterMs = Date.now() - killedAt;
  await eventually(async () => (await readiness(a)).status === 200 && (await readiness(b)).status === 200, 15_000, 100);
  const readyAfterMs = Date.now() - killedAt;

  // The sharded subscriber followed the promoted replica: every topic is delivered again, once.
  await trackingDeliveredOnceAgain(a, watcher, TOPICS);
  const deliveringAfterMs = Date.now() - killedAt;
  await expectAlive(watcher);

  // A client recovering on A a stream of the failed-over slots gets the history the replica kept.
  const recovering = await Client.open(a.ws('/ws/tracking'), bearer(token({ sub: 'rf-recovering' })));
  for (const trackingId of failedOver) {
    const since = positions.get(trackingId)!;
    const answer = await recovering.call('tracking.subscribe', { trackingId, since });
    expect({ event: answer.event, error: answer.code, message: answer.message }).toEqual({ event: 'tracking.subscribed', error: undefined, message: undefined });
    expect(answer.data).toMatchObject({ trackingId, epoch: since.epoch, recovered: true });
    const publications = answer.data!['publications'] as Array<{ offset: number; data: Record<string, unknown> }>;
    expect(publications[0]).toMatchObject({ offset: since.offset + 1, data: { status: 'before' } });
    expect(publications.at(-1)!.offset).toBe(answer.data!['offset']);
  }
  recovering.socket.terminate();
  process.stderr.write(
    `replica failover: ${failedOver.length}/${TOPICS.length} topics on the killed master; promoted after ${promotedAfterMs} ms, ready after ${readyAfterMs} ms, delivering after ${deliveringAfterMs} ms\n`,
  );
});
