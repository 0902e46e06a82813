import { Client, startServer, token, type ServerHandle } from '../support/harness.js';

let server: ServerHandle;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});
const auth = (claims: Record<string, unknown>) => ({ headers: { authorization: `Bearer ${token(claims)}` } });

test('namespaces smoke', async () => {
  const a = await Client.open(server.ws('/ws/collaboration'), auth({ sub: 'a', name: 'Alice' }));
  const b = await Client.open(server.ws('/ws/collaboration'), auth({ sub: 'b', name: 'Bob' }));
  expect((await a.call('room.join', { roomId: 'r1' })).data).toEqual({ roomId: 'r1', members: [{ userId: 'a', username: 'Alice' }] });
  expect((await b.call('room.join', { roomId: 'r1' })).data?.members).toHaveLength(2);
  expect((await a.next('room.presence')).data).toEqual({ roomId: 'r1', action: 'join', user: { userId: 'b', username: 'Bob' } });
  b.send({ event: 'room.broadcast', data: { roomId: 'r1', data: { x: 1 } } });
  expect((await a.next('room.message')).data).toMatchObject({ roomId: 'r1', from: { userId: 'b', username: 'Bob' }, data: { x: 1 } });
  b.socket.terminate();
  expect((await a.next('room.presence')).data).toMatchObject({ action: 'leave', user: { userId: 'b' } });

  const c = await Client.open(server.ws('/ws/commodity'), auth({ sub: 'c' }));
  expect((await c.call('commodity.join', { commodityId: 7 })).data).toEqual({ commodityId: 7, history: [] });
  const sent = await c.call('commodity.message', { commodityId: 7, text: 'hello' });
  expect(sent.event).toBe('commodity.sent');
  const msg = c.all('commodity.message')[0];
  expect(msg?.data).toMatchObject({ id: sent.data?.id, commodityId: 7, userId: 'c', username: 'c', text: 'hello' });
  expect((await c.call('commodity.message', { commodityId: 7, text: 'a\u0001b' })).code).toBe('VALIDATION_FAILED');

  const n = await Client.open(server.ws('/ws/notifications'), auth({ sub: 'n' }));
  expect((await n.call('notifications.subscribe', {})).data).toEqual({ userId: 'n', offset: 0, epoch: expect.any(String) });
  expect((await n.call('notifications.subscribe', { userId: 'x' })).code).toBe('UNAUTHORIZED');
  await server.request({ cmd: 'publish', method: 'notify', args: [['n'], { hi: 1 }] });
  expect((await n.next('notification')).data).toEqual({ hi: 1 });

  const p = await Client.open(server.ws('/ws/projects'), auth({ sub: 'p', projects: ['P1'] }));
  expect((await p.call('project.subscribe', { projectId: 'P1' })).event).toBe('project.subscribed');
  expect((await p.call('project.subscribe', { projectId: 'P2' })).code).toBe('UNAUTHORIZED');

  const adm = await Client.open(server.ws('/ws/activity'), auth({ sub: 'adm', roles: ['admin'] }));
  expect((await adm.call('activity.subscribe', {})).event).toBe('activity.subscribed');
  adm.send({ event: 'activity.report', data: { type: 'click', target: 'btn' } });
  await server.request({ cmd: 'flushActivity' });
  expect((await adm.next('activity.batch')).data?.items).toHaveLength(1);

  const m = await Client.open(server.ws('/ws/mololink'), auth({ sub: 'm', roles: ['carrier'] }));
  await server.request({ cmd: 'publish', method: 'mololink', args: [{ roles: ['carrier'] }, 'mololink.offer', { z: 1 }] });
  expect((await m.next('mololink.offer')).data).toEqual({ z: 1 });
  const pending = await Client.open(server.ws('/ws/mololink'));
  expect(pending.connected?.data?.authenticated).toBe(false);
  expect((await pending.call('ping', {})).event).toBe('pong');
  expect((await pending.call('tracking.subscribe', { trackingId: 'x' })).code).toBe('UNAUTHORIZED');
  for (const x of [a, c, n, p, adm, m, pending]) x.close();
});
