/**
 * Helpers for the observability e2e suites (test/e2e/observability-*.e2e-spec.ts): a strict
 * parser of the Prometheus text exposition format (0.0.4), a scrape helper, and a reader of
 * the server's JSON log lines. Pure test-side code: nothing here imports Nest or src/.
 */
import request from 'supertest';
import type { ServerHandle } from './harness.js';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  help?: string;
  type?: string;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const HELP_LINE = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
/** `name{labels} value` or `name value` (no timestamps: prom-client writes none). */
const SAMPLE_LINE = new RegExp(`^(${NAME})(\\{.*\\})? (\\S+)$`);
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;

/** Parses `{a="x",b="y\"z"}` strictly (escapes: \\ \" \n); throws on anything else. */
function parseLabels(raw: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 1;
  const end = raw.length - 1; // the closing brace
  while (i < end) {
    const eq = raw.indexOf('=', i);
    if (eq < 0) throw new Error(`label without "=": ${line}`);
    const name = raw.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name "${name}": ${line}`);
    if (name in labels) throw new Error(`duplicate label "${name}": ${line}`);
    if (raw[eq + 1] !== '"') throw new Error(`label value not quoted: ${line}`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      if (j >= end) throw new Error(`unterminated label value: ${line}`);
      const ch = raw[j]!;
      if (ch === '\\') {
        const next = raw[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`bad escape in label value: ${line}`);
        j += 2;
      } else if (ch === '"') {
        j += 1;
        break;
      } else {
        value += ch;
        j += 1;
      }
    }
    labels[name] = value;
    if (j === end) break;
    if (raw[j] !== ',') throw new Error(`expected "," between labels: ${line}`);
    i = j + 1;
  }
  return labels;
}

function parseValue(raw: string, line: string): number {
  if (!VALUE.test(raw)) throw new Error(`bad sample value "${raw}": ${line}`);
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  return Number(raw);
}

/** The family a sample belongs to: histogram `_bucket`/`_sum`/`_count` map to their base name. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = families.get(name.slice(0, -suffix.length));
      if (base && (base.type === 'histogram' || base.type === 'summary')) return base;
    }
  }
  return undefined;
}

const seriesKey = (name: string, labels: Labels): string =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')}}`;

export class Exposition {
  constructor(
    readonly text: string,
    readonly samples: readonly Sample[],
    readonly families: ReadonlyMap<string, Family>,
  ) {}

  /** The value of the one series with exactly these labels; 0 when the series is absent. */
  value(name: string, labels: Labels = {}): number {
    const found = this.find(name, labels);
    return found === undefined ? 0 : found.value;
  }

  /** The one series with exactly these labels, or undefined. */
  find(name: string, labels: Labels = {}): Sample | undefined {
    const key = seriesKey(name, labels);
    return this.samples.find((s) => seriesKey(s.name, s.labels) === key);
  }

  /** Sum over every series of `name` whose labels include `where` and pass `filter`. */
  sum(name: string, where: Labels = {}, filter: (labels: Labels) => boolean = () => true): number {
    return this.series(name, where)
      .filter((s) => filter(s.labels))
      .reduce((acc, s) => acc + s.value, 0);
  }

  /** Every series of `name` whose labels include `where`. */
  series(name: string, where: Labels = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
  }
}

/**
 * Parses Prometheus text format strictly: every line is a well-formed `# HELP`, `# TYPE`, or
 * sample line; each family has one HELP and one TYPE before its samples; no series repeats;
 * histogram buckets carry `le`, are cumulative, and the `+Inf` bucket equals `_count`.
 * Throws with the offending line otherwise.
 */
export function parsePrometheus(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const families = new Map<string, Family>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const help = HELP_LINE.exec(line);
      const type = TYPE_LINE.exec(line);
      if (help) {
        const family = families.get(help[1]!) ?? { name: help[1]! };
        if (family.help !== undefined) throw new Error(`second HELP for ${help[1]}`);
        if (help[2]!.trim() === '') throw new Error(`empty HELP: ${line}`);
        family.help = help[2]!;
        families.set(family.name, family);
      } else if (type) {
        const family = families.get(type[1]!) ?? { name: type[1]! };
        if (family.type !== undefined) throw new Error(`second TYPE for ${type[1]}`);
        if (samples.some((s) => familyOf(s.name, families) === family)) throw new Error(`TYPE after samples: ${line}`);
        family.type = type[2]!;
        families.set(family.name, family);
      } else {
        throw new Error(`malformed comment line: ${line}`);
      }
      continue;
    }
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`malformed sample line: ${line}`);
    const name = match[1]!;
    const labels = match[2] === undefined ? {} : parseLabels(match[2], line);
    const value = parseValue(match[3]!, line);
    const family = familyOf(name, families);
    if (!family?.type) throw new Error(`sample before its TYPE: ${line}`);
    const key = seriesKey(name, labels);
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`);
    seen.add(key);
    samples.push({ name, labels, value });
  }
  for (const family of families.values()) {
    if (family.help === undefined || family.type === undefined) throw new Error(`family ${family.name} lacks HELP or TYPE`);
    if (family.type === 'histogram') checkHistogram(family.name, samples);
  }
  return new Exposition(text, samples, families);
}

function checkHistogram(name: string, samples: readonly Sample[]): void {
  const groups = new Map<string, Array<{ le: number; value: number }>>();
  for (const s of samples.filter((x) => x.name === `${name}_bucket`)) {
    const { le, ...rest } = s.labels;
    if (le === undefined) throw new Error(`${name}_bucket without le`);
    const key = seriesKey(name, rest);
    groups.set(key, [...(groups.get(key) ?? []), { le: le === '+Inf' ? Infinity : Number(le), value: s.value }]);
  }
  for (const [key, buckets] of groups) {
    buckets.sort((a, b) => a.le - b.le);
    for (let i = 1; i < buckets.length; i += 1) {
      if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${key}: buckets not cumulative`);
    }
    const inf = buckets[buckets.length - 1]!;
    if (inf.le !== Infinity) throw new Error(`${key}: no +Inf bucket`);
    const count = samples.find((s) => s.name === `${name}_count` && seriesKey(name, s.labels) === key);
    if (!count || count.value !== inf.value) throw new Error(`${key}: _count differs from the +Inf bucket`);
    if (!samples.some((s) => s.name === `${name}_sum` && seriesKey(name, s.labels) === key)) throw new Error(`${key}: no _sum`);
  }
}

/** GET /metrics (with `Authorization: Bearer <bearer>` when given), asserted 200 and parsed. */
export async function scrape(server: ServerHandle, bearer?: string): Promise<Exposition> {
  const req = request(server.http()).get('/metrics');
  const res = await (bearer === undefined ? req : req.set('Authorization', `Bearer ${bearer}`));
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${res.text}`);
  return parsePrometheus(res.text);
}

/** One JSON log line of the server. */
export interface LogLine {
  readonly level: string;
  readonly time: string;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

/** Lines the harness itself prints (not the server's logger), e.g. `{"alertEvent":...}`. */
const HARNESS_KEYS = ['alertEvent', 'activityBatch'];

/** Every non-empty line of the output, parsed as JSON (throws naming the first line that is not). */
export function outputLines(server: ServerHandle): Array<Record<string, unknown>> {
  return server
    .output()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        return parsed as Record<string, unknown>;
      } catch {
        throw new Error(`output line is not a JSON object: ${line}`);
      }
    });
}

/** The server's log lines (harness event lines left out). */
export function logLines(server: ServerHandle): LogLine[] {
  return outputLines(server).filter((l) => !HARNESS_KEYS.some((k) => k in l)) as unknown as LogLine[];
}
