// Keeps the Socket.IO figures honest: the load generators speak raw Engine.IO v4 frames, so
// check that the real socket.io-client gets the same subscribe ack and published update from
// bench/peers/socketio.mjs, and that the raw dialect does too. Run by `npm run bench:smoke`.
import { io } from 'socket.io-client';
import { API_KEY } from './lib/config.mjs';
import { nextData, openSubscribed, signToken } from './lib/client.mjs';
import { startServer } from './lib/proc.mjs';

const withTimeout = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: timed out`)), ms))]);

const server = await startServer('sio');
let failed = false;
try {
  const url = `http://127.0.0.1:${server.port}`;
  const client = io(url, { transports: ['websocket'], extraHeaders: { authorization: `Bearer ${signToken('check')}` }, reconnection: false });
  await withTimeout(new Promise((resolve, reject) => (client.on('connect', resolve), client.on('connect_error', reject))), 5000, 'socket.io-client connect');
  const ack = new Promise((resolve) => client.once('tracking.subscribed', resolve));
  client.emit('tracking.subscribe', { trackingId: 'CHECK' });
  const subscribed = await withTimeout(ack, 5000, 'subscribe ack');
  if (subscribed.trackingId !== 'CHECK') throw new Error(`ack ${JSON.stringify(subscribed)}`);

  const raw = await openSubscribed('sio', server.port, signToken('raw'), 'CHECK');
  const rawUpdate = nextData('sio', raw);
  const update = new Promise((resolve) => client.once('tracking.update', resolve));
  const res = await fetch(`${url}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({ topic: 'CHECK', data: { t: 1, n: 'x' } }),
  });
  if (res.status !== 202) throw new Error(`publish answered ${res.status}`);
  const got = await withTimeout(update, 5000, 'socket.io-client update');
  if (got.trackingId !== 'CHECK' || got.t !== 1) throw new Error(`update ${JSON.stringify(got)}`);
  const rawFrame = String(await withTimeout(rawUpdate, 5000, 'raw update'));
  if (rawFrame !== '42["tracking.update",{"t":1,"n":"x","trackingId":"CHECK"}]') throw new Error(`raw frame ${rawFrame}`);

  const unauthorized = io(url, { transports: ['websocket'], extraHeaders: { authorization: 'Bearer nope' }, reconnection: false });
  await withTimeout(new Promise((resolve) => unauthorized.on('connect_error', resolve)), 5000, 'refusal of a bad token');
  unauthorized.close();
  client.close();
  raw.terminate();
  console.log('check-socketio: socket.io-client and the raw Engine.IO dialect agree');
} catch (err) {
  failed = true;
  console.error(`check-socketio: ${err.stack ?? err}`);
} finally {
  await server.stop();
}
process.exit(failed ? 1 : 0);
