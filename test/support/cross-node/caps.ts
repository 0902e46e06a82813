/**
 * Issue 5 / finding 12: the per-user connection cap counts across every node. Three nodes
 * share one Redis with WS_MAX_CONNECTIONS_PER_USER=2 and a 1 s lease TTL: a third
 * connection anywhere is 429, a close frees the slot for any node, and a node that dies
 * (SIGKILL, nothing runs) frees its users' slots within the TTL.
 * The body runs once per Redis kind (test/e2e/cluster-caps*.e2e-spec.ts): the run's
 * standalone server and its three-master cluster.
 */
import { jest } from '@jest/globals';
import type { Cluster, Redis } from 'ioredis';
import { Client, eventually, type Frame, handshakeStatus, type ServerHandle, sleep, type TestRedis, token } from '../harness.js';
import { BODY, bearer, expectAlive, expectError } from '../e2e-helpers.js';
import { deleteKeys, keysUnder, nodeOptions, startCluster, testRedisClient, uniquePrefix } from '../cluster-helpers.js';

export function crossNodeCaps(redis: TestRedis): void {
  jest.setTimeout(30_000);

  const PREFIX = uniquePrefix(`caps-${redis}`);
  const LEASE_TTL_MS = 1000;
  let a: ServerHandle;
  let b: ServerHandle;
  let c: ServerHandle;
  let client: Redis | Cluster;
  const clients: Client[] = [];

  beforeAll(async () => {
    [a, b, c] = await startCluster(3, nodeOptions(
        PREFIX,
        // Strikes above the chat burst: which node's messages reach the shared bucket first is up to
        // timing, and one tab refused 10 times would be closed 4429 at the default 10 (finding 21).
        { maxConnectionsPerUser: 2, redisLeaseTtlMs: LEASE_TTL_MS, maxRoomMembers: 3, maxRateLimitStrikes: 25 },
        redis,
      ));
    client = testRedisClient(redis);
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.socket.terminate();
  });

  afterAll(async () => {
    await Promise.all([a, b, c].map((s) => s?.stop()));
    client?.disconnect();
    await deleteKeys(PREFIX, redis);
  });

  async function open(node: ServerHandle, path: string, jwt: string): Promise<Client> {
    const client = await Client.open(node.ws(path), bearer(jwt));
    clients.push(client);
    return client;
  }

  /** The 429 of §2.7: the fixed body and a Retry-After header. */
  async function expectCapped(node: ServerHandle, path: string, jwt: string): Promise<void> {
    const refused = await handshakeStatus(node.ws(path), bearer(jwt));
    expect(refused.status).toBe(429);
    expect(refused.body).toBe(BODY[429]);
    expect(refused.headers['retry-after']).toBeDefined();
  }

  /** Opens a connection on `node` as soon as the cap lets it (polling), and returns it. */
  async function openWhenFree(node: ServerHandle, path: string, jwt: string, timeoutMs: number): Promise<Client> {
    let opened: Client | undefined;
    await eventually(async () => {
      const result = await handshakeStatusKeep(node, path, jwt);
      if (result) opened = result;
      return opened !== undefined;
    }, timeoutMs, 50);
    return opened!;
  }

  /** One attempt: the open client, or undefined when refused with 429 (any other refusal fails). */
  async function handshakeStatusKeep(node: ServerHandle, path: string, jwt: string): Promise<Client | undefined> {
    try {
      return await open(node, path, jwt);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 429) return undefined;
      throw err;
    }
  }

  test('two connections of a user on A and B (different paths) fill the cap: a third on C is 429', async () => {
    const jwt = token({ sub: 'cap-user-1' });
    const onA = await open(a, '/ws/main', jwt);
    const onB = await open(b, '/ws/tracking', jwt);
    await expectCapped(c, '/ws/notifications', jwt);
    await expectCapped(a, '/ws/main', jwt);
    // Another user is not affected.
    const other = await open(c, '/ws/notifications', token({ sub: 'cap-user-other' }));
    await expectAlive(other);
    await expectAlive(onA);
    await expectAlive(onB);
  });

  test('closing one connection frees its slot for another node at once; the cap still holds after', async () => {
    const jwt = token({ sub: 'cap-user-2' });
    const onA = await open(a, '/ws/main', jwt);
    await open(b, '/ws/main', jwt);
    await expectCapped(c, '/ws/main', jwt);

    onA.close();
    await onA.waitClose();
    // Released on close, not left to expire: C accepts well within the lease TTL.
    const started = Date.now();
    const onC = await openWhenFree(c, '/ws/collaboration', jwt, 3000);
    expect(Date.now() - started).toBeLessThan(LEASE_TTL_MS);
    await expectAlive(onC);
    await expectCapped(a, '/ws/main', jwt);
  });

  test('every close path frees the slot: abrupt TCP termination and a force-disconnect from another node', async () => {
    const jwt = token({ sub: 'cap-user-3' });
    const onA = await open(a, '/ws/main', jwt);
    const onB = await open(b, '/ws/tracking', jwt);
    await expectCapped(c, '/ws/main', jwt);

    onA.socket.terminate(); // no close frame
    const first = await openWhenFree(c, '/ws/main', jwt, 3000);
    await expectCapped(a, '/ws/main', jwt);

    await c.request({ cmd: 'publish', method: 'disconnectUser', args: ['cap-user-3'] });
    expect((await onB.waitClose()).code).toBe(4401);
    expect((await first.waitClose()).code).toBe(4401);
    // Both slots are free again: two new connections, on two other nodes.
    await openWhenFree(a, '/ws/main', jwt, 3000);
    await openWhenFree(b, '/ws/main', jwt, 3000);
    await expectCapped(c, '/ws/main', jwt);
  });

  test('live connections keep their slots past the lease TTL (nodes renew their leases)', async () => {
    const jwt = token({ sub: 'cap-user-4' });
    const onA = await open(a, '/ws/main', jwt);
    const onB = await open(b, '/ws/main', jwt);
    await sleep(LEASE_TTL_MS * 2.5);
    await expectCapped(c, '/ws/main', jwt);
    await expectAlive(onA);
    await expectAlive(onB);
    // The leases live in Redis under the prefix, with an expiry (never a key without TTL).
    const [key, ...others] = (await keysUnder(client, PREFIX)).filter((k) => k.includes('{lease:') && k.endsWith('}:cap-user-4'));
    expect(others).toEqual([]);
    expect(await client.zcard(key!)).toBe(2);
    const ttl = await client.pttl(key!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(LEASE_TTL_MS);
  });

  test('R1: one user with connections on two nodes shares one chat rate: a burst of 10 in all, then RATE_LIMITED with retryAfterMs', async () => {
    const jwt = token({ sub: 'chat-rate-user' });
    const tabs = [await open(a, '/ws/commodity', jwt), await open(c, '/ws/commodity', jwt)];
    for (const tab of tabs) expect((await tab.call('commodity.join', { commodityId: 501 })).event).toBe('commodity.joined');
    // 20 messages at once, half through each node: per-node counting would let all 20 through.
    for (let i = 0; i < 20; i += 1) tabs[i % 2]!.send({ event: 'commodity.message', data: { commodityId: 501, text: `m${i}` }, id: `r${i}` });
    const answerTo = (tab: Client, id: string): Frame | undefined => tab.frames.find((f) => f.id === id);
    await eventually(() => Array.from({ length: 20 }, (_, i) => answerTo(tabs[i % 2]!, `r${i}`)).every(Boolean), 5000);
    const answers = Array.from({ length: 20 }, (_, i) => answerTo(tabs[i % 2]!, `r${i}`)!);
    const limited = answers.filter((f) => f.event === 'error');
    expect(answers.filter((f) => f.event === 'commodity.sent')).toHaveLength(10);
    expect(limited).toHaveLength(10);
    for (const f of limited) {
      expectError(f, 'RATE_LIMITED', { request: 'commodity.message' });
      expect(f.retryAfterMs as number).toBeLessThanOrEqual(500);
    }
    // The bucket refills at WS_CHAT_RATE_PER_SEC (2/s) whichever node asks.
    await sleep(Math.max(...limited.map((f) => f.retryAfterMs as number)) + 20);
    expect((await tabs[1]!.call('commodity.message', { commodityId: 501, text: 'after the wait' })).event).toBe('commodity.sent');
    expectError(await tabs[0]!.call('commodity.message', { commodityId: 501, text: 'too soon' }), 'RATE_LIMITED', { request: 'commodity.message' });
  });

  test('R1: distinct users on two nodes fill a commodity (WS_MAX_ROOM_MEMBERS=3): LIMIT_EXCEEDED on either node; a leave frees the place for the other node', async () => {
    const member = async (node: ServerHandle, sub: string) => open(node, '/ws/commodity', token({ sub }));
    const [u1, u2, u3] = [await member(a, 'fill-1'), await member(a, 'fill-2'), await member(c, 'fill-3')];
    for (const m of [u1, u2, u3]) expect((await m.call('commodity.join', { commodityId: 502 })).event).toBe('commodity.joined');
    const [late1, late2] = [await member(c, 'fill-4'), await member(a, 'fill-5')];
    expectError(await late1.call('commodity.join', { commodityId: 502 }), 'LIMIT_EXCEEDED', { request: 'commodity.join' });
    expectError(await late2.call('commodity.join', { commodityId: 502 }), 'LIMIT_EXCEEDED', { request: 'commodity.join' });
    // A second connection of a member, on the other node, takes no place.
    const u1again = await open(c, '/ws/commodity', token({ sub: 'fill-1' }));
    expect((await u1again.call('commodity.join', { commodityId: 502 })).event).toBe('commodity.joined');
    expect((await u2.call('commodity.leave', { commodityId: 502 })).event).toBe('commodity.left');
    // The member store's leave is sent after the `commodity.left` answer (src/chat/commodity-chat.service.ts
    // does not wait for it): the freed place reaches Redis shortly after, not necessarily before
    // another node's next join (seen on the cluster, where a script's first EVALSHA on a master is
    // a NOSCRIPT round trip more).
    await eventually(async () => (await late1.call('commodity.join', { commodityId: 502 })).event === 'commodity.joined', 2000, 50);
    expectError(await late2.call('commodity.join', { commodityId: 502 }), 'LIMIT_EXCEEDED', { request: 'commodity.join' });
  });

  test('a node killed with SIGKILL frees its user slots within the lease TTL; another node then accepts', async () => {
    const jwt = token({ sub: 'cap-user-5' });
    const onA = await open(a, '/ws/main', jwt);
    await open(b, '/ws/main', jwt);
    await expectCapped(c, '/ws/main', jwt);

    await b.stop(); // SIGKILL: no close handler, no release; only the lease TTL can free the slot
    const killedAt = Date.now();
    // Right after the kill the lease is still live: the slot is freed by expiry, not by magic.
    await expectCapped(c, '/ws/main', jwt);

    const onC = await openWhenFree(c, '/ws/main', jwt, LEASE_TTL_MS + 2000);
    const freedAfter = Date.now() - killedAt;
    expect(freedAfter).toBeLessThanOrEqual(LEASE_TTL_MS + 400); // polling and handshake slack
    await expectAlive(onC);
    // A's connection still holds its slot: the user is at the cap again.
    await expectCapped(c, '/ws/main', jwt);
    await expectCapped(a, '/ws/main', jwt);
    await expectAlive(onA);
  });

  test('no lease keys are left once every connection is closed (afterEach terminated them)', async () => {
    expect(clients).toHaveLength(0);
    await eventually(async () => (await keysUnder(client, `${PREFIX}{lease:`)).length === 0, 3000);
  });
}
