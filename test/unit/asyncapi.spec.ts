import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DtoShape, PathEvents, ProtocolTables } from '../support/protocol-probe.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The code's own tables, per WebSocket path: the events a client may send (with the DTO of
 * their `data`) and the events the server sends (with `data` samples, possibly none), plus the
 * HTTP API's DTOs. Today read from the gateways' Nest metadata and by driving the code against
 * recording fakes (test/support/protocol-probe.ts, run by node on the `npm run build:test`
 * output, as jest cannot load the gateways); once one namespace descriptor table holds all
 * this, read it here instead.
 */
function codeEventTables(): ProtocolTables {
  const probe = new URL('../../build/test/support/protocol-probe.js', import.meta.url).href;
  const script = `import(${JSON.stringify(probe)}).then((m) => m.probeProtocol()).then((t) => process.stdout.write(JSON.stringify(t)), (e) => { console.error(e); process.exit(1); })`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }).toString('utf8')) as ProtocolTables;
}

const DOC_PATH = fileURLToPath(new URL('../../docs/asyncapi.yaml', import.meta.url));

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  pattern?: string;
  const?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  'x-max-json-bytes'?: number;
  items?: Schema;
  oneOf?: Schema[];
};
type Json = Record<string, unknown>;
interface Diagnostic {
  severity: number;
  code: string | number;
  message: string;
  path: (string | number)[];
}

