import { ErrorCode } from '../../src/protocol/error-codes.js';
import { parseFrame, type FrameParseResult } from '../../src/protocol/frame.js';

function parse(text: string): FrameParseResult {
  return parseFrame(text, Buffer.byteLength(text));
}

function failure(result: FrameParseResult): Exclude<FrameParseResult, { ok: true }> {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.frame)}`);
  return result;
}

describe('parseFrame', () => {
  describe('valid frames', () => {
    it('parses {event, data, id}', () => {
      const text = '{"event":"tracking.subscribe","data":{"trackingId":"SHP-1"},"id":"r1"}';
      expect(parseFrame(text, 123)).toEqual({
        ok: true,
        frame: { event: 'tracking.subscribe', data: { trackingId: 'SHP-1' }, id: 'r1', bytes: 123 },
      });
    });

    it('accepts a Buffer', () => {
      const raw = Buffer.from('{"event":"ping","id":7}');
      const result = parseFrame(raw, raw.length);
      expect(result).toEqual({ ok: true, frame: { event: 'ping', data: {}, id: 7, bytes: raw.length } });
    });

    it('defaults data to {} and id to undefined', () => {
      const result = parse('{"event":"ping"}');
      expect(result.ok && result.frame.data).toEqual({});
      expect(result.ok && result.frame.id).toBeUndefined();
    });

    it.each([['a'], ['x'.repeat(64)], [0], [-5], [Number.MAX_SAFE_INTEGER]])('accepts id %p', (id) => {
      const result = parse(JSON.stringify({ event: 'ping', id }));
      expect(result.ok && result.frame.id).toBe(id);
    });

    it('accepts an event of 128 characters', () => {
      expect(parse(JSON.stringify({ event: 'e'.repeat(128) })).ok).toBe(true);
    });

    it('accepts data whose values merely mention forbidden words', () => {
      const result = parse('{"event":"x","data":{"text":"the constructor of the prototype is __proto__"}}');
      expect(result.ok).toBe(true);
    });
  });

  describe('INVALID_JSON (finding 14)', () => {
    it.each(['', 'not json', '{"event":"x"', "{'event':'x'}", '{"event":"x",}'])('answers %p with INVALID_JSON', (text) => {
      const result = failure(parse(text));
      expect(result.code).toBe(ErrorCode.INVALID_JSON);
      expect(typeof result.message).toBe('string');
      expect(result.id).toBeUndefined();
    });

    it('does not throw on invalid UTF-8 bytes', () => {
      const raw = Buffer.from([0xff, 0xfe, 0x7b]);
      expect(() => parseFrame(raw, raw.length)).not.toThrow();
      expect(failure(parseFrame(raw, raw.length)).code).toBe(ErrorCode.INVALID_JSON);
    });
  });

  describe('INVALID_MESSAGE (finding 14)', () => {
    it.each(['[]', '[{"event":"x"}]', '"event"', '42', 'true', 'null'])('refuses a top-level %s', (text) => {
      const result = failure(parse(text));
      expect(result.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(result.id).toBeUndefined();
    });

    it.each([
      ['an array', '[]'],
      ['a string', '"x"'],
      ['a number', '1'],
      ['null', 'null'],
      ['a boolean', 'false'],
    ])('refuses data that is %s, echoing id and event', (_label, data) => {
      const result = failure(parse(`{"event":"tracking.subscribe","data":${data},"id":"r9"}`));
      expect(result.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(result.id).toBe('r9');
      expect(result.event).toBe('tracking.subscribe');
    });

    it.each([
      ['an empty string', '""'],
      ['a string over 64 characters', JSON.stringify('x'.repeat(65))],
      ['a float', '1.5'],
      ['an unsafe integer', '9007199254740993'],
      ['null', 'null'],
      ['an object', '{}'],
      ['an array', '["a"]'],
      ['a boolean', 'true'],
    ])('refuses an id that is %s, without echoing it', (_label, id) => {
      const result = failure(parse(`{"event":"ping","id":${id}}`));
      expect(result.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(result.id).toBeUndefined();
      expect(result.event).toBe('ping');
    });

    it('refuses a missing event, echoing a valid id', () => {
      const result = failure(parse('{"data":{},"id":"r2"}'));
      expect(result.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(result.id).toBe('r2');
      expect(result.event).toBeUndefined();
    });

    it.each([['""'], ['42'], ['null'], ['{}'], [JSON.stringify('e'.repeat(129))]])('refuses event %s', (event) => {
      const result = failure(parse(`{"event":${event},"id":3}`));
      expect(result.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(result.id).toBe(3);
    });

    it('refuses unknown top-level keys, echoing id and event', () => {
      const result = failure(parse('{"event":"ping","id":"r3","userId":"admin"}'));
      expect(result.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(result.id).toBe('r3');
      expect(result.event).toBe('ping');
      expect(result.message).toMatch(/unknown frame field/);
    });
  });

  describe('prototype pollution', () => {
    afterEach(() => {
      delete (Object.prototype as Record<string, unknown>).polluted;
    });

    it('a top-level __proto__ key is an unknown field and does not touch Object.prototype', () => {
      const result = failure(parse('{"event":"ping","__proto__":{"polluted":true}}'));
      expect(result.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(result.event).toBe('ping');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it.each([
      ['__proto__ in data', '{"__proto__":{"polluted":true}}'],
      ['constructor in data', '{"constructor":{"prototype":{"polluted":true}}}'],
      ['prototype in data', '{"prototype":{"polluted":true}}'],
      ['__proto__ nested', '{"a":{"b":[{"__proto__":{"polluted":true}}]}}'],
    ])('%s: refused with INVALID_MESSAGE, Object.prototype untouched', (_label, data) => {
      const result = failure(parse(`{"event":"room.broadcast","data":${data},"id":"p1"}`));
      expect(result.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(result.id).toBe('p1');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    });

    it('JSON.parse keeps a __proto__ key as an own property, so data keeps Object.prototype as its prototype', () => {
      // Guards the assumption the frame checks rely on: the key never becomes the prototype.
      const data = (JSON.parse('{"event":"x","data":{"__proto__":{"polluted":true}}}') as { data: object }).data;
      expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
      expect(Object.keys(data)).toEqual(['__proto__']);
    });
  });

  describe('never throws (finding 14)', () => {
    // About 60 KB: under the default WS_MAX_PAYLOAD_BYTES (65536), so it reaches parseFrame.
    const depth = 30_000;
    const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;

    it('answers a deeply nested frame that holds a forbidden key instead of throwing', () => {
      const text = `{"event":"x","id":"d1","data":{"a":${deep},"constructor":1}}`;
      expect(Buffer.byteLength(text)).toBeLessThan(65_536);
      let result: FrameParseResult | undefined;
      expect(() => {
        result = parse(text);
      }).not.toThrow();
      expect(result && failure(result).code).toBe(ErrorCode.INVALID_MESSAGE);
    });

    it('finding 21: answers data nested deeper than 32 levels with INVALID_MESSAGE instead of throwing', () => {
      const text = `{"event":"x","data":{"a":${deep},"b":"constructor"}}`;
      expect(Buffer.byteLength(text)).toBeLessThan(65_536);
      let result: FrameParseResult | undefined;
      expect(() => {
        result = parse(text);
      }).not.toThrow();
      expect(result && failure(result).message).toMatch(/deeper than 32/);
    });

    it('accepts data nested exactly 32 levels deep (the data object is level 1)', () => {
      const nested = '['.repeat(31) + ']'.repeat(31);
      const result = parse(`{"event":"x","data":{"a":${nested}}}`);
      expect(result.ok).toBe(true);
      const tooDeep = parse(`{"event":"x","data":{"a":[${nested}]}}`);
      expect(tooDeep.ok).toBe(false);
    });
  });

  describe('forbidden keys spelled with JSON escapes (finding 6)', () => {
    it.each(['\\u005f_proto__', 'constructo\\u0072', 'prot\\u006ftype'])('refuses %s', (escaped) => {
      const result = parse(`{"event":"x","data":{"a":{"${escaped}":{"polluted":true}}}}`);
      expect(result.ok).toBe(false);
      expect(failure(result).code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });
});
