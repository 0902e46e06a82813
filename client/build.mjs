/**
 * Builds the client (docs/client.md) into dist/client:
 * - index.js: ESM bundle for Node and bundlers, with .d.ts files beside it;
 * - realtime-client.browser.js: minified ESM for browsers;
 * - demo/: the page `npm run demo` serves.
 * Fails when the bundle pulls in anything outside client/src (server code, Node modules)
 * or is over the size budget; prints the minified and gzip sizes.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'client');
const ENTRY = join(ROOT, 'client', 'src', 'index.ts');
const GZIP_BUDGET_BYTES = 15 * 1024;

mkdirSync(OUT, { recursive: true });
const common = { entryPoints: [ENTRY], bundle: true, format: 'esm', metafile: true, logLevel: 'warning', absWorkingDir: ROOT };
const node = await build({ ...common, outfile: join(OUT, 'index.js'), platform: 'neutral', target: 'es2022', sourcemap: true });
const browser = await build({ ...common, outfile: join(OUT, 'realtime-client.browser.js'), platform: 'browser', target: 'es2020', minify: true });

const inputs = [...new Set([...Object.keys(node.metafile.inputs), ...Object.keys(browser.metafile.inputs)])].sort();
const foreign = inputs.filter((input) => !input.startsWith('client/src/'));
if (foreign.length > 0) {
  throw new Error(`the client bundle must hold client/src only, found: ${foreign.join(', ')}`);
}
const code = readFileSync(join(OUT, 'realtime-client.browser.js'));
const gzipBytes = gzipSync(code, { level: 9 }).length;
writeFileSync(join(OUT, 'bundle-report.json'), JSON.stringify({ inputs, minifiedBytes: code.length, gzipBytes, gzipBudgetBytes: GZIP_BUDGET_BYTES }, null, 2) + '\n');
// On stderr: `npm pack --json` runs this build (prepack) and its stdout must stay JSON.
process.stderr.write(`client: realtime-client.browser.js ${(code.length / 1024).toFixed(1)} KB minified, ${(gzipBytes / 1024).toFixed(1)} KB gzip (budget ${GZIP_BUDGET_BYTES / 1024} KB)\n`);
if (gzipBytes >= GZIP_BUDGET_BYTES) throw new Error(`client bundle over budget: ${gzipBytes} bytes gzip`);

// Declarations: tsc emits them under build/client-types with the repository's layout; in the
// package the server's declarations sit one level up (dist/), so `../../src/` becomes `../`.
execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'client', 'tsconfig.json')], { stdio: 'inherit' });
const typesDir = join(ROOT, 'build', 'client-types', 'client', 'src');
for (const file of readdirSync(typesDir).filter((name) => name.endsWith('.d.ts'))) {
  const text = readFileSync(join(typesDir, file), 'utf8').replaceAll("from '../../src/", "from '../");
  writeFileSync(join(OUT, file), text);
}
cpSync(join(ROOT, 'client', 'demo'), join(OUT, 'demo'), { recursive: true });
process.stderr.write(`client: ${relative(ROOT, OUT)}/{index.js,index.d.ts,realtime-client.browser.js,demo/}\n`);
