import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The demo page of `npm run demo` (docs/client.md): a tiny static server on its own port for
 * the built browser client and the page using it. A fixed list of files, nothing else.
 * Its origin must be in the realtime server's allowed origins (`demoPageOrigins`).
 */
export interface DemoPageOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The realtime server's origin as the page should reach it, e.g. `ws://127.0.0.1:3000`; read per request. */
  readonly realtimeUrl: () => string;
  /** Where the built client lives (`dist/client`); defaults to the one beside this file. */
  readonly clientDir?: string;
}

export interface DemoPage {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const FILES: Readonly<Record<string, readonly [file: string, type: string]>> = {
  '/': ['demo/index.html', 'text/html; charset=utf-8'],
  '/demo.js': ['demo/demo.js', 'text/javascript; charset=utf-8'],
  '/realtime-client.browser.js': ['realtime-client.browser.js', 'text/javascript; charset=utf-8'],
};

/** The origins a browser shows for a page served on `port` of `host`. */
export function demoPageOrigins(host: string, port: number): string[] {
  const origins = [`http://${host}:${port}`];
  if (host === '127.0.0.1' || host === '0.0.0.0') origins.push(`http://localhost:${port}`);
  return origins;
}

export async function startDemoPage(options: DemoPageOptions): Promise<DemoPage> {
  const clientDir = options.clientDir ?? join(dirname(fileURLToPath(import.meta.url)), 'client');
  // JSON, then no `<`, `>` or `"` can leave the attribute.
  const realtimeUrl = () => JSON.stringify(options.realtimeUrl()).slice(1, -1).replace(/[<>"&]/g, (c) => `&#${c.charCodeAt(0)};`);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const entry = req.method === 'GET' || req.method === 'HEAD' ? FILES[path] : undefined;
    if (!entry) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    readFile(join(clientDir, entry[0]), 'utf8').then(
      (text) => {
        const body = entry[0].endsWith('.html') ? text.replace('%REALTIME_URL%', realtimeUrl()) : text;
        res.writeHead(200, { 'content-type': entry[1], 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(req.method === 'HEAD' ? undefined : body);
      },
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('client not built: npm run build'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${options.host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
