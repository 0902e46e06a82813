/**
 * Issue 15 item 2: a node that loses one Redis Cluster master recovers when the master returns.
 * A private three-master cluster (the run's shared one must stay up for the other suites) with a
 * one-second node timeout; two nodes on it. One master is killed: readiness turns 503 while the
 * slots it served are unreachable, connections stay; it restarts on its port with its cluster
 * identity: readiness 200 again and cross-node delivery works on every shard, on the
 * connections opened before.
 */
import { jest } from '@jest/globals';
import { Client, eventually, type ServerHandle, token } from '../support/harness.js';
import { bearer, expectAlive } from '../support/e2e-helpers.js';
import { nodeOptions, readiness, startCluster, trackingDeliveredOnce, trackingDeliveredOnceAgain, uniquePrefix } from '../support/cluster-helpers.js';
import { type PrivateCluster, startPrivateCluster } from '../support/global-setup.js';

jest.setTimeout(60_000);

const PREFIX = uniquePrefix('failover');
/** Topics enough that their shard channels and keys land on every master. */
const TOPICS = Array.from({ length: 24 }, (_, i) => `fo-${i}`);
let cluster: PrivateCluster;
let a: ServerHandle;
let b: ServerHandle;
let watcher: Client;

beforeAll(async () => {
  cluster = await startPrivateCluster(3, ['--cluster-node-timeout', '1000']);
  const { redisUrl: _standalone, ...options } = nodeOptions(PREFIX);
  [a, b] = await startCluster(2, { ...options, redisClusterNodes: cluster.seeds });
  watcher = await Client.open(b.ws('/ws/tracking'), bearer(token({ sub: 'fo-watcher' })));
  for (const trackingId of TOPICS) expect((await watcher.call('tracking.subscribe', { trackingId })).event).toBe('tracking.subscribed');
});

afterAll(async () => {
  watcher?.socket.terminate();
  await Promise.all([a, b].map((s) => s?.stop()));
  await cluster?.stop();
});

test('a master lost: readiness 503 while its slots are unreachable, connections stay; back: 200 and delivery on every shard', async () => {
  expect((await readiness(a)).status).toBe(200);
  await trackingDeliveredOnce(a, watcher, TOPICS, 'before');

  await cluster.kill(1);
  await eventually(async () => (await readiness(a)).status === 503 && (await readiness(b)).status === 503, 15_000, 100);
  await expectAlive(watcher);

  await cluster.restart(1);
  await eventually(async () => (await readiness(a)).status === 200 && (await readiness(b)).status === 200, 20_000, 100);
  // Shards on the restarted master were resubscribed: every topic is delivered again, once.
  await trackingDeliveredOnceAgain(a, watcher, TOPICS);
  await expectAlive(watcher);
});