/** Parses the document with the official parser, in a child node process (its ESM build does not load under jest). */
function parseDocument(text: string): { diagnostics: Diagnostic[]; json: Json | undefined } {
  const script = `
    const { Parser } = require('@asyncapi/parser');
    let input = '';
    process.stdin.on('data', (c) => (input += c)).on('end', async () => {
      const { document, diagnostics } = await new Parser().parse(input);
      process.stdout.write(JSON.stringify({
        diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path })),
        json: document ? document.json() : undefined,
      }));
    });`;
  const out = execFileSync(process.execPath, ['-e', script], { input: text, cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out.toString('utf8')) as { diagnostics: Diagnostic[]; json: Json | undefined };
}

/** What the document says per path: client events (receive) and server events (send + replies), by event name. */
interface DocEvents {
  readonly client: Map<string, Schema>;
  /** `x-max-frame-bytes` of each client event. */
  readonly frameCaps: Map<string, number | undefined>;
  readonly server: Map<string, Schema>;
  /** Server events named by pattern (`mololink.*`), with their `data` schema. */
  readonly serverPatterns: { pattern: RegExp; data: Schema }[];
  readonly unused: string[];
}

function eventOf(message: Json): { name?: string; pattern?: RegExp; data: Schema; envelope: Schema } {
  const payload = message.payload as Schema;
  const event = payload.properties?.event ?? {};
  return {
    ...(event.const !== undefined ? { name: event.const } : {}),
    ...(event.pattern !== undefined ? { pattern: new RegExp(event.pattern) } : {}),
    data: payload.properties?.data ?? {},
    envelope: payload,
  };
}

function documentEvents(doc: Json): Map<string, DocEvents> {
  const channels = doc.channels as Record<string, Json>;
  const operations = Object.values(doc.operations as Record<string, Json>);
  const byPath = new Map<string, DocEvents>();
  for (const channel of Object.values(channels)) {
    const messages = Object.values(channel.messages as Record<string, Json>);
    const used = new Set<string>();
    const entry: DocEvents = { client: new Map(), frameCaps: new Map(), server: new Map(), serverPatterns: [], unused: [] };
    // The parsed document crosses a process boundary as JSON: compare by address and by content, not identity.
    for (const operation of operations.filter((o) => (o.channel as Json).address === channel.address)) {
      const reply = (operation.reply as Json | undefined)?.messages as Json[] | undefined;
      const groups: [Json[], 'client' | 'server'][] = [
        [operation.messages as Json[], operation.action === 'receive' ? 'client' : 'server'],
        [reply ?? [], 'server'],
      ];
      for (const [list, side] of groups) {
        for (const message of list) {
          used.add(JSON.stringify(message));
          const { name, pattern, data, envelope } = eventOf(message);
          if (pattern) entry.serverPatterns.push({ pattern, data });
          else entry[side].set(name!, name === 'error' ? envelope : data);
          if (side === 'client') entry.frameCaps.set(name!, message['x-max-frame-bytes'] as number | undefined);
        }
      }
    }
    entry.unused.push(...messages.filter((m) => !used.has(JSON.stringify(m))).map((m) => String(m.name)));
    byPath.set(channel.address as string, entry);
  }
  return byPath;
}

/** Differences between a DTO and the schema the document gives for it (fields, required, cheap constraints). */
function compareDto(label: string, dto: DtoShape, schema: Schema): string[] {
  const problems: string[] = [];
  const rules = new Map(Object.entries(dto.fields).map(([k, v]) => [k, { required: v.required, rules: new Map(Object.entries(v.rules)) }]));
  const props = schema.properties ?? {};
  if (schema.additionalProperties !== false) problems.push(`${label}: the server forbids unknown fields, the schema must say additionalProperties: false`);
  const same = (a: string[], b: string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  if (!same([...rules.keys()], Object.keys(props))) problems.push(`${label}: DTO fields [${[...rules.keys()]}] ≠ schema properties [${Object.keys(props)}]`);
  const required = [...rules].filter(([, r]) => r.required).map(([k]) => k);
  if (!same(required, schema.required ?? [])) problems.push(`${label}: DTO required [${required}] ≠ schema required [${schema.required ?? []}]`);
  for (const [field, { rules: r }] of rules) {
    const p = props[field];
    if (!p) continue;
    const expect = (what: string, actual: unknown, wanted: unknown) => {
      if (actual !== wanted) problems.push(`${label}.${field}: ${what} is ${String(actual)} in the schema, ${String(wanted)} in the DTO`);
    };
    const item = p.type === 'array' ? (p.items ?? {}) : p;
    if (r.has('matches')) expect('pattern', item.pattern, r.get('matches')![0]);
    if (r.has('isLength')) {
      expect('minLength', item.minLength, r.get('isLength')![0]);
      expect('maxLength', item.maxLength, r.get('isLength')![1]);
    }
    if (r.has('maxLength')) expect('maxLength', item.maxLength, r.get('maxLength')![0]);
    if (r.has('isNotEmpty')) expect('minLength', item.minLength, 1);
    if (r.has('min')) expect('minimum', p.minimum, r.get('min')![0]);
    if (r.has('max')) expect('maximum', p.maximum, r.get('max')![0]);
    if (r.has('arrayMinSize')) expect('minItems', p.minItems, r.get('arrayMinSize')![0]);
    if (r.has('arrayMaxSize')) expect('maxItems', p.maxItems, r.get('arrayMaxSize')![0]);
    if (r.has('isInt')) expect('type', p.type, 'integer');
    if (r.has('isString')) expect('type', item.type, 'string');
    if (r.has('isObject')) expect('type', p.type, 'object');
    if (r.has('isBoolean')) expect('type', p.type, 'boolean');
    if (r.has('isArray')) expect('type', p.type, 'array');
    if (r.has('maxJsonBytes')) expect('x-max-json-bytes', p['x-max-json-bytes'], r.get('maxJsonBytes')![0]);
  }
  return problems;
}

/** Keys a sample `data` has that the schema does not allow, and required keys it lacks. */
function compareSample(label: string, sample: Record<string, unknown>, schema: Schema): string[] {
  const problems: string[] = [];
  const props = Object.keys(schema.properties ?? {});
  if (schema.additionalProperties === false) {
    for (const key of Object.keys(sample)) if (!props.includes(key)) problems.push(`${label}: the server sends ${key}, the schema does not list it`);
  }
  for (const key of schema.required ?? []) if (!(key in sample)) problems.push(`${label}: the schema requires ${key}, the server does not send it`);
  return problems;
}

describe('docs/asyncapi.yaml', () => {
  let parsed: { diagnostics: Diagnostic[]; json: Json | undefined };
  let code: Map<string, PathEvents>;
  let http: ProtocolTables['http'];
  let doc: Map<string, DocEvents>;

  beforeAll(() => {
    parsed = parseDocument(readFileSync(DOC_PATH, 'utf8'));
    const tables = codeEventTables();
    code = new Map(Object.entries(tables.paths));
    http = tables.http;
    doc = parsed.json ? documentEvents(parsed.json) : new Map();
  }, 60_000);

  it('is an AsyncAPI 3.0.0 document the official parser accepts without an error diagnostic', () => {
    const errors = parsed.diagnostics.filter((d) => d.severity === 0).map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`);
    expect(errors).toEqual([]);
    expect(parsed.json?.asyncapi).toBe('3.0.0');
  });

  it('has one channel per WebSocket path the gateways serve, and no other', () => {
    expect([...doc.keys()].sort()).toEqual([...code.keys()].sort());
    expect(code.size).toBeGreaterThanOrEqual(8);
  });

  it('lists, per path, exactly the events the gateways handle (client → server)', () => {
    for (const [path, events] of code) {
      expect({ path, client: [...(doc.get(path)?.client.keys() ?? [])].sort() }).toEqual({ path, client: Object.keys(events.client).sort() });
    }
  });

  it('lists, per path, every event the server sends (replies, pushes, session events), and none it does not send', () => {
    for (const [path, events] of code) {
      const documented = doc.get(path)!;
      const sent = Object.keys(events.server);
      const missing = sent.filter((e) => !documented.server.has(e) && !documented.serverPatterns.some((p) => p.pattern.test(e)));
      const extra = [...documented.server.keys()].filter((e) => !(e in events.server));
      const unusedPatterns = documented.serverPatterns.filter((p) => !sent.some((e) => p.pattern.test(e))).map((p) => p.pattern.source);
      expect({ path, missing, extra, unusedPatterns, unusedMessages: documented.unused }).toEqual({ path, missing: [], extra: [], unusedPatterns: [], unusedMessages: [] });
    }
  });

  it("describes each client event's data as its DTO does (fields, required fields, patterns, lengths, ranges, no unknown fields) and its frame cap", () => {
    const problems: string[] = [];
    for (const [path, events] of code) {
      for (const [event, { dto, maxFrameBytes }] of Object.entries(events.client)) {
        const schema = doc.get(path)?.client.get(event);
        const cap = doc.get(path)?.frameCaps.get(event);
        if (cap !== (maxFrameBytes ?? undefined)) problems.push(`${path} ${event}: x-max-frame-bytes is ${cap} in the document, ${maxFrameBytes} in the code`);
        if (!dto || !schema) {
          problems.push(`${path} ${event}: ${dto ? 'no schema' : 'no DTO found on the handler'}`);
          continue;
        }
        problems.push(...compareDto(`${path} ${event}`, dto, schema));
      }
    }
    expect(problems).toEqual([]);
  });

  it("describes the data the server sends: every field it sends is in the schema, every required field is sent", () => {
    const problems: string[] = [];
    for (const [path, events] of code) {
      const documented = doc.get(path)!;
      for (const [event, samples] of Object.entries(events.server)) {
        const schema = documented.server.get(event) ?? documented.serverPatterns.find((p) => p.pattern.test(event))?.data;
        for (const sample of samples) if (schema) problems.push(...compareSample(`${path} ${event}`, sample, schema));
      }
    }
    expect(problems).toEqual([]);
    const sampled = [...code.values()].reduce((n, t) => n + Object.values(t.server).filter((s) => s.length > 0).length, 0);
    expect(sampled).toBeGreaterThanOrEqual(30);
  });

  it('describes the HTTP API bodies as their DTOs do (PublishDto, DisconnectDto, RevokeDto)', () => {
    const schemas = (parsed.json?.components as Json).schemas as Record<string, Schema>;
    expect([
      ...compareDto('PublishRequest', http.publish, schemas.PublishRequest!),
      ...compareDto('DisconnectRequest', http.disconnect, schemas.DisconnectRequest!),
      ...compareDto('RevokeRequest', http.revoke, schemas.RevokeRequest!),
    ]).toEqual([]);
  });
});
