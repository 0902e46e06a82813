// Child processes of the orchestrator: the server under test and the load generator, each
// forked with an IPC channel, every wait bounded by a timeout.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVERS, dialectOf, serverEnv } from './config.mjs';

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Resolves with the next IPC message matching `accept`, rejects on timeout or child exit. */
export function nextMessage(child, accept, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (!accept(msg)) return;
      done();
      resolve(msg);
    };
    const onExit = (code, signal) => {
      done();
      reject(new Error(`${what}: process exited (${code ?? signal}) while waiting`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    function done() {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Keeps the last lines of a child's output for error reports. */
function tail(stream, lines, echo) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    if (echo) process.stderr.write(chunk);
    const parts = (rest + chunk).split('\n');
    rest = parts.pop();
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 40) lines.shift();
    }
  });
}

async function stopChild(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    if (child.connected) child.send({ type: 'exit' });
  } catch {
    /* channel already closed */
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts one server under test: `node --expose-gc bench/peers/<kind>.mjs`, waits for its port.
 * `profileFile`: CPU-profile the measurement window (start → end checkpoints) into that file.
 */
export async function startServer(kind, { profileFile } = {}) {
  // BENCH_SERVER_NODE_ARGS: extra node flags for the servers under test (e.g. --trace-gc with BENCH_VERBOSE=1).
  const execArgv = ['--expose-gc', ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const output = [];
  const child = fork(`${BENCH_DIR}${SERVERS[kind].script}`, [], {
    env: serverEnv(kind),
    execArgv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  tail(child.stdout, output, process.env.BENCH_VERBOSE === '1');
  tail(child.stderr, output, process.env.BENCH_VERBOSE === '1');
  let ready;
  try {
    ready = await nextMessage(child, (m) => m?.type === 'ready', 30000, `server ${kind}`);
  } catch (err) {
    await stopChild(child);
    throw new Error(`${err.message}\n${output.join('\n')}`);
  }
  let seq = 0;
  return {
    kind,
    port: ready.port,
    pid: ready.pid,
    output,
    profileFile,
    /** Starts or stops (and writes) the in-process CPU profile. */
    async profile(action) {
      const id = (seq += 1);
      child.send({ type: 'profile', id, action, file: profileFile });
      const msg = await nextMessage(child, (m) => m?.type === 'profiled' && m.id === id, 60000, `server ${kind} profile`);
      if (msg.error) throw new Error(`profile ${action}: ${msg.error}`);
    },
    /** CPU (µs, user+system) and memory of the server process, after GC when `gc`. */
    async stats(gc = false) {
      const id = (seq += 1);
      child.send({ type: 'stats', id, gc });
      const msg = await nextMessage(child, (m) => m?.type === 'stats' && m.id === id, 30000, `server ${kind} stats`);
      return msg.stats;
    },
    /** Forwards a load generator's in-process feed request (`publish`) to the server. */
    send: (msg) => child.connected && child.send(msg),
    stop: () => stopChild(child),
  };
}

/**
 * Runs one load generator (bench/load/<name>.mjs) against a started server. The generator
 * calls `checkpoint(name, {gc})` at phase boundaries; each one snapshots the server's own
 * stats here, in the orchestrator, before the generator continues.
 * Resolves with { result, checkpoints: { name: serverStats } }.
 */
export async function runLoad(name, server, config, timeoutMs) {
  const output = [];
  const child = fork(`${BENCH_DIR}load/${name}.mjs`, [], {
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  tail(child.stdout, output, process.env.BENCH_VERBOSE === '1');
  tail(child.stderr, output, process.env.BENCH_VERBOSE === '1');
  const checkpoints = {};
  const onMessage = async (msg) => {
    if (msg?.type === 'publish') return server.send(msg);
    if (msg?.type !== 'checkpoint') return;
    try {
      checkpoints[msg.name] = await server.stats(Boolean(msg.gc));
      // A profiling run's figures include the profiler's own overhead: use it for profiles only.
      if (server.profileFile && msg.name === 'start') await server.profile('start');
      if (server.profileFile && msg.name === 'end') await server.profile('stop');
      child.send({ type: 'continue', name: msg.name });
    } catch (err) {
      child.send({ type: 'continue', name: msg.name, error: err.message });
    }
  };
  child.on('message', onMessage);
  try {
    child.send({ type: 'config', config: { ...config, kind: dialectOf(server.kind), port: server.port } });
    const done = await nextMessage(child, (m) => m?.type === 'done', timeoutMs, `load ${name} against ${server.kind}`);
    if (done.error) throw new Error(`load ${name} against ${server.kind}: ${done.error}`);
    return { result: done.result, checkpoints };
  } catch (err) {
    const lines = output.length ? `\nload output:\n${output.join('\n')}` : '';
    const srv = server.output.length ? `\nserver output:\n${server.output.join('\n')}` : '';
    err.message += lines + srv;
    throw err;
  } finally {
    child.off('message', onMessage);
    await stopChild(child);
  }
}
