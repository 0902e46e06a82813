import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { JwtService } from '@nestjs/jwt';
import { WebSocket } from 'ws';
import { bootstrapRealtimeApp } from './bootstrap.js';
import { demoPageOrigins, startDemoPage } from './demo-page.js';
import { RealtimePublisher } from './publishing/realtime-publisher.js';

/**
 * `npm run demo`: an in-memory server with an ephemeral random secret, two sample tokens,
 * a simulated tracking update for DEMO-1 every few seconds and a demo user reporting
 * activity for the admin feed. Nothing is persisted.
 */
const DEMO_TRACKING_ID = 'DEMO-1';
const UPDATE_EVERY_MS = 3000;
const ACTIVITY_EVERY_MS = 2000;
/** Short, so the activity feed the demo tells you to watch shows batches within seconds. */
const DEMO_ACTIVITY_FLUSH_MS = 5000;
const STATUSES = ['picked_up', 'in_transit', 'at_hub', 'out_for_delivery', 'delivered'] as const;
const ACTIVITY_TYPES = ['shipment.viewed', 'document.opened', 'quote.requested'] as const;

/** A shell-quoted argument (single quotes), so printed command lines paste into any POSIX shell. */
const sh = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`;

/**
 * A `wscat` line that connects with a bearer token, sends one frame and stays open printing
 * what arrives. `npx` fetches wscat on first use, so the line works from any directory.
 */
function wscatLine(base: string, path: string, token: string, frame: object): string {
  return `npx -y wscat@6 -c ${base}${path} -H ${sh(`Authorization: Bearer ${token}`)} -x ${sh(JSON.stringify(frame))} -w -1`;
}

/** A demo user on /ws/activity reporting what it does, so the admin feed has something to show. */
function startActivityReporter(base: string, token: string): void {
  const socket = new WebSocket(`${base}/ws/activity`, { headers: { authorization: `Bearer ${token}` } });
  let step = 0;
  const timer = setInterval(() => {
    if (socket.readyState !== WebSocket.OPEN) return;
    const type = ACTIVITY_TYPES[step % ACTIVITY_TYPES.length]!;
    step += 1;
    socket.send(JSON.stringify({ event: 'activity.report', data: { type, target: DEMO_TRACKING_ID, metadata: { step } } }));
  }, ACTIVITY_EVERY_MS);
  timer.unref();
  socket.on('close', () => clearInterval(timer));
  socket.on('error', (err) => process.stderr.write(`demo activity reporter: ${err.message}\n`));
}

async function main(): Promise<void> {
  const secret = randomBytes(32).toString('base64url');
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  const apiKey = randomBytes(24).toString('base64url');
  // The browser page (docs/client.md) is served on its own port (the next one, or any free one
  // with PORT=0); its origin is allowed. It learns the realtime port once that is bound.
  let realtimeUrl = '';
  const page = await startDemoPage({ host, port: Number(process.env.DEMO_PAGE_PORT ?? (port === 0 ? 0 : port + 1)), realtimeUrl: () => realtimeUrl });
  const app = await bootstrapRealtimeApp(
    { env: {}, jwt: { secret }, apiKey, logLevel: 'warn', activityFlushIntervalMs: DEMO_ACTIVITY_FLUSH_MS, allowedOrigins: demoPageOrigins(host, page.port) },
    { port, host },
  );
  const jwt = new JwtService({ secret });
  const hour = { algorithm: 'HS256' as const, expiresIn: 3600 };
  const userToken = jwt.sign({ sub: 'demo-user', name: 'Demo User', projects: ['PRJ-1'] }, hour);
  const adminToken = jwt.sign({ sub: 'demo-admin', name: 'Demo Admin', roles: ['admin'] }, hour);
  // The port actually bound, so PORT=0 (any free port) prints usable lines too.
  const bound = (app.getHttpServer().address() as AddressInfo).port;
  const base = `ws://${host}:${bound}`;
  realtimeUrl = base;
  const http = `http://${host}:${bound}`;
  const publish = (body: object) =>
    `curl -s -X POST ${http}/realtime/publish -H ${sh(`X-Api-Key: ${apiKey}`)} -H 'Content-Type: application/json' -d ${sh(JSON.stringify(body))}`;
  const lines = [
    '',
    `Realtime demo listening on ${http} (in memory, ephemeral secret; tokens valid for 1 h)`,
    '',
    `User token  (sub demo-user):  ${userToken}`,
    `Admin token (sub demo-admin): ${adminToken}`,
    `HTTP API key (X-Api-Key):     ${apiKey}`,
    '',
    'Each line below works from any directory (npx fetches wscat on first use); run each in its own terminal.',
    '',
    `1. Watch the simulated shipment ${DEMO_TRACKING_ID} (an update every ${UPDATE_EVERY_MS / 1000} s):`,
    `   ${wscatLine(base, '/ws/tracking', userToken, { event: 'tracking.subscribe', data: { trackingId: DEMO_TRACKING_ID }, id: 'r1' })}`,
    '2. Watch demo-user\'s notifications:',
    `   ${wscatLine(base, '/ws/notifications', userToken, { event: 'notifications.subscribe', data: {}, id: 'r1' })}`,
    `3. Watch the admin activity feed (a demo user reports every ${ACTIVITY_EVERY_MS / 1000} s; batches every ${DEMO_ACTIVITY_FLUSH_MS / 1000} s):`,
    `   ${wscatLine(base, '/ws/activity', adminToken, { event: 'activity.subscribe', data: {}, id: 'r1' })}`,
    '',
    `Publish over HTTP — to the shipment watched in 1:`,
    `   ${publish({ namespace: 'tracking', topic: DEMO_TRACKING_ID, data: { status: 'delayed', note: 'sent with curl' } })}`,
    '   and a notification to the user watched in 2:',
    `   ${publish({ namespace: 'notifications', userIds: ['demo-user'], data: { title: 'Hello from curl' } })}`,
    `Health: curl -s ${http}/health/ready`,
    `4. Or open the browser page (paste the user token): ${page.url}`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');

  startActivityReporter(base, userToken);
  const publisher = app.get(RealtimePublisher);
  let step = 0;
  setInterval(() => {
    const status = STATUSES[step % STATUSES.length]!;
    step += 1;
    void publisher.trackingUpdate(DEMO_TRACKING_ID, { status, sequence: step, at: new Date().toISOString() });
    // The demo user's notifications, for the browser page.
    if (step % 3 === 0) void publisher.notify(['demo-user'], { text: `Shipment ${DEMO_TRACKING_ID} is ${status}`, at: new Date().toISOString() });
  }, UPDATE_EVERY_MS).unref();
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
