/**
 * jest globalSetup: starts the Redis servers the test run needs from the `redis-server` /
 * `redis-cli` binaries: one standalone server and a three-master Redis Cluster, on free ports,
 * with their files in a temporary directory, so `npm test` needs only the binaries, never a
 * server already running on 6379. The workers inherit their addresses through the environment:
 * TEST_REDIS_URL (standalone) and TEST_REDIS_CLUSTER_NODES (the masters, comma-separated; read
 * them through test/support/test-redis-env.ts).
 *
 * Failing to start anything throws (the run fails loudly; nothing is skipped). Cleanup is
 * layered: globalTeardown stops the servers and removes the directory; an `exit` hook kills
 * them if jest ends without teardown; a detached watchdog shell removes both when the jest
 * process disappears without running either (SIGKILL, a crash).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  readonly port: number;
  readonly child: ChildProcess;
  readonly logFile: string;
}

export interface TestRedis {
  readonly dir: string;
  readonly standalone: RedisServer;
  readonly cluster: readonly RedisServer[];
  readonly watchdog: ChildProcess;
  /** `redis://127.0.0.1:<port>` of the standalone server. */
  readonly url: string;
  /** `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`: the cluster's seed nodes. */
  readonly clusterNodes: string;
}

/** Ports below Linux' ephemeral range (32768…) so a cluster bus port (port + 10000) is free of client sockets too. */
const PORT_MIN = 15000;
const PORT_MAX = 22000;
const CLUSTER_BUS_OFFSET = 10000;
/** Generous: about 2.5 s is usual, but a loaded machine slows the cluster's gossip (joining took 4 s+ here). */
const START_TIMEOUT_MS = 30_000;
const ATTEMPTS = 6;

/** Starts everything; throws (after stopping what did start) when anything fails. */
export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'realtime-test-redis-'));
  const started: RedisServer[] = [];
  const onExit = (): void => killAll(started);
  process.once('exit', onExit);
  try {
    const servers = await Promise.all([false, true, true, true].map((clusterEnabled) => startServer(dir, clusterEnabled, started)));
    const standalone = servers[0]!;
    const cluster = servers.slice(1);
    await createCluster(cluster);
    const watchdog = startWatchdog(dir, started);
    return {
      dir,
      standalone,
      cluster,
      watchdog,
      url: `redis://127.0.0.1:${standalone.port}`,
      clusterNodes: cluster.map((s) => `127.0.0.1:${s.port}`).join(','),
    };
  } catch (error) {
    await stopServers(started);
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', onExit);
    throw error;
  }
}

/**
 * Where globalTeardown (test/support/global-teardown.ts, same process) finds the stop function.
 * jest loads both files outside its module mapper, so neither imports the other or any
 * relative module.
 */
export const STOP_TEST_REDIS = Symbol.for('realtime-layer.stop-test-redis');

export default async function globalSetup(): Promise<void> {
  const startedAt = Date.now();
  const redis = await startTestRedis();
  (globalThis as Record<symbol, unknown>)[STOP_TEST_REDIS] = () => stopTestRedis(redis);
  process.env['TEST_REDIS_URL'] = redis.url;
  process.env['TEST_REDIS_CLUSTER_NODES'] = redis.clusterNodes;
  process.stderr.write(`\ntest redis: standalone ${redis.url}, cluster ${redis.clusterNodes} (${Date.now() - startedAt} ms)\n`);
}

