import type { IncomingMessage } from 'node:http';
import { extractCredentials } from '../../src/auth/credentials.js';

interface Input {
  authorization?: string;
  cookie?: string;
  query?: string;
}

function extract(input: Input, allowQueryToken = false, cookieName = 'access_token') {
  const headers: Record<string, string> = {};
  if (input.authorization !== undefined) headers.authorization = input.authorization;
  if (input.cookie !== undefined) headers.cookie = input.cookie;
  const request = { headers } as unknown as IncomingMessage;
  const url = new URL(`http://localhost/ws/main${input.query ?? ''}`);
  return extractCredentials(request, url, cookieName, allowQueryToken);
}

describe('extractCredentials', () => {
  it('returns no token and no source when nothing is offered', () => {
    expect(extract({})).toEqual({ queryTokenPresent: false });
  });

  describe('Authorization header', () => {
    it('reads a Bearer token', () => {
      expect(extract({ authorization: 'Bearer abc.def.ghi' })).toEqual({ token: 'abc.def.ghi', source: 'header', queryTokenPresent: false });
    });

    it('is case-insensitive on the scheme and tolerates extra whitespace', () => {
      expect(extract({ authorization: 'bearer    abc  ' }).token).toBe('abc');
      expect(extract({ authorization: 'BEARER\tabc' }).token).toBe('abc');
    });

    it.each(['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'Bearer a b', 'abc', '', 'Bearerabc'])(
      'a malformed header %p is an empty token from the header, not an absent credential',
      (authorization) => {
        expect(extract({ authorization, cookie: 'access_token=fromcookie' }, true)).toEqual({
          token: '',
          source: 'header',
          queryTokenPresent: false,
        });
      },
    );
  });

  describe('precedence: header > cookie > query', () => {
    it('header wins over cookie and query', () => {
      const result = extract({ authorization: 'Bearer h', cookie: 'access_token=c', query: '?token=q' }, true);
      expect(result).toEqual({ token: 'h', source: 'header', queryTokenPresent: true });
    });

    it('cookie wins over query', () => {
      const result = extract({ cookie: 'access_token=c', query: '?token=q' }, true);
      expect(result).toEqual({ token: 'c', source: 'cookie', queryTokenPresent: true });
    });

    it('query is used last, only when allowed', () => {
      expect(extract({ query: '?token=q' }, true)).toEqual({ token: 'q', source: 'query', queryTokenPresent: true });
    });
  });

  describe('query token (finding 2)', () => {
    it('is ignored when ALLOW_QUERY_TOKEN is off, but reported as present', () => {
      const result = extract({ query: '?token=secret' }, false);
      expect(result.token).toBeUndefined();
      expect(result.source).toBeUndefined();
      expect(result.queryTokenPresent).toBe(true);
    });

    it('is reported as present even when empty', () => {
      expect(extract({ query: '?token=' }).queryTokenPresent).toBe(true);
    });

    it('other query parameters do not count', () => {
      expect(extract({ query: '?access_token=x&tok=y' }, true)).toEqual({ queryTokenPresent: false });
    });
  });

  describe('cookie', () => {
    it('finds the named cookie among others', () => {
      expect(extract({ cookie: 'theme=dark; access_token=tok; lang=en' }).token).toBe('tok');
    });

    it('matches the exact name, not a prefix or suffix', () => {
      expect(extract({ cookie: 'xaccess_token=bad; access_token_old=bad2; access_token=good' }).token).toBe('good');
      expect(extract({ cookie: 'xaccess_token=bad; access_token_old=bad2' })).toEqual({ queryTokenPresent: false });
    });

    it('uses the configured cookie name', () => {
      expect(extract({ cookie: 'access_token=default; sid=custom' }, false, 'sid')).toEqual({
        token: 'custom',
        source: 'cookie',
        queryTokenPresent: false,
      });
    });

    it('decodes percent-encoding and strips quotes', () => {
      expect(extract({ cookie: 'access_token=a%2Eb%20c' }).token).toBe('a.b c');
      expect(extract({ cookie: 'access_token="quoted"' }).token).toBe('quoted');
    });

    it('keeps a value with broken percent-encoding as is instead of throwing', () => {
      expect(extract({ cookie: 'access_token=abc%E0%A4%A' }).token).toBe('abc%E0%A4%A');
    });

    it('keeps "=" inside the value', () => {
      expect(extract({ cookie: 'access_token=a=b==' }).token).toBe('a=b==');
    });

    it('skips parts without "="', () => {
      expect(extract({ cookie: 'garbage; access_token=tok' }).token).toBe('tok');
    });
  });

  describe('R11: duplicate credentials cookie and __Host- names', () => {
    it('R11: the credentials cookie sent twice is a failed credential (401), whatever the values', () => {
      expect(extract({ cookie: 'access_token=a; access_token=b' })).toEqual({ token: '', source: 'cookie', queryTokenPresent: false, duplicateCookie: true });
      expect(extract({ cookie: 'access_token=a; other=1; access_token=a' }).duplicateCookie).toBe(true);
    });

    it('R11: one credentials cookie among others is read as before; a header still wins over duplicates', () => {
      expect(extract({ cookie: 'x=1; access_token=a; access_tokenx=2' })).toEqual({ token: 'a', source: 'cookie', queryTokenPresent: false });
      expect(extract({ authorization: 'Bearer h', cookie: 'access_token=a; access_token=b' })).toEqual({ token: 'h', source: 'header', queryTokenPresent: false });
    });

    it('R11: a __Host- cookie name is supported; the unprefixed cookie of a sibling subdomain is not read for it', () => {
      expect(extract({ cookie: 'access_token=planted; __Host-access_token=real' }, false, '__Host-access_token')).toEqual({ token: 'real', source: 'cookie', queryTokenPresent: false });
      expect(extract({ cookie: 'access_token=planted' }, false, '__Host-access_token')).toEqual({ queryTokenPresent: false });
    });
  });
});
