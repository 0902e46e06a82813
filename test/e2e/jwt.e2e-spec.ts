/**
 * JWT verification at the handshake and in-band (docs/protocol.md §2.5, §4, §9; findings 1, 16, 19):
 * pinned algorithms, required claims, issuer/audience, and one identical 401 for every failure.
 */
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { handshakeStatus, SECRET, type ServerHandle, startServer, token } from '../support/harness.js';
import { BODY, bearer, ClientPool, craftJwt, expectAlive, expectError, nowSec } from '../support/e2e-helpers.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'realtime-e2e';
const OTHER_SECRET = 'another-secret-0123456789-abcdefghijklmnop';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

let hs: ServerHandle; // HS256 with issuer and audience
let rs: ServerHandle; // RS256 public key
let es: ServerHandle; // ES256 public key
const onHs = new ClientPool(() => hs);
const onRs = new ClientPool(() => rs);
const onEs = new ClientPool(() => es);

beforeAll(async () => {
  [hs, rs, es] = await Promise.all([
    startServer({ options: { jwt: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE }, rateBurst: 200, ratePerSec: 200, anonRateBurst: 200, anonRatePerSec: 200 } }),
    startServer({ options: { jwt: { publicKey: rsa.publicKey } } }),
    startServer({ options: { jwt: { publicKey: ec.publicKey } } }),
  ]);
});

afterEach(async () => {
  await Promise.all([onHs.drain(), onRs.drain(), onEs.drain()]);
});

afterAll(async () => {
  await Promise.all([hs, rs, es].map((s) => s?.stop()));
});

/** Claims that pass on the HS server unless a case overrides them. */
const base = (): Record<string, unknown> => ({ sub: 'victim', iss: ISSUER, aud: AUDIENCE, iat: nowSec(), exp: nowSec() + 600 });
const good = (claims: Record<string, unknown> = {}): string => token({ ...base(), ...claims });
const without = (key: string): Record<string, unknown> => {
  const claims = base();
  delete claims[key];
  return claims;
};

