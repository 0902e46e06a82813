// Our server under test: the built app (dist/, `npm run build`) started in-process exactly
// as dist/main.js does (bootstrapRealtimeApp with the environment), plus the orchestrator's
// IPC channel so it can report its own CPU time and memory (after GC with --expose-gc).
import 'reflect-metadata';
import { serveIpc } from '../lib/server-ipc.mjs';

// BENCH_OURS_DIST: another build (the `base` server, for before/after comparisons).
const dist = process.env.BENCH_OURS_DIST ?? new URL('../../dist/', import.meta.url).href;
const { bootstrapRealtimeApp } = await import(new URL('bootstrap.js', dist).href);
const { resolveRealtimeOptions } = await import(new URL('config/realtime-options.js', dist).href);

resolveRealtimeOptions({ env: process.env }); // same up-front validation as main.ts
const app = await bootstrapRealtimeApp({ env: process.env }, { port: 0, host: '127.0.0.1' });
serveIpc(app.getHttpServer().address().port);
