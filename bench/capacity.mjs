// Scaled-down check of the capacity model of docs/scaling.md (needs `npm run build`).
//   REDIS_CLUSTER_NODES=127.0.0.1:7000,… node bench/capacity.mjs      (or REDIS_URL=redis://…)
// Starts CAP_NODES nodes (3) on that Redis, CAP_CONNS connections per node (2000), each on one
// tracking topic of ~10 subscribers spread over the nodes; measures Redis commands per
// connection per minute while idle (CAP_IDLE_S, 30), then publishes CAP_RATE per second (200)
// for CAP_SECONDS (20) through the HTTP API, round robin over the nodes, and measures node
// CPU, deliveries and Redis commands per publish (INFO commandstats on every master). Prints
// the model's prediction next to the measurement.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { openSubscribed, pool, publisher, signToken, sleep } from './lib/client.mjs';
import { serverEnv } from './lib/config.mjs';

const NODES = Number(process.env.CAP_NODES ?? 3);
const CONNS = Number(process.env.CAP_CONNS ?? 2000);
const RATE = Number(process.env.CAP_RATE ?? 200);
const SECONDS = Number(process.env.CAP_SECONDS ?? 20);
const IDLE_S = Number(process.env.CAP_IDLE_S ?? 30);
const SUBSCRIBERS_PER_TOPIC = 10;
/** Figures measured on one node (docs/performance.md, EPYC): deliveries per CPU-s at fan-out 1,000. */
const DELIVERIES_PER_CPU_S = 86_616;

const clusterNodes = process.env.REDIS_CLUSTER_NODES;
const redisUrl = process.env.REDIS_URL;
if (!clusterNodes && !redisUrl) throw new Error('set REDIS_CLUSTER_NODES or REDIS_URL');
const prefix = `bench:capacity:${randomBytes(4).toString('hex')}:`;

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startNode() {
  const port = await freePort();
  const env = {
    ...serverEnv('ours'),
    PORT: String(port),
    REDIS_SIGNING_KEY: 'capacity-bench-signing-key-0123456789abcdef',
    REDIS_KEY_PREFIX: prefix,
    WS_MAX_SUBSCRIPTIONS: '1000',
  };
  if (clusterNodes) env.REDIS_CLUSTER_NODES = clusterNodes;
  else env.REDIS_URL = redisUrl;
  const child = spawn(process.execPath, ['dist/main.js'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 200; i += 1) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200) return { port, child };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`node on ${port} not ready`);
}

/** CPU seconds a process has used (Linux /proc). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const redis = clusterNodes
  ? new Cluster(clusterNodes.split(',').map((seed) => ({ host: seed.split(':')[0], port: Number(seed.split(':')[1]) })))
  : new Redis(redisUrl);
const masters = () => (redis instanceof Cluster ? redis.nodes('master') : [redis]);
async function resetStats() {
  await Promise.all(masters().map((m) => m.config('RESETSTAT')));
}
/** Commands run by the masters since the last reset (excluding the INFO/CONFIG/CLUSTER/PING of this script and of readiness probes), in all and per master. */
async function commandCounts() {
  const counts = {};
  const perMaster = [];
  for (const m of masters()) {
    let here = 0;
    for (const line of (await m.info('commandstats')).split('\r\n')) {
      const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
      // Subcommands count as `cluster|info`, `config|resetstat`: compare the command's own name.
      if (match && !['info', 'config', 'cluster', 'ping', 'command'].includes(match[1].split('|')[0])) {
        counts[match[1]] = (counts[match[1]] ?? 0) + Number(match[2]);
        here += Number(match[2]);
      }
    }
    perMaster.push(here);
  }
  Object.defineProperty(counts, 'perMaster', { value: perMaster, enumerable: false });
  return counts;
}
const total = (counts) => Object.values(counts).reduce((a, b) => a + b, 0);

