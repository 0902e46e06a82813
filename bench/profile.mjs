// Summarises V8 CPU profiles (`BENCH_PROFILE=1` writes them for our server under
// bench/results/profiles/<stamp>/<case>/): top functions by self time, grouped by origin.
//   node bench/profile.mjs <dir or .cpuprofile>... [--top 25]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
if (args.length === 0) {
  console.error('usage: node bench/profile.mjs <dir or .cpuprofile>... [--top N]');
  process.exit(2);
}

function files(path) {
  if (statSync(path).isDirectory()) return readdirSync(path).flatMap((f) => files(join(path, f)));
  return path.endsWith('.cpuprofile') ? [path] : [];
}

function origin(url) {
  if (!url) return 'native';
  const pkg = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1].startsWith('@nestjs/') ? `nest (${pkg[1]})` : pkg[1];
  if (url.includes('/dist/')) return 'ours';
  if (url.startsWith('node:')) return 'node';
  return url.includes('/bench/') ? 'bench wrapper' : 'other';
}

function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i += 1) {
    const node = byId.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') continue;
    const short = url.includes('node_modules/') ? url.replace(/^.*node_modules\//, '') : url.replace(/^.*\/dist\//, 'dist/').replace(/^file:\/\//, '');
    const key = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
    const entry = self.get(key) ?? { key, origin: origin(url), micros: 0 };
    entry.micros += dt;
    self.set(key, entry);
  }
  const entries = [...self.values()].sort((a, b) => b.micros - a.micros);
  const total = entries.reduce((s, e) => s + e.micros, 0);
  const byOrigin = new Map();
  for (const e of entries) byOrigin.set(e.origin, (byOrigin.get(e.origin) ?? 0) + e.micros);
  console.log(`\n${file}\nbusy ${(total / 1e6).toFixed(2)} s (idle and "(program)" excluded)`);
  console.log('by origin: ' + [...byOrigin].sort((a, b) => b[1] - a[1]).map(([o, m]) => `${o} ${((100 * m) / total).toFixed(1)}%`).join(', '));
  for (const e of entries.slice(0, top)) console.log(`${((100 * e.micros) / total).toFixed(1).padStart(5)}%  ${e.origin.padEnd(26)} ${e.key}`);
}

for (const file of args.flatMap(files)) summarise(file);
