import type { IncomingMessage } from 'node:http';

/** Where a handshake credential came from; `query` only when ALLOW_QUERY_TOKEN is on. */
export type CredentialSource = 'header' | 'cookie' | 'query';

export interface HandshakeCredentials {
  readonly token?: string;
  readonly source?: CredentialSource;
  /** A `token` query parameter was present (whether or not it was used). */
  readonly queryTokenPresent: boolean;
  /**
   * The credentials cookie came more than once: refused (401), since a sibling subdomain can
   * plant a second cookie of the same name and browsers send both in no reliable order.
   */
  readonly duplicateCookie?: true;
}

/** Every value of cookie `name` in a Cookie header, in header order. */
function cookieValues(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (!header) return values;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      values.push(decodeURIComponent(raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw));
    } catch {
      values.push(raw);
    }
  }
  return values;
}

/** Credentials in contract order (docs/protocol.md §2.5): Authorization header, then cookie, then query (opt-in). */
export function extractCredentials(
  request: IncomingMessage,
  url: URL,
  cookieName: string,
  allowQueryToken: boolean,
): HandshakeCredentials {
  const queryToken = url.searchParams.get('token');
  const queryTokenPresent = queryToken !== null;
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    // A malformed Authorization header is a credential that fails, not an absent one.
    return { token: match?.[1] ?? '', source: 'header', queryTokenPresent };
  }
  // `__Host-` names (the recommendation) are plain names here: the browser enforces the prefix.
  const cookies = cookieValues(request.headers.cookie, cookieName);
  if (cookies.length > 1) return { token: '', source: 'cookie', queryTokenPresent, duplicateCookie: true };
  if (cookies.length === 1) return { token: cookies[0]!, source: 'cookie', queryTokenPresent };
  if (allowQueryToken && queryToken !== null) return { token: queryToken, source: 'query', queryTokenPresent };
  return { queryTokenPresent };
}
