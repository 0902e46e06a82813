/**
 * /ws/projects end to end (docs/protocol.md §4 auth.refresh, §5, §8; issue 3): authorisation per
 * project (claim or admin), update feeds, unsubscribe, revocation on refresh, subscription cap.
 */
import request from 'supertest';
import { type Frame, type ServerHandle, startServer, token } from '../support/harness.js';
import { API_KEY, ClientPool, expectError, expectIsoTimestamp, framesAfter, reply, seen } from '../support/ns-helpers.js';

const MAX_SUBSCRIPTIONS = 3;

let server: ServerHandle;
const pool = new ClientPool(() => server);

beforeAll(async () => {
  server = await startServer({ options: { apiKey: API_KEY, maxSubscriptions: MAX_SUBSCRIPTIONS } });
});
afterEach(async () => {
  await pool.closeAll();
});
afterAll(async () => {
  await server.stop();
});

const projectUpdate = (projectId: string, data: Record<string, unknown>) =>
  server.request({ cmd: 'publish', method: 'projectUpdate', args: [projectId, data] });
const updatesFor = (client: { all(e: string): Frame[] }, projectId: string) =>
  client.all('project.update').filter((f) => f.data?.projectId === projectId);

describe('authorisation (default provider)', () => {
  test('project.subscribe is allowed when the projects claim contains the id', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1', 'P2'] });
    const ok = await reply(c, 'project.subscribe', { projectId: 'P1' });
    expect(ok.event).toBe('project.subscribed');
    expect(ok.data).toEqual({ projectId: 'P1', offset: expect.any(Number), epoch: expect.any(String) });
    expect((await reply(c, 'project.subscribe', { projectId: 'P2' })).data).toEqual({ projectId: 'P2', offset: expect.any(Number), epoch: expect.any(String) });
  });

  test('project.subscribe is allowed for role admin without any projects claim', async () => {
    const c = await pool.open('/ws/projects', { sub: 'root', roles: ['admin'] });
    expect((await reply(c, 'project.subscribe', { projectId: 'ANY-project_1' })).data).toEqual({ projectId: 'ANY-project_1', offset: expect.any(Number), epoch: expect.any(String) });
  });

  test.each([
    ['a projects claim without the id', { sub: 'u1', projects: ['P2'] }],
    ['no projects claim', { sub: 'u1' }],
    ['a non-admin role', { sub: 'u1', roles: ['manager', 'administrator'] }],
    ['an empty projects claim', { sub: 'u1', projects: [] }],
    ['a projects claim that is a string, not an array', { sub: 'u1', projects: 'P1' }],
  ])('finding 19: project.subscribe with %s → UNAUTHORIZED "Unauthorized", connection stays open, nothing subscribed', async (_l, claims) => {
    const c = await pool.open('/ws/projects', claims);
    const denied = await reply(c, 'project.subscribe', { projectId: 'P1' });
    expectError(denied, 'UNAUTHORIZED', 'project.subscribe');
    expect(denied.message).toBe('Unauthorized');
    expect((await server.stats()).subscriptions.subscriptions).toBe(0);
    expect((await reply(c, 'ping', {})).event).toBe('pong');
  });

  test('a pending connection (no credentials) cannot subscribe: UNAUTHORIZED', async () => {
    const c = await pool.open('/ws/projects');
    expect(c.connected?.data).toMatchObject({ authenticated: false, userId: null });
    expectError(await reply(c, 'project.subscribe', { projectId: 'P1' }), 'UNAUTHORIZED', 'project.subscribe');
  });

  test.each([
    ['a bad projectId', { projectId: 'bad id!' }],
    ['a projectId over 64 chars', { projectId: 'p'.repeat(65) }],
    ['a numeric projectId', { projectId: 1 }],
    ['no projectId', {}],
    ['a userId field', { projectId: 'P1', userId: 'u2' }],
    ['a username field', { projectId: 'P1', username: 'x' }],
  ])('finding 6: project.subscribe with %s → VALIDATION_FAILED', async (_l, data) => {
    const c = await pool.open('/ws/projects', { sub: 'u1', roles: ['admin'] });
    expectError(await reply(c, 'project.subscribe', data as Record<string, unknown>), 'VALIDATION_FAILED', 'project.subscribe');
    expect((await server.stats()).subscriptions.subscriptions).toBe(0);
  });
});

