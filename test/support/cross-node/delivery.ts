/**
 * Issue 5, cross-node delivery: two nodes on one Redis behave as one server. A publish on
 * node A (in-process publisher or HTTP API), a room broadcast, a chat message and an
 * activity batch reach every subscriber on both nodes exactly once, and nobody else.
 * The body runs once per Redis kind (test/e2e/cluster-delivery*.e2e-spec.ts): the run's
 * standalone server and its three-master cluster (sharded pub/sub).
 */
import { jest } from '@jest/globals';
import { Client, type ServerHandle, sleep, type TestRedis, token } from '../harness.js';
import { bearer } from '../e2e-helpers.js';
import { api, countAfterQuiet, deleteKeys, nodeOptions, publish, pushes, QUIET_MS, startCluster, uniquePrefix } from '../cluster-helpers.js';

export function crossNodeDelivery(redis: TestRedis): void {
  jest.setTimeout(30_000);

  const PREFIX = uniquePrefix(`delivery-${redis}`);
  let a: ServerHandle;
  let b: ServerHandle;
  const clients: Client[] = [];

  beforeAll(async () => {
    [a, b] = await startCluster(2, nodeOptions(PREFIX, {}, redis));
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.socket.terminate();
  });

  afterAll(async () => {
    await Promise.all([a, b].map((s) => s?.stop()));
    await deleteKeys(PREFIX, redis);
  });

  async function open(node: ServerHandle, path: string, claims?: Record<string, unknown>): Promise<Client> {
    const client = await Client.open(node.ws(path), claims ? bearer(token(claims)) : {});
    clients.push(client);
    return client;
  }

  describe('topic namespaces', () => {
    test('tracking.update published on A (in-process and over HTTP) reaches the subscribers on A and B once each', async () => {
      const onA = await open(a, '/ws/tracking', { sub: 'track-a' });
      const onB = await open(b, '/ws/tracking', { sub: 'track-b' });
      const other = await open(b, '/ws/tracking'); // anonymous, subscribed to another shipment
      expect((await onA.call('tracking.subscribe', { trackingId: 'SHP-X1' })).event).toBe('tracking.subscribed');
      expect((await onB.call('tracking.subscribe', { trackingId: 'SHP-X1' })).event).toBe('tracking.subscribed');
      expect((await other.call('tracking.subscribe', { trackingId: 'SHP-OTHER' })).event).toBe('tracking.subscribed');

      await publish(a, 'trackingUpdate', 'SHP-X1', { status: 'picked', n: 1 });
      const isFirst = (f: { data?: Record<string, unknown> }) => f.data?.n === 1;
      expect(await countAfterQuiet([onA, onB], 'tracking.update', isFirst)).toEqual([1, 1]);
      expect(onB.all('tracking.update')[0]?.data).toEqual({ status: 'picked', n: 1, trackingId: 'SHP-X1' });

      const res = await api(a, 'publish', { namespace: 'tracking', topic: 'SHP-X1', data: { status: 'in-transit', n: 2 } });
      expect(res).toEqual({ status: 202, body: { accepted: true } });
      expect(await countAfterQuiet([onA, onB], 'tracking.update', (f) => f.data?.n === 2)).toEqual([1, 1]);
      expect(onB.all('tracking.update')[1]?.data).toEqual({ status: 'in-transit', n: 2, trackingId: 'SHP-X1' });
      expect(pushes(other, 'tracking.update')).toEqual([]);
    });

    test('a batch published over HTTP on A reaches the subscribers on A and B in array order, once each', async () => {
      const onA = await open(a, '/ws/tracking');
      const onB = await open(b, '/ws/tracking');
      for (const c of [onA, onB]) expect((await c.call('tracking.subscribe', { trackingId: 'SHP-BATCH' })).event).toBe('tracking.subscribed');
      const items = Array.from({ length: 20 }, (_, n) => ({ namespace: 'tracking', topic: n % 2 ? 'SHP-BATCH' : 'SHP-NOBODY', data: { n } }));
      expect(await api(a, 'publish', items)).toEqual({ status: 202, body: { accepted: true, count: 20 } });
      const odd = Array.from({ length: 10 }, (_, i) => 2 * i + 1);
      expect(await countAfterQuiet([onA, onB], 'tracking.update')).toEqual([10, 10]);
      for (const c of [onA, onB]) expect(pushes(c, 'tracking.update').map((f) => f.data?.n)).toEqual(odd);
    });

    test('a publish on B reaches a subscriber on A once (both directions work)', async () => {
      const onA = await open(a, '/ws/tracking');
      expect((await onA.call('tracking.subscribe', { trackingId: 'SHP-BA' })).event).toBe('tracking.subscribed');
      const res = await api(b, 'publish', { namespace: 'tracking', topic: 'SHP-BA', data: { from: 'b' } });
      expect(res.status).toBe(202);
      expect(await countAfterQuiet([onA], 'tracking.update')).toEqual([1]);
      expect(onA.all('tracking.update')[0]?.data).toEqual({ from: 'b', trackingId: 'SHP-BA' });
    });

    test('project.update published on A (in-process and over HTTP) reaches a subscriber on B once', async () => {
      const onB = await open(b, '/ws/projects', { sub: 'proj-b', projects: ['PRJ-1'] });
      const onA = await open(a, '/ws/projects', { sub: 'proj-a', roles: ['admin'] });
      const notMember = await open(b, '/ws/projects', { sub: 'proj-c', projects: ['PRJ-2'] });
      expect((await onB.call('project.subscribe', { projectId: 'PRJ-1' })).event).toBe('project.subscribed');
      expect((await onA.call('project.subscribe', { projectId: 'PRJ-1' })).event).toBe('project.subscribed');
      expect((await notMember.call('project.subscribe', { projectId: 'PRJ-2' })).event).toBe('project.subscribed');

      await publish(a, 'projectUpdate', 'PRJ-1', { step: 1 });
      expect(await countAfterQuiet([onA, onB], 'project.update', (f) => f.data?.step === 1)).toEqual([1, 1]);
      expect(onB.all('project.update')[0]?.data).toEqual({ step: 1, projectId: 'PRJ-1' });

      const res = await api(a, 'publish', { namespace: 'projects', topic: 'PRJ-1', data: { step: 2 } });
      expect(res).toEqual({ status: 202, body: { accepted: true } });
      expect(await countAfterQuiet([onA, onB], 'project.update', (f) => f.data?.step === 2)).toEqual([1, 1]);
      expect(pushes(notMember, 'project.update')).toEqual([]);
    });
  });

  describe('user-targeted namespaces', () => {
    test('a notification for a user with tabs on A and B reaches each tab once, and nobody else', async () => {
      const tabA = await open(a, '/ws/notifications', { sub: 'notif-u' });
      const tabB = await open(b, '/ws/notifications', { sub: 'notif-u' });
      const stranger = await open(b, '/ws/notifications', { sub: 'notif-v' });
      for (const c of [tabA, tabB, stranger]) expect((await c.call('notifications.subscribe', {})).event).toBe('notifications.subscribed');

      await publish(a, 'notify', ['notif-u'], { title: 'one' });
      expect(await countAfterQuiet([tabA, tabB], 'notification', (f) => f.data?.title === 'one')).toEqual([1, 1]);
      expect(tabB.all('notification')[0]?.data).toEqual({ title: 'one' });

      const res = await api(a, 'publish', { namespace: 'notifications', userIds: ['notif-u'], data: { title: 'two' } });
      expect(res).toEqual({ status: 202, body: { accepted: true } });
      expect(await countAfterQuiet([tabA, tabB], 'notification', (f) => f.data?.title === 'two')).toEqual([1, 1]);
      expect(pushes(stranger, 'notification')).toEqual([]);
    });

    test('mololink events targeted by userIds and by roles reach their targets on both nodes once, and nobody else', async () => {
      const userOnB = await open(b, '/ws/mololink', { sub: 'ml-user' });
      const userOnA = await open(a, '/ws/mololink', { sub: 'ml-user' });
      const carrierOnB = await open(b, '/ws/mololink', { sub: 'ml-carrier-b', roles: ['carrier'] });
      const carrierOnA = await open(a, '/ws/mololink', { sub: 'ml-carrier-a', roles: ['carrier'] });
      const bystanderA = await open(a, '/ws/mololink', { sub: 'ml-bystander-a', roles: ['shipper'] });
      const bystanderB = await open(b, '/ws/mololink', { sub: 'ml-bystander-b', roles: ['shipper'] });

      await publish(a, 'mololink', { userIds: ['ml-user'] }, 'mololink.offer', { k: 'user' });
      expect(await countAfterQuiet([userOnA, userOnB], 'mololink.offer', (f) => f.data?.k === 'user')).toEqual([1, 1]);
      expect(userOnB.all('mololink.offer')[0]?.data).toEqual({ k: 'user' });

      await publish(a, 'mololink', { roles: ['carrier'] }, 'mololink.offer', { k: 'role' });
      expect(await countAfterQuiet([carrierOnA, carrierOnB], 'mololink.offer', (f) => f.data?.k === 'role')).toEqual([1, 1]);

      const res = await api(a, 'publish', { namespace: 'mololink', userIds: ['ml-user'], roles: ['carrier'], event: 'mololink.match', data: { k: 'http' } });
      expect(res).toEqual({ status: 202, body: { accepted: true } });
      expect(await countAfterQuiet([userOnA, userOnB, carrierOnA, carrierOnB], 'mololink.match')).toEqual([1, 1, 1, 1]);

      expect(pushes(bystanderA)).toEqual([]);
      expect(pushes(bystanderB)).toEqual([]);
      expect(pushes(userOnB, 'mololink.offer')).toHaveLength(1); // not the role-targeted one
    });

    test('mololink all: true reaches every mololink connection on both nodes once', async () => {
      const onA = await open(a, '/ws/mololink', { sub: 'ml-all-a' });
      const onB = await open(b, '/ws/mololink', { sub: 'ml-all-b' });
      const res = await api(a, 'publish', { namespace: 'mololink', all: true, event: 'mololink.news', data: { v: 1 } });
      expect(res.status).toBe(202);
      expect(await countAfterQuiet([onA, onB], 'mololink.news')).toEqual([1, 1]);
    });

    test('a main announcement published on A (in-process and over HTTP) reaches /ws/main on both nodes once', async () => {
      const anonA = await open(a, '/ws/main');
      const anonB = await open(b, '/ws/main');
      const userB = await open(b, '/ws/main', { sub: 'main-user' });

      await publish(a, 'announce', { text: 'maintenance' });
      expect(await countAfterQuiet([anonA, anonB, userB], 'system.announcement', (f) => f.data?.text === 'maintenance')).toEqual([1, 1, 1]);
      expect(anonB.all('system.announcement')[0]?.data).toEqual({ text: 'maintenance' });

      const res = await api(a, 'publish', { namespace: 'main', data: { text: 'done' } });
      expect(res).toEqual({ status: 202, body: { accepted: true } });
      expect(await countAfterQuiet([anonA, anonB, userB], 'system.announcement', (f) => f.data?.text === 'done')).toEqual([1, 1, 1]);
    });
  });

  describe('client-originated messages', () => {
    test('room.broadcast from a member on A reaches the members on B once, and not the sender', async () => {
      const alice = await open(a, '/ws/collaboration', { sub: 'col-alice', name: 'Alice' });
      const bob = await open(b, '/ws/collaboration', { sub: 'col-bob', name: 'Bob' });
      const carol = await open(b, '/ws/collaboration', { sub: 'col-carol', name: 'Carol' });
      const outsider = await open(b, '/ws/collaboration', { sub: 'col-out' });
      expect((await alice.call('room.join', { roomId: 'deliv-room' })).event).toBe('room.joined');
      expect((await bob.call('room.join', { roomId: 'deliv-room' })).event).toBe('room.joined');
      expect((await carol.call('room.join', { roomId: 'deliv-room' })).event).toBe('room.joined');
      expect((await outsider.call('room.join', { roomId: 'other-room' })).event).toBe('room.joined');

      alice.send({ event: 'room.broadcast', data: { roomId: 'deliv-room', data: { cursor: [1, 2] } } });
      expect(await countAfterQuiet([bob, carol], 'room.message')).toEqual([1, 1]);
      const message = bob.all('room.message')[0]!;
      expect(message.data).toMatchObject({ roomId: 'deliv-room', from: { userId: 'col-alice', username: 'Alice' }, data: { cursor: [1, 2] } });
      expect(typeof message.data?.timestamp).toBe('string');
      expect(alice.all('room.message')).toEqual([]);
      expect(pushes(outsider, 'room.message')).toEqual([]);
    });

    test('a commodity chat message from A reaches the members on B once (and the sender once)', async () => {
      const sender = await open(a, '/ws/commodity', { sub: 'chat-a', name: 'Ann' });
      const member = await open(b, '/ws/commodity', { sub: 'chat-b' });
      const otherRoom = await open(b, '/ws/commodity', { sub: 'chat-c' });
      expect((await sender.call('commodity.join', { commodityId: 4242 })).event).toBe('commodity.joined');
      expect((await member.call('commodity.join', { commodityId: 4242 })).event).toBe('commodity.joined');
      expect((await otherRoom.call('commodity.join', { commodityId: 4243 })).event).toBe('commodity.joined');

      const sent = await sender.call('commodity.message', { commodityId: 4242, text: 'price?' });
      expect(sent.event).toBe('commodity.sent');
      expect(await countAfterQuiet([sender, member], 'commodity.message')).toEqual([1, 1]);
      expect(member.all('commodity.message')[0]?.data).toMatchObject({ id: sent.data?.id, commodityId: 4242, userId: 'chat-a', username: 'Ann', text: 'price?' });
      expect(pushes(otherRoom, 'commodity.message')).toEqual([]);
    });

    test('an activity batch from reports on A reaches the admin subscribers on B (and A) once', async () => {
      const adminB = await open(b, '/ws/activity', { sub: 'act-admin-b', roles: ['admin'] });
      const adminA = await open(a, '/ws/activity', { sub: 'act-admin-a', roles: ['admin'] });
      const reporter = await open(a, '/ws/activity', { sub: 'act-reporter' });
      expect((await adminB.call('activity.subscribe', {})).event).toBe('activity.subscribed');
      expect((await adminA.call('activity.subscribe', {})).event).toBe('activity.subscribed');

      reporter.send({ event: 'activity.report', data: { type: 'click', target: 'cluster-btn' } });
      reporter.send({ event: 'activity.report', data: { type: 'view', target: 'cluster-page' } });
      // Both reports are buffered on A before the flush (a ping round trip orders them).
      expect((await reporter.call('ping', {})).event).toBe('pong');
      await a.request({ cmd: 'flushActivity' });
      expect(await countAfterQuiet([adminA, adminB], 'activity.batch')).toEqual([1, 1]);
      const items = adminB.all('activity.batch')[0]?.data?.items as Record<string, unknown>[];
      expect(items).toHaveLength(2);
      expect(items.map((i) => [i.type, i.target, i.userId])).toEqual([
        ['click', 'cluster-btn', 'act-reporter'],
        ['view', 'cluster-page', 'act-reporter'],
      ]);
      expect(pushes(reporter, 'activity.batch')).toEqual([]);
    });
  });

  test('legitimate cross-node traffic is never rejected by the receiving node', async () => {
    // After everything above, both nodes received messages from each other and dropped none.
    await sleep(QUIET_MS);
    const [sa, sb] = await Promise.all([a.stats(), b.stats()]);
    expect(sa.broker).toBeDefined();
    expect(sb.broker!.received).toBeGreaterThan(0);
    expect(sa.broker!.ownEchoes).toBeGreaterThan(0);
    expect(sa.broker!.rejected).toEqual({ unsigned: 0, malformed: 0, forged: 0, stale: 0, oversized: 0, wrong_channel: 0, replayed: 0, invalid_message: 0 });
    expect(sb.broker!.rejected).toEqual({ unsigned: 0, malformed: 0, forged: 0, stale: 0, oversized: 0, wrong_channel: 0, replayed: 0, invalid_message: 0 });
    expect(sa.broker!.publishFailures).toBe(0);
  });
}
