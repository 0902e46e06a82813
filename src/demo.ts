import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { bootstrapRealtimeApp } from './bootstrap.js';
import { demoPageOrigins, startDemoPage } from './demo-page.js';
import { RealtimePublisher } from './publishing/realtime-publisher.js';

/**
 * `npm run demo`: an in-memory server with an ephemeral random secret, two sample tokens
 * and a simulated tracking update for DEMO-1 every few seconds. Nothing is persisted.
 */
const DEMO_TRACKING_ID = 'DEMO-1';
const UPDATE_EVERY_MS = 3000;
const STATUSES = ['picked_up', 'in_transit', 'at_hub', 'out_for_delivery', 'delivered'] as const;

async function main(): Promise<void> {
  const secret = randomBytes(32).toString('base64url');
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  const apiKey = randomBytes(24).toString('base64url');
  // The browser page (docs/client.md) is served on the next port; its origin is allowed.
  const pagePort = Number(process.env.DEMO_PAGE_PORT ?? port + 1);
  const app = await bootstrapRealtimeApp({ env: {}, jwt: { secret }, apiKey, logLevel: 'info', allowedOrigins: demoPageOrigins(host, pagePort) }, { port, host });
  const page = await startDemoPage({ host, port: pagePort, realtimeUrl: `ws://${host}:${port}` });
  const jwt = new JwtService({ secret });
  const hour = { algorithm: 'HS256' as const, expiresIn: 3600 };
  const userToken = jwt.sign({ sub: 'demo-user', name: 'Demo User', projects: ['PRJ-1'] }, hour);
  const adminToken = jwt.sign({ sub: 'demo-admin', name: 'Demo Admin', roles: ['admin'] }, hour);
  const base = `ws://${host}:${port}`;
  const client = (path: string, token: string, frame: string) =>
    `node -e "const W=require('ws');const s=new W('${base}${path}',{headers:{authorization:'Bearer ${token}'}});` +
    `s.on('open',()=>s.send(JSON.stringify(${frame})));s.on('message',m=>console.log(String(m)))"`;
  const lines = [
    '',
    `Realtime demo listening on http://${host}:${port} (in memory, ephemeral secret)`,
    '',
    `User token  (sub demo-user):  ${userToken}`,
    `Admin token (sub demo-admin): ${adminToken}`,
    `HTTP API key (X-Api-Key):     ${apiKey}`,
    '',
    `Watch the simulated shipment ${DEMO_TRACKING_ID} (an update every ${UPDATE_EVERY_MS / 1000} s):`,
    `  ${client('/ws/tracking', userToken, `{event:'tracking.subscribe',data:{trackingId:'${DEMO_TRACKING_ID}'},id:'r1'}`)}`,
    'Watch the admin activity feed:',
    `  ${client('/ws/activity', adminToken, `{event:'activity.subscribe',data:{},id:'r1'}`)}`,
    'Publish over HTTP:',
    `  curl -s -X POST http://${host}:${port}/realtime/publish -H 'X-Api-Key: ${apiKey}' -H 'Content-Type: application/json' -d '{"namespace":"main","data":{"text":"hello"}}'`,
    `Health: curl -s http://${host}:${port}/health/ready`,
    `Browser page (paste the user token): ${page.url}`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');

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
