import request from 'supertest';
import { Client, handshakeStatus, startServer, token, type ServerHandle } from '../support/harness.js';

const API_KEY = 'k'.repeat(40);
let server: ServerHandle;
beforeAll(async () => {
  server = await startServer({ options: { apiKey: API_KEY }, failingRevocationUser: 'broken' });
});
afterAll(async () => {
  await server.stop();
});

test('finding 21: a revocation store that fails refuses the upgrade with 503, not a 401 blaming the token', async () => {
  const refused = await handshakeStatus(server.ws('/ws/tracking'), { headers: { authorization: `Bearer ${token({ sub: 'broken' })}` } });
  expect(refused.status).toBe(503);
  expect(JSON.parse(refused.body)).toEqual({ code: 'UNAVAILABLE', message: 'Service Unavailable' });
  const metrics = await request(server.http()).get('/metrics');
  expect(metrics.text).not.toMatch(/realtime_auth_failures_total\{[^}]*reason="malformed"/);
  expect(server.output()).toContain('upgrade failed');
});

test('finding 21: in-band auth hitting a failing store answers INTERNAL_ERROR and the connection keeps working', async () => {
  const client = await Client.open(server.ws('/ws/main'));
  const failed = await client.call('auth', { token: token({ sub: 'broken' }) }, 'a1');
  expect(failed).toMatchObject({ event: 'error', code: 'INTERNAL_ERROR', message: 'Internal error', id: 'a1', request: 'auth' });
  expect(JSON.stringify(failed)).not.toMatch(/revocation|store|stack/i);
  expect((await client.call('ping', {})).event).toBe('pong');
  const ok = await client.call('auth', { token: token({ sub: 'fine' }) });
  expect(ok).toMatchObject({ event: 'auth.ok', data: { userId: 'fine' } });
  client.close();
});

test('a publish body that is not JSON gets the contract 400 shape without echoing the body', async () => {
  const secret = token({ sub: 'leak' });
  const res = await request(server.http())
    .post('/realtime/publish')
    .set('X-Api-Key', API_KEY)
    .set('Content-Type', 'application/json')
    .send(`${secret}{not json`);
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ code: 'VALIDATION_FAILED', message: 'Request body is not valid JSON', details: [] });
  expect(res.text).not.toContain(secret.slice(0, 10));
});
