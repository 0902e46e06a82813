// Command line shared by bench/run.mjs and the per-scenario scripts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SCENARIO_KEYS, SERVERS, SERVER_KEYS, option, resolveList, resolveSize } from './config.mjs';
import { machine, markdown, targets } from './report.mjs';
import { fitToLimits, runSuite } from './runner.mjs';

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));

/**
 * Options (argv `--name value` or env BENCH_NAME): size tiny|ci|full (default full),
 * runs (default 1; 3 for the median of three), servers (ours,bare,corked,sio),
 * scenarios (fanout,inbound,memory,handshakes), out (file stem in bench/results/),
 * profile=ours[,corked…] (CPU-profile those servers' measurement windows into
 * bench/results/profiles/<stamp>/; `profile=1` means ours; read them with bench/profile.mjs).
 */
export async function main(defaultScenarios = SCENARIO_KEYS, defaultOut) {
  const started = Date.now();
  const notes = [];
  const size = fitToLimits(resolveSize(), notes);
  const runs = Math.max(1, Math.min(9, Number(option('runs', '1')) || 1));
  const servers = option('servers', '') ? resolveList('servers', Object.keys(SERVERS)) : SERVER_KEYS;
  const scenarios = defaultScenarios.length === 1 ? defaultScenarios : resolveList('scenarios', defaultScenarios);
  const out = option('out', defaultOut ?? (size.name === 'tiny' ? 'smoke' : 'latest'));
  const profileOpt = option('profile', '');
  const profileServers = profileOpt === '1' ? ['ours'] : profileOpt.split(',').filter(Boolean);
  const profileRoot = profileServers.length ? `${RESULTS}profiles/${new Date().toISOString().replace(/[:.]/g, '-')}` : undefined;
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
  process.stderr.write(`bench: size ${size.name}, ${runs} run(s), servers ${servers.join(',')}, scenarios ${scenarios.join(',')}\n`);

  const meta = { date: new Date().toISOString(), machine: machine() };
  const suite = await runSuite({ size, runs, servers, scenarios, profileRoot, profileServers });
  const md = markdown({ size, runs, servers, suite, meta, notes });
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(`${RESULTS}${out}.md`, `${md}\n`);
  const json = {
    meta: { ...meta, size, runs, servers, scenarios, notes, durationS: (Date.now() - started) / 1000 },
    targets: servers.includes('ours') ? targets(suite.aggregate) : [],
    aggregate: suite.aggregate,
    runs: suite.perRun,
    errors: suite.errors,
  };
  writeFileSync(`${RESULTS}${out}.json`, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`${md}\n`);
  process.stderr.write(`bench: wrote bench/results/${out}.md and .json in ${((Date.now() - started) / 1000).toFixed(0)} s${profileRoot ? `; profiles in ${profileRoot}` : ''}\n`);
  if (suite.errors.length) {
    process.stderr.write(`bench: ${suite.errors.length} measurement(s) failed\n`);
    process.exitCode = 1;
  }
}

/** True when `import.meta.url` is the script node was started with. */
export function isMain(url) {
  return process.argv[1] && fileURLToPath(url) === process.argv[1];
}
