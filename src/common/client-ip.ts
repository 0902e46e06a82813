import type { IncomingMessage } from 'node:http';

/**
 * The client address used for per-IP limits: the socket peer, or, behind `trustProxy` hops
 * of proxies, the address that many hops back in X-Forwarded-For (docs/protocol.md §2.4).
 */
export function clientIp(request: IncomingMessage, trustProxy: number): string {
  const peer = request.socket.remoteAddress ?? 'unknown';
  if (trustProxy < 1) return peer;
  const header = request.headers['x-forwarded-for'];
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw) return peer;
  const hops = raw.split(',').map((h) => h.trim()).filter(Boolean);
  // The last entry was added by the nearest proxy; N trusted hops means the Nth from the end.
  const candidate = hops[Math.max(0, hops.length - trustProxy)];
  return candidate && candidate.length <= 64 ? candidate : peer;
}
