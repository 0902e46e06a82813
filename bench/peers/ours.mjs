// Our server under test: the built app (dist/, `npm run build`) started in-process exactly
// as dist/main.js does (bootstrapRealtimeApp with the environment), plus the orchestrator's
// IPC channel so it can report its own CPU time and memory (after GC with --expose-gc).
import 'reflect-metadata';
import { serveIpc } from '../lib/server-ipc.mjs';

const { bootstrapRealtimeApp } = await import(new URL('../../dist/bootstrap.js', import.meta.url).href);
const { resolveRealtimeOptions } = await import(new URL('../../dist/config/realtime-options.js', import.meta.url).href);

resolveRealtimeOptions({ env: process.env }); // same up-front validation as main.ts
const app = await bootstrapRealtimeApp({ env: process.env }, { port: 0, host: '127.0.0.1' });
serveIpc(app.getHttpServer().address().port);
