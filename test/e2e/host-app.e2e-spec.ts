/**
 * The package as a host app gets it (issue: "a Nest app installs it"): the library is packed
 * from a copy of its sources (so `prepack` must build a complete tarball without a `dist/`
 * of the checkout), the tarball is installed with a real `npm install` into a fresh copy of
 * `examples/host-app`, compiled with `skipLibCheck: false` as ESM and as CommonJS, and each
 * flavour is started and used over HTTP and WebSocket.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, SECRET, token } from '../support/harness.js';
import { bearer } from '../support/e2e-helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PACKAGE_NAME = '@logistics/realtime-layer';
const run = promisify(execFile);

/** Child processes get no NODE_OPTIONS (jest's --experimental-vm-modules) and no test secrets. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

async function npm(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: childEnv(), maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

/** Every installed copy of `name` under `dir`'s node_modules, nested ones included. */
async function installedCopies(dir: string, name: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(modules: string): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(modules);
    } catch {
      return;
    }
    for (const entry of entries) {
      const packages = entry.startsWith('@') ? (await readdir(join(modules, entry))).map((p) => `${entry}/${p}`) : [entry];
      for (const pkg of packages) {
        if (pkg === name) found.push(join(modules, pkg));
        await walk(join(modules, pkg, 'node_modules'));
      }
    }
  }
  await walk(join(dir, 'node_modules'));
  return found;
}

interface HttpAnswer {
  status: number;
  body: string;
}

function http(port: number, method: string, path: string, json?: unknown): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = json === undefined ? undefined : JSON.stringify(json);
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

interface HostProcess {
  readonly child: ChildProcess;
  readonly port: number;
  stdout(): string;
  stderr(): string;
  logLines(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Starts a compiled host entry and waits for its own "listening" line. */
function startHost(hostDir: string, entry: string): Promise<HostProcess> {
  const child = spawn(process.execPath, [join(hostDir, entry)], {
    cwd: hostDir,
    env: childEnv({ JWT_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not listen:\n${stdout}\n${stderr}`));
    }, 30_000);
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code}:\n${stdout}\n${stderr}`)));
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const listening = /shipments host listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
      if (!listening) return;
      clearTimeout(timer);
      resolve({
        child,
        port: Number(listening[1]),
        stdout: () => stdout,
        stderr: () => stderr,
        logLines: () => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}

/** Runs an entry to its end; `{code, stderr}`. */
function runToExit(hostDir: string, entry: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(hostDir, entry)], {
      cwd: hostDir,
      env: childEnv({ JWT_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} still running after 30 s:\n${stdout}\n${stderr}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let work: string;
let hostDir: string;
let packed: PackResult;
let dryRun: PackResult;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'realtime-host-'));
  // The library as a clean clone has it: sources, no dist/. node_modules is linked, not copied.
  const lib = join(work, 'lib');
  await mkdir(lib);
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'src', 'client', 'docs']) {
    await cp(join(ROOT, entry), join(lib, entry), { recursive: true });
  }
  await symlink(join(ROOT, 'node_modules'), join(lib, 'node_modules'), 'dir');
  [packed] = JSON.parse(await npm(lib, ['pack', '--json', '--pack-destination', work])) as PackResult[];
  [dryRun] = JSON.parse(await npm(lib, ['pack', '--dry-run', '--json', '--ignore-scripts'])) as PackResult[];

  hostDir = join(work, 'host');
  await cp(join(ROOT, 'examples', 'host-app'), hostDir, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|dist|dist-cjs)$/.test(src),
  });
  // The host minus its useWebSocketAdapter line: the mistake a host must be told how to fix.
  const main = await readFile(join(hostDir, 'src', 'main.ts'), 'utf8');
  const withoutAdapter = main.replace(/^.*app\.useWebSocketAdapter\(.*$/m, '');
  expect(withoutAdapter).not.toBe(main);
  await writeFile(join(hostDir, 'src', 'main-without-adapter.ts'), withoutAdapter);
  // A Node consumer of the package's ./client entry, compiled with the host (skipLibCheck: false),
  // typed end to end: a wrong payload field would not compile.
  await writeFile(join(hostDir, 'src', 'client-usage.ts'), CLIENT_USAGE);

  await npm(hostDir, ['install', join(work, packed.filename), '--prefer-offline', '--no-audit', '--no-fund']);
  await npm(hostDir, ['run', 'build']);
  await npm(hostDir, ['run', 'build:cjs']);
}, 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  test('the dry run lists only built files, docs, README, LICENSE and package.json', () => {
    const paths = dryRun.files.map((f) => f.path);
    const outside = paths.filter((p) => !/^(dist\/.+\.(js|d\.ts)|docs\/[^/]+\.(md|ya?ml)|README\.md|LICENSE|package\.json)$/.test(p));
    expect(outside).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/client/realtime-client.browser.js']));
    expect(paths.filter((p) => /demo/.test(p))).toEqual([]); // the demo and its page are not part of the package
  });