function tampered(): string {
  const [header, , signature] = good().split('.');
  const payload = Buffer.from(JSON.stringify({ ...base(), sub: 'admin', roles: ['admin'] })).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Every attack of the issue's "How it is proven" list, and a few more. */
const attacks: ReadonlyArray<readonly [string, () => string]> = [
  ['alg none (unsigned)', () => craftJwt({ alg: 'none', typ: 'JWT' }, base(), null)],
  ['alg "None" with a signature of the right secret', () => craftJwt({ alg: 'None', typ: 'JWT' }, base(), SECRET)],
  ['a token signed with another secret', () => token(base(), { secret: OTHER_SECRET })],
  ['RS256 against the HS256 server', () => jwt.sign(base(), rsa.privateKey, { algorithm: 'RS256' })],
  ['HS512 with the right secret (algorithm not pinned)', () => jwt.sign(base(), SECRET, { algorithm: 'HS512' })],
  ['a wrong iss', () => good({ iss: 'https://evil.test' })],
  ['a missing iss', () => token(without('iss'))],
  ['a wrong aud', () => good({ aud: 'someone-else' })],
  ['a missing aud', () => token(without('aud'))],
  ['a missing exp', () => craftJwt({ alg: 'HS256', typ: 'JWT' }, without('exp'), SECRET)],
  ['an expired token (beyond the 5 s tolerance)', () => good({ exp: nowSec() - 60, iat: nowSec() - 120 })],
  ['nbf in the future (beyond the 5 s tolerance)', () => good({ nbf: nowSec() + 60 })],
  ['a missing sub', () => craftJwt({ alg: 'HS256', typ: 'JWT' }, without('sub'), SECRET)],
  ['an empty sub', () => good({ sub: '' })],
  ['a tampered payload', tampered],
  ['an oversized token (> 8 KiB, validly signed)', () => good({ pad: 'x'.repeat(9000) })],
  ['a token that is not a JWT', () => 'not-a-jwt'],
  ['a truncated token (no signature part)', () => good().split('.').slice(0, 2).join('.')],
];

describe('HS256 server with JWT_ISSUER and JWT_AUDIENCE', () => {
  test('control: a valid token is accepted and its sub becomes userId', async () => {
    const client = await onHs.open('/ws/tracking', bearer(good({ sub: 'alice', name: 'Alice A.' })));
    expect(client.connected?.data).toMatchObject({ authenticated: true, userId: 'alice' });
    const exact = await handshakeStatus(hs.ws('/ws/main'), bearer(good({ pad: 'x'.repeat(5500) })));
    expect(exact.status).toBe(101);
  });

  test.each(attacks)('finding 1/19: %s is refused at the handshake with the identical 401 body', async (_name, make) => {
    const res = await handshakeStatus(hs.ws('/ws/tracking'), bearer(make()));
    expect(res.status).toBe(401);
    expect(res.body).toBe(BODY[401]);
  });

  test('finding 19: the same attacks in the access_token cookie get the identical 401 body', async () => {
    for (const [, make] of attacks.filter(([name]) => !name.startsWith('an oversized'))) {
      const res = await handshakeStatus(hs.ws('/ws/main'), { headers: { cookie: `access_token=${make()}` } });
      expect(res.status).toBe(401);
      expect(res.body).toBe(BODY[401]);
    }
  });

  test.each([
    ['"Bearer" without a token', 'Bearer'],
    ['"Bearer " with an empty token', 'Bearer '],
    ['"Bearer not.a.jwt"', 'Bearer not.a.jwt'],
    ['a valid JWT under the "Token" scheme', `Token ${token({ sub: 'x', iss: ISSUER, aud: AUDIENCE })}`],
    ['"Bearer <a> <b>" with two parts', `Bearer ${'a'.repeat(20)} extra`],
    ['Basic credentials', 'Basic dXNlcjpwYXNz'],
  ])(
    'finding 19: a malformed Authorization header (%s) is refused with the identical 401 body',
    async (_label, authorization) => {
      const res = await handshakeStatus(hs.ws('/ws/tracking'), { headers: { authorization } });
      expect(res.status).toBe(401);
      expect(res.body).toBe(BODY[401]);
    },
  );

  test('finding 16/19: in-band auth with each attack token answers the identical UNAUTHORIZED envelope and stays anonymous', async () => {
    const client = await onHs.open('/ws/main');
    for (const [name, make] of attacks) {
      const reply = await client.call('auth', { token: make() }, `auth-${attacks.findIndex(([n]) => n === name)}`);
      if (name.startsWith('an oversized')) {
        // The auth frame itself is over the 4 KiB cap of `auth` (finding 10).
        expect(reply.code).toBe('PAYLOAD_TOO_LARGE');
      } else {
        expectError(reply, 'UNAUTHORIZED', { request: 'auth' });
      }
    }
    await expectAlive(client);
    expectError(await client.call('auth.refresh', { token: good() }), 'UNAUTHORIZED');
  });
});

describe('RS256 server (JWT_PUBLIC_KEY, RSA)', () => {
  test('a token signed with the matching private key is accepted', async () => {
    const jwtRs = jwt.sign({ sub: 'rsa-user', name: 'R' }, rsa.privateKey, { algorithm: 'RS256', expiresIn: 600 });
    const client = await onRs.open('/ws/main', bearer(jwtRs));
    expect(client.connected?.data).toMatchObject({ authenticated: true, userId: 'rsa-user' });
  });

  test.each([
    ['key confusion: HS256 signed with the public key PEM as secret', () => craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub: 'x', exp: nowSec() + 600 }, rsa.publicKey)],
    ['RS256 signed by another RSA key', () => jwt.sign({ sub: 'x' }, otherRsa.privateKey, { algorithm: 'RS256', expiresIn: 600 })],
    ['ES256 against the RS256 server', () => jwt.sign({ sub: 'x' }, ec.privateKey, { algorithm: 'ES256', expiresIn: 600 })],
    ['alg none', () => craftJwt({ alg: 'none' }, { sub: 'x', exp: nowSec() + 600 }, null)],
    ['HS256 with the harness secret', () => token({ sub: 'x' })],
  ] as const)('finding 1/19: %s is refused with the identical 401 body', async (_name, make) => {
    const res = await handshakeStatus(rs.ws('/ws/tracking'), bearer(make()));
    expect(res.status).toBe(401);
    expect(res.body).toBe(BODY[401]);
  });
});

describe('ES256 server (JWT_PUBLIC_KEY, P-256)', () => {
  test('a token signed with the matching private key is accepted', async () => {
    const jwtEs = jwt.sign({ sub: 'ec-user' }, ec.privateKey, { algorithm: 'ES256', expiresIn: 600 });
    const client = await onEs.open('/ws/tracking', bearer(jwtEs));
    expect(client.connected?.data).toMatchObject({ authenticated: true, userId: 'ec-user' });
  });

  test.each([
    ['key confusion: HS256 signed with the public key PEM as secret', () => craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub: 'x', exp: nowSec() + 600 }, ec.publicKey)],
    ['RS256 against the ES256 server', () => jwt.sign({ sub: 'x' }, rsa.privateKey, { algorithm: 'RS256', expiresIn: 600 })],
    ['ES256 signed by another P-256 key', () => jwt.sign({ sub: 'x' }, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { algorithm: 'ES256', expiresIn: 600 })],
    ['ES256 without exp', () => jwt.sign({ sub: 'x' }, ec.privateKey, { algorithm: 'ES256' })],
  ] as const)('finding 1/19: %s is refused with the identical 401 body', async (_name, make) => {
    const res = await handshakeStatus(es.ws('/ws/main'), bearer(make()));
    expect(res.status).toBe(401);
    expect(res.body).toBe(BODY[401]);
  });
});
