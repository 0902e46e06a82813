import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';

/** Per-IP key of a socket with no address at all (never produced for a valid address). */
export const UNKNOWN_IP = 'unknown';

/**
 * The client key used for every per-IP limit (docs/protocol.md §2.4 and §11): the socket
 * peer, or, behind `trustProxy` hops of proxies, the address that many hops back in
 * X-Forwarded-For, always canonical so that one client has one key (finding R4):
 * `::ffff:a.b.c.d` is the IPv4 address, zone ids are dropped, and other IPv6 addresses are
 * grouped by their first `ipv6PrefixBits` bits (one subscriber usually holds a whole /64).
 * A forwarded hop that is not a valid IP address counts as the peer: free text must not
 * mint a fresh bucket per request.
 */
export function clientIp(request: IncomingMessage, trustProxy: number, ipv6PrefixBits = 64): string {
  const peer = canonicalIp(request.socket.remoteAddress ?? '', ipv6PrefixBits) ?? UNKNOWN_IP;
  if (trustProxy < 1) return peer;
  const header = request.headers['x-forwarded-for'];
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw) return peer;
  const hops = raw.split(',').map((h) => h.trim()).filter(Boolean);
  if (hops.length === 0) return peer;
  // The last entry was added by the nearest proxy; N trusted hops means the Nth from the end.
  const candidate = hops[Math.max(0, hops.length - trustProxy)]!;
  return canonicalIp(candidate, ipv6PrefixBits) ?? peer;
}

/** Longest textual IPv6 address with a zone id we bother to parse. */
const MAX_ADDRESS_CHARS = 64;

/**
 * The canonical per-IP key of `text`, or undefined when it is not an IP address: dotted
 * IPv4 as is, IPv4-mapped IPv6 as its IPv4 address, other IPv6 as `<prefix>/<bits>` in
 * expanded lowercase hex with the bits beyond the prefix cleared.
 */
export function canonicalIp(text: string, ipv6PrefixBits: number): string | undefined {
  if (text.length === 0 || text.length > MAX_ADDRESS_CHARS) return undefined;
  if (isIPv4(text)) return text;
  const percent = text.indexOf('%');
  const address = percent < 0 ? text : text.slice(0, percent);
  if (!isIPv6(address)) return undefined;
  const groups = ipv6Groups(address.toLowerCase());
  if (groups === undefined) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  const bits = Math.max(0, Math.min(128, Math.trunc(ipv6PrefixBits)));
  const masked = groups.map((group, index) => {
    const keep = Math.max(0, Math.min(16, bits - index * 16));
    return keep === 0 ? 0 : group & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `${masked.map((g) => g.toString(16)).join(':')}/${bits}`;
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded dotted IPv4 tail included). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    if (!isIPv4(last)) return undefined;
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}