  test('prepack builds a complete tarball from sources without dist/', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/realtime.module.js', 'dist/realtime.module.d.ts']));
    expect(paths.filter((p) => p.startsWith('src/') || p.startsWith('test/') || p.startsWith('bench/') || p.startsWith('.ci/'))).toEqual([]);
  });
});

/** Subscribes to a shipment through the package's client entry and prints the first update. */
const CLIENT_USAGE = `
import { WebSocket } from 'ws';
import { RealtimeClient } from '${PACKAGE_NAME}/client';

export async function watchShipment(url: string, jwt: string, trackingId: string): Promise<string> {
  const client = new RealtimeClient({ url, path: '/ws/tracking', WebSocket, headers: { authorization: 'Bearer ' + jwt } });
  const update = new Promise<string>((resolve) => client.on('tracking.update', (u) => resolve(JSON.stringify(u))));
  const sub = await client.subscribe('tracking.subscribe', { trackingId });
  process.stdout.write('subscribed ' + sub.answer.trackingId + '\\n');
  const first = await update;
  client.close();
  return first;
}

if (process.argv[2]) {
  const [url, jwt, trackingId] = process.argv.slice(2) as [string, string, string];
  watchShipment(url, jwt, trackingId).then((u) => process.stdout.write(u + '\\n'));
}
`;

