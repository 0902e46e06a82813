/**
 * Issue 5, shared state: chat history, collaboration presence, force-disconnect and
 * revocation behave the same whichever node a client lands on.
 * The body runs once per Redis kind (test/e2e/cluster-state*.e2e-spec.ts): the run's
 * standalone server and its three-master cluster.
 */
import { jest } from '@jest/globals';
import { Client, eventually, type Frame, handshakeStatus, type ServerHandle, sleep, type TestRedis, token } from '../harness.js';
import { BODY, bearer, expectAlive, expectError } from '../e2e-helpers.js';
import { api, deleteKeys, nodeOptions, publish, pushes, QUIET_MS, redisCommandsOn, redisUrls, startCluster, uniquePrefix } from '../cluster-helpers.js';

export function crossNodeState(redis: TestRedis): void {
  jest.setTimeout(30_000);

  const PREFIX = uniquePrefix(`state-${redis}`);
  const HISTORY_SIZE = 4;
  let a: ServerHandle;
  let b: ServerHandle;
  const clients: Client[] = [];

  beforeAll(async () => {
    [a, b] = await startCluster(2, nodeOptions(PREFIX, { chatHistorySize: HISTORY_SIZE }, redis));
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.socket.terminate();
  });

  afterAll(async () => {
    await Promise.all([a, b].map((s) => s?.stop()));
    await deleteKeys(PREFIX, redis);
  });

  async function open(node: ServerHandle, path: string, jwt?: string): Promise<Client> {
    const client = await Client.open(node.ws(path), jwt === undefined ? {} : bearer(jwt));
    clients.push(client);
    return client;
  }

  /** MONITOR on every server of the kind (each master of a cluster), filtered on PREFIX. */
  const commandsOn = (act: () => Promise<void>): Promise<string[][]> => redisCommandsOn(PREFIX, act, redisUrls(redis));

  const user = (sub: string, name?: string, extra: Record<string, unknown> = {}) => token({ sub, ...(name ? { name } : {}), ...extra });

  describe('shared chat history', () => {
    test('a join on B returns the messages sent on A, oldest first, with their stored ids', async () => {
      const sender = await open(a, '/ws/commodity', user('hist-a', 'Ann'));
      expect((await sender.call('commodity.join', { commodityId: 501 })).data).toEqual({ commodityId: 501, history: [] });
      const ids: unknown[] = [];
      for (const text of ['first', 'second', 'third']) {
        const sent = await sender.call('commodity.message', { commodityId: 501, text });
        expect(sent.event).toBe('commodity.sent');
        ids.push(sent.data?.id);
      }

      const reader = await open(b, '/ws/commodity', user('hist-b'));
      const joined = await reader.call('commodity.join', { commodityId: 501 });
      expect(joined.event).toBe('commodity.joined');
      const history = joined.data?.history as Record<string, unknown>[];
      expect(history.map((m) => m.text)).toEqual(['first', 'second', 'third']);
      expect(history.map((m) => m.id)).toEqual(ids);
      expect(history[0]).toMatchObject({ commodityId: 501, userId: 'hist-a', username: 'Ann' });
      // The same history from A.
      const again = await open(a, '/ws/commodity', user('hist-c'));
      expect((await again.call('commodity.join', { commodityId: 501 })).data?.history).toEqual(history);
    });

    test('messages from both nodes share one bounded history (CHAT_HISTORY_SIZE), newest kept, oldest first', async () => {
      const onA = await open(a, '/ws/commodity', user('bound-a'));
      const onB = await open(b, '/ws/commodity', user('bound-b'));
      await onA.call('commodity.join', { commodityId: 502 });
      await onB.call('commodity.join', { commodityId: 502 });
      const texts = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
      for (const [i, text] of texts.entries()) {
        const sender = i % 2 === 0 ? onA : onB;
        expect((await sender.call('commodity.message', { commodityId: 502, text })).event).toBe('commodity.sent');
      }
      for (const node of [a, b]) {
        const reader = await open(node, '/ws/commodity', user('bound-reader'));
        const history = (await reader.call('commodity.join', { commodityId: 502 })).data?.history as Record<string, unknown>[];
        expect(history.map((m) => m.text)).toEqual(texts.slice(-HISTORY_SIZE));
      }
      // Another commodity's history is separate.
      const other = await open(b, '/ws/commodity', user('bound-other'));
      expect((await other.call('commodity.join', { commodityId: 503 })).data).toEqual({ commodityId: 503, history: [] });
    });
  });

  describe('collaboration presence across nodes', () => {
    test('R3: a re-join of a room the connection is already in costs Redis no command (MONITOR on the key prefix), answers room.joined and announces nothing; a first join does reach Redis', async () => {
      const alice = await open(a, '/ws/collaboration', user('rj-alice', 'Alice'));
      const bob = await open(b, '/ws/collaboration', user('rj-bob', 'Bob'));
      await alice.call('room.join', { roomId: 'rejoin' });
      await bob.call('room.join', { roomId: 'rejoin' });
      await alice.next('room.presence');
      // Heartbeats renew the node's liveness in the room on a timer (a script with 3 keys and 3
      // arguments); they are not part of a join. Commands a script runs (`lua:`) come with its call.
      const heartbeat = (c: string[]) => c[0] === 'evalsha' && c.length === 1 + 2 + 3 + 3;
      const onRoom = (commands: string[][]) =>
        commands.filter((c) => c.some((arg) => arg.startsWith('{room:rejoin}')) && !c[0]!.startsWith('lua:') && !heartbeat(c));
      const rejoins = onRoom(
        await commandsOn(async () => {
          for (let i = 0; i < 20; i += 1) {
            const again = await bob.call('room.join', { roomId: 'rejoin' });
            expect(again.data).toEqual({ roomId: 'rejoin', members: [{ userId: 'rj-alice', username: 'Alice' }, { userId: 'rj-bob', username: 'Bob' }] });
          }
        }),
      );
      expect(rejoins).toEqual([]);
      const carol = await open(a, '/ws/collaboration', user('rj-carol', 'Carol'));
      const firstJoin = onRoom(await commandsOn(async () => void (await carol.call('room.join', { roomId: 'rejoin' }))));
      expect(firstJoin.map((c) => c[0])).toEqual(expect.arrayContaining(['evalsha', 'hgetall']));
      // Alice heard of bob once and of carol once: the 20 re-joins announced nothing.
      await alice.next((f) => f.event === 'room.presence' && (f.data?.user as { userId: string }).userId === 'rj-carol');
      expect(alice.all('room.presence').map((f) => (f.data?.user as { userId: string }).userId)).toEqual(['rj-bob', 'rj-carol']);
      console.log(`R3 Redis commands on the room per re-join: ${rejoins.length / 20} (first join: ${firstJoin.length}: ${firstJoin.map((c) => c[0]).join(', ')})`);
    });


    test('room.joined on B lists the member on A; join and leave (room.leave and disconnect) reach the other node', async () => {
      const alice = await open(a, '/ws/collaboration', user('pres-alice', 'Alice'));
      expect((await alice.call('room.join', { roomId: 'pres-1' })).data).toEqual({ roomId: 'pres-1', members: [{ userId: 'pres-alice', username: 'Alice' }] });

      const bob = await open(b, '/ws/collaboration', user('pres-bob', 'Bob'));
      expect((await bob.call('room.join', { roomId: 'pres-1' })).data).toEqual({
        roomId: 'pres-1',
        members: [
          { userId: 'pres-alice', username: 'Alice' },
          { userId: 'pres-bob', username: 'Bob' },
        ],
      });
      expect((await alice.next('room.presence')).data).toEqual({ roomId: 'pres-1', action: 'join', user: { userId: 'pres-bob', username: 'Bob' } });

      expect((await bob.call('room.leave', { roomId: 'pres-1' })).data).toEqual({ roomId: 'pres-1' });
      expect((await alice.next('room.presence')).data).toEqual({ roomId: 'pres-1', action: 'leave', user: { userId: 'pres-bob', username: 'Bob' } });

      // B rejoins; then the member on A disconnects: B hears the leave.
      expect((await bob.call('room.join', { roomId: 'pres-1' })).data?.members).toEqual([
        { userId: 'pres-alice', username: 'Alice' },
        { userId: 'pres-bob', username: 'Bob' },
      ]);
      expect((await alice.next('room.presence')).data).toMatchObject({ action: 'join', user: { userId: 'pres-bob' } });
      alice.socket.terminate();
      expect((await bob.next('room.presence')).data).toEqual({ roomId: 'pres-1', action: 'leave', user: { userId: 'pres-alice', username: 'Alice' } });

      // The room now holds only Bob, on every node.
      const carol = await open(a, '/ws/collaboration', user('pres-carol', 'Carol'));
      expect((await carol.call('room.join', { roomId: 'pres-1' })).data?.members).toEqual([
        { userId: 'pres-bob', username: 'Bob' },
        { userId: 'pres-carol', username: 'Carol' },
      ]);
      // Bob's connection on B closing (a clean close) is a leave for Carol on A.
      bob.close();
      expect((await carol.next((f) => f.event === 'room.presence' && f.data?.action === 'leave')).data).toEqual({
        roomId: 'pres-1',
        action: 'leave',
        user: { userId: 'pres-bob', username: 'Bob' },
      });
    });

    test('each presence change reaches the others exactly once, never the member who changed', async () => {
      const alice = await open(a, '/ws/collaboration', user('once-alice', 'Alice'));
      const bob = await open(b, '/ws/collaboration', user('once-bob', 'Bob'));
      const dave = await open(b, '/ws/collaboration', user('once-dave', 'Dave'));
      await alice.call('room.join', { roomId: 'pres-2' });
      await dave.call('room.join', { roomId: 'pres-2' });
      await bob.call('room.join', { roomId: 'pres-2' });
      await bob.call('room.leave', { roomId: 'pres-2' });
      await sleep(QUIET_MS);
      const bobEvents = (c: Client) => pushes(c, 'room.presence').filter((f: Frame) => (f.data?.user as { userId?: string })?.userId === 'once-bob').map((f) => f.data?.action);
      expect(bobEvents(alice)).toEqual(['join', 'leave']);
      expect(bobEvents(dave)).toEqual(['join', 'leave']);
      expect(pushes(bob, 'room.presence')).toEqual([]);
    });

    test('a user with tabs on both nodes is one member: join announced once, leave only when the last tab goes', async () => {
      const watcher = await open(a, '/ws/collaboration', user('tabs-watch', 'Watch'));
      await watcher.call('room.join', { roomId: 'pres-3' });
      const tabA = await open(a, '/ws/collaboration', user('tabs-eve', 'Eve'));
      const tabB = await open(b, '/ws/collaboration', user('tabs-eve', 'Eve'));
      await tabA.call('room.join', { roomId: 'pres-3' });
      const joinedB = await tabB.call('room.join', { roomId: 'pres-3' });
      expect(joinedB.data?.members).toEqual([
        { userId: 'tabs-watch', username: 'Watch' },
        { userId: 'tabs-eve', username: 'Eve' },
      ]);
      tabA.close();
      await tabA.waitClose();
      await sleep(QUIET_MS);
      expect(pushes(watcher, 'room.presence').map((f) => f.data?.action)).toEqual(['join']);
      tabB.close();
      expect((await watcher.next((f) => f.event === 'room.presence' && f.data?.action === 'leave')).data?.user).toEqual({ userId: 'tabs-eve', username: 'Eve' });
    });
  });

  describe('force-disconnect and revocation across nodes', () => {
    test('disconnectUser on A (in-process) closes the user on B and A with 4401; other users stay', async () => {
      const onB1 = await open(b, '/ws/main', user('fd-1'));
      const onB2 = await open(b, '/ws/notifications', user('fd-1'));
      const onA = await open(a, '/ws/tracking', user('fd-1'));
      const bystander = await open(b, '/ws/main', user('fd-2'));
      await publish(a, 'disconnectUser', 'fd-1');
      for (const c of [onB1, onB2, onA]) expect((await c.waitClose()).code).toBe(4401);
      await expectAlive(bystander);
    });

    test('POST /realtime/disconnect on A closes the user on B with 4401', async () => {
      const onB = await open(b, '/ws/collaboration', user('fd-http'));
      expect(await api(a, 'disconnect', { userId: 'fd-http' })).toEqual({ status: 202, body: { accepted: true } });
      expect((await onB.waitClose()).code).toBe(4401);
    });

    test('revoking a jti on A closes that token on B with 4401; the token is then refused on B (401 / UNAUTHORIZED)', async () => {
      const revoked = user('rv-jti', undefined, { jti: 'jti-cluster-1' });
      const kept = user('rv-jti', undefined, { jti: 'jti-cluster-2' });
      const victim = await open(b, '/ws/main', revoked);
      const sameUserOtherToken = await open(b, '/ws/main', kept);
      await publish(a, 'revoke', { jti: 'jti-cluster-1' });
      expect((await victim.waitClose()).code).toBe(4401);
      await expectAlive(sameUserOtherToken);

      const refused = await handshakeStatus(b.ws('/ws/main'), bearer(revoked));
      expect(refused.status).toBe(401);
      expect(refused.body).toBe(BODY[401]);
      // In-band auth with it on B, on an auth-required path: UNAUTHORIZED, then 4401.
      const pending = await open(b, '/ws/notifications');
      const answer = await pending.call('auth', { token: revoked });
      expectError(answer, 'UNAUTHORIZED');
      expect((await pending.waitClose()).code).toBe(4401);
      // A refresh to it on a live connection of the same user is refused too.
      const refresh = await sameUserOtherToken.call('auth.refresh', { token: revoked });
      expectError(refresh, 'UNAUTHORIZED');
      await expectAlive(sameUserOtherToken);
    });

    test('revoking a user over HTTP on A closes every connection of the user on B with 4401; the old token gets 401 on B', async () => {
      const jwt = user('rv-user');
      const onB1 = await open(b, '/ws/main', jwt);
      const onB2 = await open(b, '/ws/projects', jwt);
      const bystander = await open(b, '/ws/main', user('rv-bystander'));
      expect(await api(a, 'revoke', { userId: 'rv-user' })).toEqual({ status: 202, body: { accepted: true } });
      for (const c of [onB1, onB2]) expect((await c.waitClose()).code).toBe(4401);
      await expectAlive(bystander);
      for (const node of [b, a]) {
        const refused = await handshakeStatus(node.ws('/ws/main'), bearer(jwt));
        expect(refused.status).toBe(401);
        expect(refused.body).toBe(BODY[401]);
      }
    });
  });

  // Standalone only: the liveness TTL (15 s) and sweep are not configurable per node, so this
  // takes ~20 s, and what it tests (the survivors' sweep script) runs on both kinds in
  // test/redis/redis-room-presence.spec.ts; nothing in it depends on the kind of Redis.
  if (redis === 'standalone') describe('a node that dies', () => {
    test('§7: its room members drop out of room.joined on the other nodes within the liveness TTL (15 s) plus the departed sweep (5 s), and the survivors get their presence leave', async () => {
      const [doomed] = await startCluster(1, nodeOptions(PREFIX, { chatHistorySize: HISTORY_SIZE }, redis));
      try {
        const ghost = await open(doomed!, '/ws/collaboration', user('dead-ghost', 'Ghost'));
        await ghost.call('room.join', { roomId: 'pres-dead' });
        const bob = await open(b, '/ws/collaboration', user('dead-bob', 'Bob'));
        expect((await bob.call('room.join', { roomId: 'pres-dead' })).data?.members).toEqual([
          { userId: 'dead-ghost', username: 'Ghost' },
          { userId: 'dead-bob', username: 'Bob' },
        ]);
        await doomed!.stop(); // SIGKILL: the node can announce nothing
        const killedAt = Date.now();
        await eventually(async () => {
          const probe = await open(a, '/ws/collaboration', user('dead-probe'));
          const members = (await probe.call('room.join', { roomId: 'pres-dead' })).data?.members as { userId: string }[];
          probe.socket.terminate();
          return !members.some((m) => m.userId === 'dead-ghost');
        }, 23_000, 500);
        // A join never reads the whole room (R3): the survivors' sweep removes the dead node's members.
        expect(Date.now() - killedAt).toBeLessThanOrEqual(21_000);
        // A surviving node sweeps the dead node's members and announces the leave, once.
        const ghostLeaves = () =>
          bob.all('room.presence').filter((f) => {
            const data = f.data as { action?: string; user?: { userId?: string } };
            return data.action === 'leave' && data.user?.userId === 'dead-ghost';
          });
        await eventually(() => ghostLeaves().length > 0, 10_000);
        expect(ghostLeaves()[0]!.data).toEqual({ roomId: 'pres-dead', action: 'leave', user: { userId: 'dead-ghost', username: 'Ghost' } });
        await sleep(6_000);
        expect(ghostLeaves()).toHaveLength(1);
        await expectAlive(bob);
      } finally {
        await doomed?.stop();
      }
    }, 50_000);
  });
}