const nodes = [];
const sockets = [];
try {
  for (let i = 0; i < NODES; i += 1) nodes.push(await startNode());
  const all = NODES * CONNS;
  const topics = Math.max(1, Math.floor(all / SUBSCRIBERS_PER_TOPIC));
  let deliveries = 0;
  await pool(all, 50, async (j) => {
    const ws = await openSubscribed('ours', nodes[j % NODES].port, signToken(`cap-${j}`), `cap-${j % topics}`);
    ws.on('message', () => (deliveries += 1));
    sockets.push(ws);
  });

  await resetStats();
  const idleCpu0 = nodes.map((n) => cpuSeconds(n.child.pid));
  await sleep(IDLE_S * 1000);
  const idleCpuPerS = nodes.map((n, i) => (cpuSeconds(n.child.pid) - idleCpu0[i]) / IDLE_S);
  const idle = await commandCounts();
  const perConnPerMin = total(idle) / all / (IDLE_S / 60);

  await resetStats();
  deliveries = 0;
  const cpu0 = nodes.map((n) => cpuSeconds(n.child.pid));
  const pubs = nodes.map((n) => publisher('ours', n.port, 16));
  let published = 0;
  let failed = 0;
  const started = Date.now();
  while (Date.now() - started < SECONDS * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * RATE);
    while (published + failed < due) {
      const n = published + failed;
      pubs[n % NODES].publish(`cap-${n % topics}`, JSON.stringify({ n }), (err) => (err ? (failed += 1) : undefined));
      published += 1;
    }
    await sleep(5);
  }
  await sleep(1000);
  const elapsed = (Date.now() - started) / 1000;
  const cpu = nodes.map((n, i) => cpuSeconds(n.child.pid) - cpu0[i]);
  const busy = await commandCounts();
  pubs.forEach((p) => p.close());

  const rate = published / elapsed;
  const perPublish = (total(busy) - (total(idle) / IDLE_S) * elapsed) / published;
  const deliveriesPerS = deliveries / elapsed;
  const cpuPerNode = cpu.map((c) => c / elapsed);
  // The model: every node receives every publish (its shard channels cover every topic), and
  // delivers its share; per delivery the single-node figure, the rest is the per-envelope cost.
  const modelDeliveryCpu = deliveriesPerS / NODES / DELIVERIES_PER_CPU_S;
  const meanCpu = cpuPerNode.reduce((a, b) => a + b, 0) / NODES;
  const meanIdleCpu = idleCpuPerS.reduce((a, b) => a + b, 0) / NODES;
  // What a publish costs a node beyond idle and beyond its deliveries: its share of the HTTP
  // publish (1/NODES of them) and the envelope every node receives.
  const perEnvelopeUs = ((meanCpu - meanIdleCpu - modelDeliveryCpu) / rate) * 1e6;
  console.log(
    JSON.stringify(
      {
        redis: clusterNodes ? `cluster (${masters().length} masters)` : 'standalone',
        nodes: NODES,
        connections: all,
        topics,
        idle: { seconds: IDLE_S, nodeCpuPerS: idleCpuPerS.map((c) => Number(c.toFixed(4))), commands: idle, commandsPerMaster: idle.perMaster, commandsPerConnectionPerMinute: Number(perConnPerMin.toFixed(3)) },
        load: {
          publishesPerS: Number(rate.toFixed(1)),
          failed,
          deliveriesPerS: Number(deliveriesPerS.toFixed(1)),
          expectedDeliveriesPerS: rate * SUBSCRIBERS_PER_TOPIC,
          nodeCpuPerS: cpuPerNode.map((c) => Number(c.toFixed(3))),
          redisCommandsPerPublish: Number(perPublish.toFixed(2)),
          commands: busy,
          // The spread over the masters (a cluster): no master should carry all the traffic.
          commandsPerMaster: busy.perMaster,
        },
        model: {
          deliveryCpuPerNode: Number(modelDeliveryCpu.toFixed(4)),
          measuredCpuPerNode: Number(meanCpu.toFixed(4)),
          idleCpuPerNode: Number(meanIdleCpu.toFixed(4)),
          impliedCpuUsPerPublishPerNode: Number(perEnvelopeUs.toFixed(1)),
        },
      },
      null,
      2,
    ),
  );
} finally {
  for (const ws of sockets) ws.terminate();
  for (const n of nodes) n.child.kill('SIGKILL');
  await Promise.all(masters().map(async (m) => {
    let cursor = '0';
    do {
      const [next, keys] = await m.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      for (const key of keys) await m.del(key).catch(() => undefined);
      cursor = next;
    } while (cursor !== '0');
  }));
  redis.disconnect();
}
