// Re-renders a results table from its JSON (after a change to the report's layout, without
// measuring again): node bench/render.mjs [bench/results/latest.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { markdown, targets } from './lib/report.mjs';

const file = process.argv[2] ?? new URL('results/latest.json', import.meta.url).pathname;
const json = JSON.parse(readFileSync(file, 'utf8'));
const { size, runs, servers, notes, date, machine } = json.meta;
const cases = Object.entries(json.aggregate).map(([id, a]) => ({ id, scenario: a.scenario, title: a.title }));
const suite = { cases, aggregate: json.aggregate, errors: json.errors, perRun: json.runs };
const md = markdown({ size, runs, servers, suite, meta: { date, machine }, notes });
json.targets = servers.includes('ours') ? targets(json.aggregate) : [];
writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
writeFileSync(file.replace(/\.json$/, '.md'), `${md}\n`);
process.stdout.write(`${md}\n`);