describe('installed into a host app', () => {
  test('the host compiles against the package with skipLibCheck: false', async () => {
    const tsconfig = JSON.parse(await readFile(join(hostDir, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    expect(tsconfig.compilerOptions.skipLibCheck).toBe(false);
    // The CommonJS build really is CommonJS: require() of the package.
    expect(await readFile(join(hostDir, 'dist-cjs', 'app.module.js'), 'utf8')).toContain(`require("${PACKAGE_NAME}")`);
    expect(await readFile(join(hostDir, 'dist', 'app.module.js'), 'utf8')).toContain(`from '${PACKAGE_NAME}'`);
  });

  test('exactly one copy of @nestjs/core (and of @nestjs/common, @nestjs/websockets)', async () => {
    for (const name of ['@nestjs/core', '@nestjs/common', '@nestjs/websockets']) {
      expect(await installedCopies(hostDir, name)).toEqual([join(hostDir, 'node_modules', name)]);
    }
    expect(await installedCopies(hostDir, PACKAGE_NAME)).toHaveLength(1);
  });

  describe.each([
    ['ESM', 'dist'],
    ['CommonJS', 'dist-cjs'],
  ])('%s host', (_flavour, outDir) => {
    let host: HostProcess;
    beforeAll(async () => {
      host = await startHost(hostDir, `${outDir}/main.js`);
    }, 60_000);
    afterAll(async () => {
      await host?.stop();
    });

    test("the host's own route, readiness and /ws/main", async () => {
      expect(await http(host.port, 'GET', '/')).toEqual({ status: 200, body: '{"service":"shipments-host"}' });
      expect((await http(host.port, 'GET', '/health/ready')).status).toBe(200);
      const main = await Client.open(`ws://127.0.0.1:${host.port}/ws/main`, bearer(token({ sub: 'host-user' })));
      expect(main.connected?.event).toBe('connected');
      expect(main.connected?.data).toMatchObject({ namespace: 'main', authenticated: true, userId: 'host-user' });
      main.close();
    });

    test("the host's service publishes through the injected RealtimePublisher", async () => {
      const tracking = await Client.open(`ws://127.0.0.1:${host.port}/ws/tracking`, bearer(token({ sub: 'watcher' })));
      expect((await tracking.call('tracking.subscribe', { trackingId: 'SHIP-1' })).event).toBe('tracking.subscribed');
      const notifications = await Client.open(`ws://127.0.0.1:${host.port}/ws/notifications`, bearer(token({ sub: 'u-42' })));
      expect((await notifications.call('notifications.subscribe', {})).event).toBe('notifications.subscribed');

      expect(await http(host.port, 'POST', '/shipments/SHIP-1/status', { status: 'in_transit' })).toEqual({ status: 202, body: '{"published":"tracking.update"}' });
      expect((await tracking.next('tracking.update')).data).toMatchObject({ trackingId: 'SHIP-1', status: 'in_transit' });
      expect(await http(host.port, 'POST', '/users/u-42/notify', { title: 'Out for delivery' })).toEqual({ status: 202, body: '{"published":"notification"}' });
      expect((await notifications.next('notification')).data).toEqual({ type: 'shipment', title: 'Out for delivery' });
      tracking.close();
      notifications.close();
    });

    test("the package's ./client entry, used by a Node program of the host, receives the host's publish", async () => {
      const watcher = spawn(process.execPath, [join(hostDir, outDir, 'client-usage.js'), `ws://127.0.0.1:${host.port}`, token({ sub: 'sdk-user' }), 'SHIP-SDK'], { cwd: hostDir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      watcher.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      watcher.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => watcher.once('exit', resolve));
      try {
        const deadline = Date.now() + 10_000;
        while (!out.includes('subscribed SHIP-SDK') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(out).toContain('subscribed SHIP-SDK');
        expect((await http(host.port, 'POST', '/shipments/SHIP-SDK/status', { status: 'delivered' })).status).toBe(202);
        expect(await exited).toBe(0);
        expect(JSON.parse(out.trim().split('\n').pop()!)).toMatchObject({ trackingId: 'SHIP-SDK', status: 'delivered' });
      } finally {
        watcher.kill('SIGKILL');
      }
    });

    test('a PublishRejected in a host controller is a 400 with the reason, not a 500', async () => {
      const answer = await http(host.port, 'POST', `/shipments/${encodeURIComponent('not a valid id!')}/status`, { status: 'lost' });
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toEqual({
        code: 'VALIDATION_FAILED',
        message: expect.stringContaining('topic must match') as unknown,
        details: [{ field: 'topic', constraints: ['matches'] }],
      });
      expect(host.logLines().filter((l) => l.level === 'error')).toEqual([]);
      expect(host.stderr()).not.toMatch(/\n\s+at /);
    });

    test("with the README's logger, the host's own Nest and Logger lines are info", () => {
      const lines = host.logLines();
      const line = (context: string, msg: RegExp) => lines.find((l) => l.context === context && msg.test(String(l.msg)));
      expect(line('RouterExplorer', /\/shipments\/:id\/status, POST/)?.level).toBe('info');
      expect(line('NestApplication', /successfully started/)?.level).toBe('info');
      expect(line('ShipmentsHost', /listening on/)?.level).toBe('info');
      expect(line('ShipmentEvents', /^shipment SHIP-1 is now in_transit$/)?.level).toBe('info');
    });

    test('without RealtimeWsAdapter, startup stops and says what to call (bufferLogs: true)', async () => {
      const result = await runToExit(hostDir, `${outDir}/main-without-adapter.js`);
      expect(result.code).not.toBe(0);
      expect(result.code).not.toBeNull();
      expect(result.stderr).toContain('call app.useWebSocketAdapter(new RealtimeWsAdapter(app))');
    }, 40_000);
  });
});
