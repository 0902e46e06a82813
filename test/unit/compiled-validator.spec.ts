/**
 * The compiled PublishDto check (src/pipes/compiled-validator.ts) against class-validator
 * itself with the HTTP API's options: it may refuse what class-validator would accept (that
 * body then goes through class-validator), but must never accept what it refuses.
 */
import 'reflect-metadata';
import fc from 'fast-check';
import { plainToInstance } from 'class-transformer';
import { IsString, validateSync, ValidateNested } from 'class-validator';
import { compileValidator } from '../../src/pipes/compiled-validator.js';
import { STRICT_VALIDATION } from '../../src/pipes/validation-details.js';
import { DisconnectDto, PublishDto, RevokeDto } from '../../src/http/dto/publish.dto.js';

const classValidatorAccepts = (dto: new () => object, body: unknown): boolean =>
  validateSync(plainToInstance(dto, body as object), STRICT_VALIDATION).length === 0;

const anyValue = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(fc.string()), fc.dictionary(fc.string(), fc.string()));
/** Mostly well-formed values, sometimes anything: both verdicts are reached often. */
const mostly = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: anyValue, weight: 1 });
const publishBody = fc
  .tuple(
    fc.record(
      {
        namespace: mostly(fc.constantFrom('tracking', 'projects', 'notifications', 'mololink', 'main', 'weather', '')),
        topic: mostly(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{0,70}$/), fc.string())),
        userIds: mostly(fc.array(fc.string({ minLength: 0, maxLength: 300 }), { maxLength: 3 })),
        roles: mostly(fc.array(fc.string({ maxLength: 130 }), { maxLength: 3 })),
        all: mostly(fc.boolean()),
        event: mostly(fc.string({ maxLength: 130 })),
        data: mostly(fc.dictionary(fc.string(), fc.jsonValue())),
      },
      { requiredKeys: [] },
    ),
    fc.option(fc.dictionary(fc.string({ maxLength: 8 }), anyValue, { maxKeys: 1 }), { freq: 8 }),
  )
  .map(([body, extra]) => ({ ...body, ...extra }));

test('PublishDto compiles; its verdict never accepts what class-validator refuses, and agrees on nearly every body', () => {
  const valid = compileValidator(PublishDto)!;
  expect(valid).toBeDefined();
  let accepted = 0;
  let disagreed = 0;
  const runs = 3000;
  fc.assert(
    fc.property(publishBody, (body) => {
      const expected = classValidatorAccepts(PublishDto, body);
      const verdict = valid(body);
      if (verdict) expect(expected).toBe(true);
      if (verdict !== expected) disagreed += 1;
      if (expected) accepted += 1;
    }),
    { numRuns: runs },
  );
  // Both verdicts are reached; a refusal class-validator overturns only costs time.
  expect(accepted).toBeGreaterThan(runs / 50);
  expect(disagreed).toBeLessThan(runs / 100);
});

test.each([
  ['a valid tracking publish', { namespace: 'tracking', topic: 'SHP-1', data: { a: 1 } }, true],
  ['an unknown field', { namespace: 'main', data: {}, extra: 1 }, false],
  ['a bad topic', { namespace: 'tracking', topic: 'no spaces!' }, false],
  ['userIds with an empty string', { namespace: 'notifications', userIds: [''] }, false],
  ['an empty userIds array', { namespace: 'notifications', userIds: [] }, false],
  ['null optional fields', { namespace: 'main', topic: null, data: null }, true],
  ['data as an array', { namespace: 'main', data: ['x'] }, false],
  ['an array body', [{ namespace: 'main' }], false],
])('%s: compiled verdict %s, as class-validator', (_name, body, verdict) => {
  expect(compileValidator(PublishDto)!(body)).toBe(verdict);
  if (!Array.isArray(body)) expect(classValidatorAccepts(PublishDto, body)).toBe(verdict);
});

test('a "__proto__" key of a parsed body is refused by the compiled check (class-validator then decides)', () => {
  expect(compileValidator(PublishDto)!(JSON.parse('{"namespace":"main","__proto__":{"x":1}}'))).toBe(false);
});

test('the other HTTP DTOs compile and agree on a few bodies', () => {
  for (const [dto, body, verdict] of [
    [DisconnectDto, { userId: 'u' }, true],
    [DisconnectDto, { userId: '' }, false],
    [RevokeDto, { jti: 'j', userId: 'u' }, true],
    [RevokeDto, { jti: 5 }, false],
  ] as const) {
    expect(compileValidator(dto)!(body)).toBe(verdict);
    expect(classValidatorAccepts(dto, body)).toBe(verdict);
  }
});

test('a DTO with a rule it does not model (nested validation) is not compiled', () => {
  class Inner {
    @IsString()
    name!: string;
  }
  class Outer {
    @ValidateNested()
    inner!: Inner;
  }
  expect(compileValidator(Inner)).toBeDefined();
  expect(compileValidator(Outer)).toBeUndefined();
});
