import { Client, startServer, token, type ServerHandle } from '../support/harness.js';

let server: ServerHandle;
beforeAll(async () => {
  server = await startServer({ options: { revalidateIntervalMs: 200 } });
});
afterAll(async () => {
  await server.stop();
});

test('finding 17: a token revoked in the store is caught by periodic revalidation and closed with 4401', async () => {
  const revoked = await Client.open(server.ws('/ws/tracking'), { headers: { authorization: `Bearer ${token({ sub: 'r1', jti: 'jti-revoked' })}` } });
  const other = await Client.open(server.ws('/ws/tracking'), { headers: { authorization: `Bearer ${token({ sub: 'r2', jti: 'jti-kept' })}` } });
  await server.request({ cmd: 'revokeInStoreOnly', jti: 'jti-revoked' });
  expect((await revoked.waitClose(3000)).code).toBe(4401);
  // The connection with another token id is untouched and still answers.
  expect((await other.call('ping', {})).event).toBe('pong');
  other.close();
});