describe('updates', () => {
  test('project.update is pushed to the subscribers of that project with projectId added (in-process publish)', async () => {
    const p1 = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1'] });
    const p2 = await pool.open('/ws/projects', { sub: 'u2', projects: ['P2'] });
    await reply(p1, 'project.subscribe', { projectId: 'P1' });
    await reply(p2, 'project.subscribe', { projectId: 'P2' });
    await projectUpdate('P1', { status: 'shipped', n: 1 });
    await projectUpdate('P2', { status: 'draft' });
    expect((await p1.next('project.update')).data).toEqual({ status: 'shipped', n: 1, projectId: 'P1' });
    expect((await p2.next('project.update')).data).toEqual({ status: 'draft', projectId: 'P2' });
    expect(p2.all('project.update')).toHaveLength(1);
    expect(await framesAfter(p1, (f) => f.event === 'project.update', 100)).toHaveLength(1);
  });

  test('the pushed projectId is the target project, whatever data says', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1'] });
    await reply(c, 'project.subscribe', { projectId: 'P1' });
    await projectUpdate('P1', { projectId: 'P2', x: 1 });
    expect((await c.next('project.update')).data).toEqual({ projectId: 'P1', x: 1 });
  });

  test('POST /realtime/publish namespace projects with topic → 202 and project.update with projectId added', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1'] });
    await reply(c, 'project.subscribe', { projectId: 'P1' });
    const res = await request(server.http())
      .post('/realtime/publish')
      .set('X-Api-Key', API_KEY)
      .send({ namespace: 'projects', topic: 'P1', data: { via: 'http' } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: true });
    expect((await c.next('project.update')).data).toEqual({ via: 'http', projectId: 'P1' });
  });

  test.each([
    ['no topic', { namespace: 'projects', data: {} }],
    ['a bad topic', { namespace: 'projects', topic: 'bad topic', data: {} }],
    ['userIds instead of topic', { namespace: 'projects', userIds: ['u1'], data: {} }],
    ['a non-object data', { namespace: 'projects', topic: 'P1', data: [1, 2] }],
  ])('HTTP projects publish with %s → 400 VALIDATION_FAILED', async (_l, body) => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1'] });
    await reply(c, 'project.subscribe', { projectId: 'P1' });
    const res = await request(server.http()).post('/realtime/publish').set('X-Api-Key', API_KEY).send(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await framesAfter(c, (f) => f.event === 'project.update', 100)).toEqual([]);
  });

  test('project.unsubscribe answers project.unsubscribed {projectId} and stops that feed only', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1', 'P2'] });
    await reply(c, 'project.subscribe', { projectId: 'P1' });
    await reply(c, 'project.subscribe', { projectId: 'P2' });
    const unsub = await reply(c, 'project.unsubscribe', { projectId: 'P1' });
    expect(unsub.event).toBe('project.unsubscribed');
    expect(unsub.data).toEqual({ projectId: 'P1' });
    expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 1, connections: 1 });
    await projectUpdate('P1', { after: 'unsubscribe' });
    await projectUpdate('P2', { barrier: true });
    await c.next((f) => f.event === 'project.update' && f.data?.projectId === 'P2');
    expect(updatesFor(c, 'P1')).toEqual([]);
  });

  test('finding 6: project.unsubscribe with an invalid projectId → VALIDATION_FAILED', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1'] });
    expectError(await reply(c, 'project.unsubscribe', { projectId: '../P1' }), 'VALIDATION_FAILED', 'project.unsubscribe');
  });
});

describe('auth.refresh revocation (§4)', () => {
  test('auth.refresh with a token whose projects claim no longer contains P1 → project.unsubscribed {projectId:"P1", reason:"revoked"}, no more P1 updates', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1', 'P2'] });
    await reply(c, 'project.subscribe', { projectId: 'P1' });
    await reply(c, 'project.subscribe', { projectId: 'P2' });

    const refreshed = await reply(c, 'auth.refresh', { token: token({ sub: 'u1', projects: ['P2'] }) });
    expect(refreshed.event).toBe('auth.refreshed');
    expectIsoTimestamp(refreshed.data?.expiresAt);
    const dropped = await seen(c, 'project.unsubscribed');
    expect(dropped.data).toEqual({ projectId: 'P1', reason: 'revoked' });
    expect(dropped.id).toBeUndefined();

    await projectUpdate('P1', { after: 'revoke' });
    await projectUpdate('P2', { barrier: true });
    await c.next((f) => f.event === 'project.update' && f.data?.projectId === 'P2');
    expect(updatesFor(c, 'P1')).toEqual([]);
    // P2 is still allowed, so it was not dropped.
    expect(c.all('project.unsubscribed')).toHaveLength(1);
    expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 1, connections: 1 });
    // And P1 is now refused.
    expectError(await reply(c, 'project.subscribe', { projectId: 'P1' }), 'UNAUTHORIZED', 'project.subscribe');
  });

  test('losing role admin on refresh drops the projects the claim does not cover', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', roles: ['admin'], projects: ['P2'] });
    await reply(c, 'project.subscribe', { projectId: 'P1' });
    await reply(c, 'project.subscribe', { projectId: 'P2' });
    expect((await reply(c, 'auth.refresh', { token: token({ sub: 'u1', roles: [], projects: ['P2'] }) })).event).toBe('auth.refreshed');
    expect((await seen(c, 'project.unsubscribed')).data).toEqual({ projectId: 'P1', reason: 'revoked' });
    await projectUpdate('P1', { gone: true });
    await projectUpdate('P2', { barrier: true });
    await c.next((f) => f.event === 'project.update' && f.data?.projectId === 'P2');
    expect(updatesFor(c, 'P1')).toEqual([]);
  });

  test('auth (same sub) on an authenticated connection acts as auth.refresh and drops revoked projects too', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1'] });
    await reply(c, 'project.subscribe', { projectId: 'P1' });
    expect((await reply(c, 'auth', { token: token({ sub: 'u1', projects: [] }) })).event).toBe('auth.refreshed');
    expect((await seen(c, 'project.unsubscribed')).data).toEqual({ projectId: 'P1', reason: 'revoked' });
    expect((await server.stats()).subscriptions.subscriptions).toBe(0);
  });

  test('a refresh that still allows everything drops nothing', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1'] });
    await reply(c, 'project.subscribe', { projectId: 'P1' });
    expect((await reply(c, 'auth.refresh', { token: token({ sub: 'u1', projects: ['P1', 'P3'] }) })).event).toBe('auth.refreshed');
    await projectUpdate('P1', { still: true });
    expect((await c.next('project.update')).data).toEqual({ still: true, projectId: 'P1' });
    expect(c.all('project.unsubscribed')).toEqual([]);
  });

  test('auth.refresh for another sub → UNAUTHORIZED, subscriptions kept', async () => {
    const c = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1'] });
    await reply(c, 'project.subscribe', { projectId: 'P1' });
    expectError(await reply(c, 'auth.refresh', { token: token({ sub: 'u2', projects: [] }) }), 'UNAUTHORIZED', 'auth.refresh');
    await projectUpdate('P1', { kept: true });
    expect((await c.next('project.update')).data).toEqual({ kept: true, projectId: 'P1' });
    expect(c.all('project.unsubscribed')).toEqual([]);
  });
});

