import type { IncomingMessage } from 'node:http';
import { clientIp } from '../../src/common/client-ip.js';

function request(remoteAddress: string | undefined, xff?: string | string[]): IncomingMessage {
  const headers: Record<string, string | string[]> = {};
  if (xff !== undefined) headers['x-forwarded-for'] = xff;
  return { socket: { remoteAddress }, headers } as unknown as IncomingMessage;
}

describe('clientIp', () => {
  it('uses the socket peer when no proxy is trusted, ignoring X-Forwarded-For', () => {
    expect(clientIp(request('10.0.0.1', '1.2.3.4'), 0)).toBe('10.0.0.1');
  });

  it('trustProxy=1 takes the last X-Forwarded-For entry (the one the nearest proxy added)', () => {
    expect(clientIp(request('10.0.0.1', '6.6.6.6, 1.2.3.4'), 1)).toBe('1.2.3.4');
  });

  it('trustProxy=2 takes the second entry from the end; a spoofed leading entry is ignored', () => {
    expect(clientIp(request('10.0.0.1', 'spoofed, 1.2.3.4, 172.16.0.9'), 2)).toBe('1.2.3.4');
  });

  it('with more trusted hops than entries, takes the first entry', () => {
    expect(clientIp(request('10.0.0.1', '1.2.3.4, 172.16.0.9'), 5)).toBe('1.2.3.4');
  });

  it('falls back to the peer when the header is missing or empty', () => {
    expect(clientIp(request('10.0.0.1'), 1)).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', ''), 1)).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', ' , ,'), 1)).toBe('10.0.0.1');
  });

  it('trims entries and skips empty ones', () => {
    expect(clientIp(request('10.0.0.1', '  1.2.3.4  ,  ,'), 1)).toBe('1.2.3.4');
  });

  it('joins repeated X-Forwarded-For headers in order', () => {
    expect(clientIp(request('10.0.0.1', ['6.6.6.6', '1.2.3.4, 5.5.5.5']), 2)).toBe('1.2.3.4');
  });

  it('refuses an entry longer than 64 characters and uses the peer instead', () => {
    expect(clientIp(request('10.0.0.1', 'x'.repeat(65)), 1)).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', 'x'.repeat(64)), 1)).toBe('x'.repeat(64));
  });

  it('reports "unknown" when the socket has no address', () => {
    expect(clientIp(request(undefined), 0)).toBe('unknown');
    expect(clientIp(request(undefined, '1.2.3.4'), 1)).toBe('1.2.3.4');
  });
});
