/**
 * The built client (`npm run build` → dist/client, docs/client.md): the browser bundle holds
 * client code only (no server module, no Node built-in), stays under its gzip budget, the
 * ESM entry loads in Node, and every declaration file resolves its imports inside dist/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const DIST_CLIENT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'client');

interface BundleReport {
  inputs: string[];
  minifiedBytes: number;
  gzipBytes: number;
  gzipBudgetBytes: number;
}

test('the browser bundle holds client/src only and is under 15 KB gzip', () => {
  const report = JSON.parse(readFileSync(join(DIST_CLIENT, 'bundle-report.json'), 'utf8')) as BundleReport;
  expect(report.inputs.length).toBeGreaterThan(0);
  for (const input of report.inputs) expect(input).toMatch(/^client\/src\/[a-z-]+\.ts$/);
  const code = readFileSync(join(DIST_CLIENT, 'realtime-client.browser.js'));
  expect(gzipSync(code, { level: 9 }).length).toBe(report.gzipBytes);
  expect(report.gzipBytes).toBeLessThan(15 * 1024);
  const text = code.toString();
  expect(text).not.toMatch(/\brequire\(|["']node:|class-validator|@nestjs/);
});

test('the ESM entry loads in Node and exports the client', async () => {
  const entry = (await import(join(DIST_CLIENT, 'index.js'))) as Record<string, unknown>;
  expect(typeof entry.RealtimeClient).toBe('function');
  expect(typeof entry.RealtimeError).toBe('function');
  expect(entry.CLOSE_POLICY).toMatchObject({ 1001: 'backoff', 4400: 'stop' });
});

test('declaration files resolve every relative import inside dist/', () => {
  const files = readdirSync(DIST_CLIENT).filter((f) => f.endsWith('.d.ts'));
  expect(files).toEqual(expect.arrayContaining(['index.d.ts', 'protocol-types.d.ts', 'realtime-client.d.ts']));
  for (const file of files) {
    const text = readFileSync(join(DIST_CLIENT, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '(\.[^']+)'/g)) {
      const target = resolve(DIST_CLIENT, spec!.replace(/\.js$/, '.d.ts'));
      expect(existsSync(target) ? target : `${file} → ${spec} missing`).toBe(target);
      expect(target.startsWith(resolve(DIST_CLIENT, '..'))).toBe(true);
    }
  }
});