describe(`subscription cap (maxSubscriptions ${MAX_SUBSCRIPTIONS})`, () => {
  test('the subscription past maxSubscriptions → LIMIT_EXCEEDED, connection stays open, a freed slot can be reused', async () => {
    const c = await pool.open('/ws/projects', { sub: 'root', roles: ['admin'] });
    for (let i = 1; i <= MAX_SUBSCRIPTIONS; i++) expect((await reply(c, 'project.subscribe', { projectId: `P${i}` })).event).toBe('project.subscribed');
    const over = await reply(c, 'project.subscribe', { projectId: 'P99' });
    expectError(over, 'LIMIT_EXCEEDED', 'project.subscribe');
    // Re-subscribing to one already held is not a new subscription.
    expect((await reply(c, 'project.subscribe', { projectId: 'P1' })).event).toBe('project.subscribed');
    expect((await server.stats()).subscriptions.subscriptions).toBe(MAX_SUBSCRIPTIONS);
    await projectUpdate('P99', { never: true });
    await projectUpdate('P1', { barrier: true });
    await c.next((f) => f.event === 'project.update' && f.data?.projectId === 'P1');
    expect(updatesFor(c, 'P99')).toEqual([]);

    await reply(c, 'project.unsubscribe', { projectId: 'P2' });
    expect((await reply(c, 'project.subscribe', { projectId: 'P99' })).event).toBe('project.subscribed');
  });

  test('the cap is per connection: a second connection of the same user has its own slots', async () => {
    const a = await pool.open('/ws/projects', { sub: 'root', roles: ['admin'] });
    const b = await pool.open('/ws/projects', { sub: 'root', roles: ['admin'] });
    for (let i = 1; i <= MAX_SUBSCRIPTIONS; i++) await reply(a, 'project.subscribe', { projectId: `A${i}` });
    for (let i = 1; i <= MAX_SUBSCRIPTIONS; i++) expect((await reply(b, 'project.subscribe', { projectId: `B${i}` })).event).toBe('project.subscribed');
    expectError(await reply(b, 'project.subscribe', { projectId: 'B99' }), 'LIMIT_EXCEEDED', 'project.subscribe');
  });
});

test('findings 5/7: subscriptions are gone after close and terminate', async () => {
  const a = await pool.open('/ws/projects', { sub: 'u1', projects: ['P1', 'P2'] });
  const b = await pool.open('/ws/projects', { sub: 'u2', projects: ['P1'] });
  await reply(a, 'project.subscribe', { projectId: 'P1' });
  await reply(a, 'project.subscribe', { projectId: 'P2' });
  await reply(b, 'project.subscribe', { projectId: 'P1' });
  expect((await server.stats()).subscriptions).toEqual({ topics: 2, subscriptions: 3, connections: 2 });
  a.close();
  b.socket.terminate();
  await pool.closeAll();
  const stats = await server.stats();
  expect(stats.subscriptions).toEqual({ topics: 0, subscriptions: 0, connections: 0 });
  expect(stats.limiter).toEqual({ users: 0, anonymousIps: 0 });
});