/** Stops the servers (SIGTERM, waits for their exit), the watchdog, and removes the directory. */
export async function stopTestRedis(redis: TestRedis): Promise<void> {
  await stopServers([redis.standalone, ...redis.cluster]);
  if (redis.watchdog.pid !== undefined && redis.watchdog.exitCode === null) {
    try {
      process.kill(redis.watchdog.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(redis.dir, { recursive: true, force: true });
}

async function startServer(dir: string, clusterEnabled: boolean, started: RedisServer[], extraArgs: readonly string[] = []): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const port = await freePort(clusterEnabled);
    try {
      return await startOnPort(dir, port, clusterEnabled, started, extraArgs);
    } catch (error) {
      lastError = error; // most likely the port was taken meanwhile: try another
    }
  }
  throw new Error(`test setup: could not start redis-server (is it installed?): ${String(lastError)}`);
}

/** One redis-server on `port` (a cluster node keeps its identity and slots in `dir`'s nodes-<port>.conf). */
async function startOnPort(dir: string, port: number, clusterEnabled: boolean, started: RedisServer[], extraArgs: readonly string[]): Promise<RedisServer> {
  const logFile = join(dir, `redis-${port}.log`);
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', logFile];
  if (clusterEnabled) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`));
  const child = spawn('redis-server', [...args, ...extraArgs], { stdio: 'ignore' });
  const server = { port, child, logFile };
  started.push(server);
  try {
    await waitForPing(server);
    return server;
  } catch (error) {
    await stopServers([server]);
    throw error;
  }
}

/**
 * A private Redis Cluster of `masters` nodes for a test that stops and restarts one of them
 * (the run's shared cluster must stay up for the other suites). `extraArgs` go to every
 * redis-server (e.g. a short `--cluster-node-timeout`). `restart(i)` starts node i again on
 * its port, with its cluster identity, and waits until the cluster is whole again. With
 * `replicasPerMaster`, servers 0…masters-1 start as the masters and the rest as their
 * replicas, so a killed master fails over (`waitForFailover`).
 */
export interface PrivateCluster {
  readonly servers: RedisServer[];
  /** `127.0.0.1:P1,127.0.0.1:P2,…` */
  readonly seeds: string;
  kill(index: number): Promise<void>;
  restart(index: number): Promise<void>;
  /** After `kill(index)`: resolves once every other node reports the cluster whole again (a replica took over its slots). */
  waitForFailover(index: number): Promise<void>;
  /** Every master killed at once (the whole cluster down). */
  killAll(): Promise<void>;
  /** Every master started again on its port with its identity; resolves once the cluster is whole. */
  restartAll(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private standalone Redis on a free port for a test that stops and restarts it (the run's
 * shared one must stay up for the other suites). `kill` SIGKILLs it; `restart` starts it again,
 * empty, on the same port.
 */
export interface PrivateRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A temporary directory for servers started in it, all killed if the process exits; `stop` stops them and removes it. */
function privateServers(name: string): { dir: string; started: RedisServer[]; stop: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), `realtime-test-${name}-`));
  const started: RedisServer[] = [];
  const onExit = (): void => killAll(started);
  process.once('exit', onExit);
  const stop = async (): Promise<void> => {
    await stopServers(started);
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', onExit);
  };
  return { dir, started, stop };
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const { dir, started, stop } = privateServers('redis');
  try {
    let server = await startServer(dir, false, started);
    return {
      port: server.port,
      url: `redis://127.0.0.1:${server.port}`,
      kill: () => killServer(server),
      restart: async () => {
        server = await startOnPort(dir, server.port, false, started, []);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function startPrivateCluster(masters: number, extraArgs: readonly string[] = [], replicasPerMaster = 0): Promise<PrivateCluster> {
  const { dir, started, stop } = privateServers('cluster');
  try {
    const servers = await Promise.all(Array.from({ length: masters * (1 + replicasPerMaster) }, () => startServer(dir, true, started, extraArgs)));
    await createCluster(servers, replicasPerMaster);
    if (replicasPerMaster > 0) await waitForReplicasInSync(servers);
    return {
      servers,
      seeds: servers.map((s) => `127.0.0.1:${s.port}`).join(','),
      kill: (index) => killServer(servers[index]!),
      restart: async (index) => {
        servers[index] = await startOnPort(dir, servers[index]!.port, true, started, extraArgs);
        await waitForClusterOk(servers);
      },
      waitForFailover: (index) => waitForFailover(servers, index),
      killAll: async () => {
        await Promise.all(servers.map(killServer));
      },
      restartAll: async () => {
        const restarted = await Promise.all(servers.map((server) => startOnPort(dir, server.port, true, started, extraArgs)));
        servers.splice(0, servers.length, ...restarted);
        await waitForClusterOk(servers);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * `redis-cli --cluster create` (slots split over the masters; with `replicasPerMaster`, the
 * first servers become the masters), then every node reports cluster_state:ok and knows the others.
 */
async function createCluster(servers: readonly RedisServer[], replicasPerMaster = 0): Promise<void> {
  const seeds = servers.map((s) => `127.0.0.1:${s.port}`);
  await new Promise<void>((resolve, reject) => {
    execFile('redis-cli', ['--cluster', 'create', ...seeds, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], { timeout: START_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`test setup: redis-cli --cluster create failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve();
    });
  });
  await waitForClusterOk(servers);
}

/** Every node reports cluster_state:ok, knows the others and sees every slot served. */
async function waitForClusterOk(servers: readonly RedisServer[]): Promise<void> {
  await Promise.all(
    servers.map((server) =>
      poll(server, async (client) => {
        const info = await client.cluster('INFO');
        return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${servers.length}`) && info.includes('cluster_slots_ok:16384');
      }, 'cluster_state:ok'),
    ),
  );
}

/**
 * Every node but `servers[index]` flags it failed (not only suspected) and reports the cluster
 * whole again: only a promoted replica serves its slots then. It stays in their node tables,
 * so it still counts as known.
 */
async function waitForFailover(servers: readonly RedisServer[], index: number): Promise<void> {
  const dead = `127.0.0.1:${servers[index]!.port}@`;
  const survivors = servers.filter((_server, i) => i !== index);
  await Promise.all(
    survivors.map((server) =>
      poll(server, async (client) => {
        const line = String(await client.cluster('NODES')).split('\n').find((entry) => entry.includes(dead));
        const flags = line?.split(' ')[2]?.split(',') ?? [];
        const info = await client.cluster('INFO');
        return flags.includes('fail') && info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${servers.length}`) && info.includes('cluster_slots_ok:16384');
      }, 'failover'),
    ),
  );
}

/**
 * Every replica finished its first sync with its master. A replica still syncing when its
 * master dies never fails over (it counts its data as too old), and the cluster stays down.
 */
async function waitForReplicasInSync(servers: readonly RedisServer[]): Promise<void> {
  await Promise.all(
    servers.map((server) =>
      poll(server, async (client) => {
        const role = (await client.call('ROLE')) as unknown[];
        return role[0] === 'master' || role[3] === 'connected';
      }, 'replica in sync'),
    ),
  );
}

function waitForPing(server: RedisServer): Promise<void> {
  return poll(server, async (client) => (await client.ping()) === 'PONG', 'PONG');
}

/** Polls `check` on a fresh connection each time until it holds; fails at once when the server exits. */
async function poll(server: RedisServer, check: (client: Redis) => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`redis-server on ${server.port} exited (${server.child.exitCode ?? server.child.signalCode}): ${tail(server.logFile)}`);
    }
    // No reconnects: a refused connection rejects `connect()` at once instead of leaving it pending.
    const client = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if (await check(client)) return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis-server on ${server.port}: no ${what} after ${START_TIMEOUT_MS} ms: ${tail(server.logFile)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A port (and, for a cluster node, its bus port) nothing listens on right now. */
async function freePort(withBus: boolean): Promise<number> {
  for (let i = 0; i < 100; i += 1) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN));
    if ((await canListen(port)) && (!withBus || (await canListen(port + CLUSTER_BUS_OFFSET)))) return port;
  }
  throw new Error('test setup: no free port found');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function stopServers(servers: readonly RedisServer[]): Promise<void> {
  await Promise.all(
    servers.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM'); // our own child, by its pid; save "" means no dump on the way out
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** SIGKILL (our own child, by its pid); resolves once it exited. */
async function killServer(server: RedisServer): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGKILL');
  await exited;
}

function killAll(servers: readonly RedisServer[]): void {
  for (const { child } of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Kills the servers and removes `dir` once this process is gone, if nobody did it before. */
function startWatchdog(dir: string, servers: readonly RedisServer[]): ChildProcess {
  const pids = servers.map((s) => s.child.pid).filter((pid): pid is number => pid !== undefined).join(' ');
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill ${pids} 2>/dev/null; rm -rf '${dir}'`;
  const watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-5).join('\n');
  } catch {
    return '(no log)';
  }
}
