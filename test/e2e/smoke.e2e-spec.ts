import { Client, startServer, token, type ServerHandle } from '../support/harness.js';

let server: ServerHandle;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

test('tracking subscribe and publish round trip', async () => {
  const client = await Client.open(server.ws('/ws/tracking'), { headers: { authorization: `Bearer ${token()}` } });
  expect(client.connected?.data).toMatchObject({ namespace: 'tracking', authenticated: true, userId: 'u1' });
  const reply = await client.call('tracking.subscribe', { trackingId: 'SHP-1' }, 'r1');
  expect(reply).toEqual({ event: 'tracking.subscribed', data: { trackingId: 'SHP-1' }, id: 'r1' });
  await server.request({ cmd: 'trackingUpdate', trackingId: 'SHP-1', data: { status: 'moving' } });
  const push = await client.next('tracking.update');
  expect(push.data).toEqual({ status: 'moving', trackingId: 'SHP-1' });
  client.close();
  await client.waitClose();
});
