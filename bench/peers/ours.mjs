// Our server under test: the built app (dist/, `npm run build`) started in-process exactly
// as dist/main.js does (bootstrapRealtimeApp with the environment), plus the orchestrator's
// IPC channel so it can report its own CPU time and memory (after GC with --expose-gc).
import 'reflect-metadata';
import { serveIpc } from '../lib/server-ipc.mjs';

// BENCH_OURS_DIST: another build (the `base` server, for before/after comparisons).
const dist = process.env.BENCH_OURS_DIST ?? new URL('../../dist/', import.meta.url).href;
const { bootstrapRealtimeApp } = await import(new URL('bootstrap.js', dist).href);
const { resolveRealtimeOptions } = await import(new URL('config/realtime-options.js', dist).href);
const { RealtimePublisher } = await import(new URL('publishing/realtime-publisher.js', dist).href);

resolveRealtimeOptions({ env: process.env }); // same up-front validation as main.ts
const app = await bootstrapRealtimeApp({ env: process.env }, { port: 0, host: '127.0.0.1' });
// The in-process feed goes through the injectable publisher a host application uses (§8).
const publisher = app.get(RealtimePublisher);
const failed = (err) => process.stderr.write(`in-process publish failed: ${err.message}\n`);
serveIpc(app.getHttpServer().address().port, (topic, data) => publisher.trackingUpdate(topic, data).catch(failed));
