/**
 * `npm run demo` as a newcomer follows it: the printed client lines are parsed (URL, header,
 * first frame) and replayed with a `ws` client — the same connection `wscat` makes — and the
 * printed curl publishes are replayed with fetch. Each watched stream must show its traffic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client, ROOT } from '../support/harness.js';

const DEMO_ENTRY = join(ROOT, 'dist', 'demo.js');

let demo: ChildProcess;
let printed = '';

beforeAll(async () => {
  demo = spawn(process.execPath, [DEMO_ENTRY], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo printed no instructions:\n${printed}`)), 15_000);
    demo.stdout!.on('data', (d: Buffer) => {
      printed += d.toString();
      if (/Health: curl/.test(printed)) {
        clearTimeout(timer);
        resolve();
      }
    });
    demo.once('exit', (code) => reject(new Error(`demo exited ${code}:\n${printed}`)));
  });
});

afterAll(() => {
  demo.kill('SIGKILL');
});

/** Undoes the demo's single-quote shell quoting of one argument. */
const unquote = (arg: string): string => arg.slice(1, -1).replaceAll(`'\\''`, `'`);
const QUOTED = `'(?:[^']|'\\\\'')*'`;

interface WscatLine {
  readonly url: string;
  readonly header: [string, string];
  readonly frame: Record<string, unknown>;
}

function wscatLines(): WscatLine[] {
  const pattern = new RegExp(`npx -y wscat@6 -c (\\S+) -H (${QUOTED}) -x (${QUOTED}) -w -1`, 'g');
  return [...printed.matchAll(pattern)].map((m) => {
    const header = unquote(m[2]!);
    const colon = header.indexOf(':');
    return { url: m[1]!, header: [header.slice(0, colon).trim(), header.slice(colon + 1).trim()], frame: JSON.parse(unquote(m[3]!)) as Record<string, unknown> };
  });
}

async function follow(line: WscatLine): Promise<Client> {
  const client = await Client.open(line.url, { headers: { [line.header[0]]: line.header[1] } });
  const reply = await client.call(String(line.frame.event), line.frame.data as Record<string, unknown>, String(line.frame.id));
  expect(reply.event).not.toBe('error');
  return client;
}

async function curl(index: number): Promise<void> {
  const pattern = new RegExp(`curl -s -X POST (\\S+) -H (${QUOTED}) -H 'Content-Type: application/json' -d (${QUOTED})`, 'g');
  const match = [...printed.matchAll(pattern)][index];
  expect(match).toBeDefined();
  const [name, value] = unquote(match![2]!).split(': ');
  const res = await fetch(match![1]!, { method: 'POST', headers: { [name!]: value!, 'content-type': 'application/json' }, body: unquote(match![3]!) });
  expect(res.status).toBe(202);
}

test('the printed lines are self-contained: wscat via npx, absolute URLs, no repository path', () => {
  expect(wscatLines().map((l) => new URL(l.url).pathname)).toEqual(['/ws/tracking', '/ws/notifications', '/ws/activity']);
  expect(printed).not.toMatch(/require\(|node -e|dist\//);
});

test('the printed browser page is served and points at the realtime server it was printed with', async () => {
  const pageUrl = /open the browser page \(paste the user token\): (\S+)/.exec(printed)?.[1];
  expect(pageUrl).toBeDefined();
  const html = await (await fetch(pageUrl!)).text();
  expect(html).toContain(new URL(wscatLines()[0]!.url).origin);
  expect((await fetch(new URL('/realtime-client.browser.js', pageUrl)).then((r) => r.status))).toBe(200);
});

test('watching DEMO-1 shows the simulated updates and the printed curl publish', async () => {
  const tracking = await follow(wscatLines()[0]!);
  expect((await tracking.next('tracking.update', 8000)).data).toMatchObject({ trackingId: 'DEMO-1', status: expect.any(String) });
  await curl(0);
  expect((await tracking.next((f) => f.event === 'tracking.update' && f.data?.note === 'sent with curl')).data?.trackingId).toBe('DEMO-1');
  tracking.close();
});

test('the printed notification publish reaches the printed notifications client', async () => {
  const notifications = await follow(wscatLines()[1]!);
  await curl(1);
  // The demo also notifies demo-user on its own every few seconds; the curl one must arrive as sent.
  expect((await notifications.next((f) => f.event === 'notification' && f.data?.title !== undefined)).data).toEqual({ title: 'Hello from curl' });
  notifications.close();
});

test('the admin activity feed it tells you to watch receives batches from the demo reporter', async () => {
  const activity = await follow(wscatLines()[2]!);
  const batch = await activity.next('activity.batch', 12_000);
  expect((batch.data?.items as unknown[]).length).toBeGreaterThan(0);
  expect((batch.data?.items as Array<Record<string, unknown>>)[0]).toMatchObject({ userId: 'demo-user', target: 'DEMO-1' });
  activity.close();
}, 20_000);
