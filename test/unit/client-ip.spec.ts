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

  it('R4: a hop that is not a valid IP address counts as the peer (any length)', () => {
    expect(clientIp(request('10.0.0.1', 'x'.repeat(65)), 1)).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', 'x'.repeat(64)), 1)).toBe('10.0.0.1');
    for (const garbage of ['garbage', '1.2.3', '1.2.3.4.5', '999.1.1.1', '1.2.3.4:80', '[::1]', '::1::2', 'unknown', '01.2.3.4']) {
      expect(clientIp(request('10.0.0.1', garbage), 1)).toBe('10.0.0.1');
    }
  });

  it('R4: IPv4-mapped IPv6 is the IPv4 address, in both notations, as peer and as hop', () => {
    expect(clientIp(request('::ffff:127.0.0.1'), 0)).toBe('127.0.0.1');
    expect(clientIp(request('10.0.0.1', '::ffff:1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientIp(request('10.0.0.1', '::FFFF:0102:0304'), 1)).toBe('1.2.3.4');
    expect(clientIp(request('10.0.0.1', '0:0:0:0:0:ffff:1.2.3.4'), 1)).toBe('1.2.3.4');
  });

  it('R4: IPv6 addresses are grouped by their first 64 bits by default, zone ids dropped, any spelling', () => {
    const key = clientIp(request('2001:db8:1:2::1'), 0);
    expect(key).toBe('2001:db8:1:2:0:0:0:0/64');
    for (const same of ['2001:DB8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002::abcd', '2001:db8:1:2::1%eth0', '2001:db8:1:2:0:0:1.2.3.4']) {
      expect(clientIp(request('10.0.0.1', same), 1)).toBe(key);
    }
    expect(clientIp(request('2001:db8:1:3::1'), 0)).not.toBe(key);
    expect(clientIp(request('::1'), 0)).toBe('0:0:0:0:0:0:0:0/64');
  });

  it('R4: the prefix length is configurable (WS_IPV6_PREFIX_BITS)', () => {
    expect(clientIp(request('2001:db8:1:2::1'), 0, 48)).toBe('2001:db8:1:0:0:0:0:0/48');
    expect(clientIp(request('2001:db8:1:2::1'), 0, 128)).toBe('2001:db8:1:2:0:0:0:1/128');
    expect(clientIp(request('2001:db8:1:2::1'), 0, 56)).toBe(clientIp(request('2001:db8:1:ff::1'), 0, 56));
    expect(clientIp(request('2001:db8:1:2::1'), 0, 56)).not.toBe(clientIp(request('2001:db8:1:100::1'), 0, 56));
  });

  it('reports "unknown" when the socket has no address', () => {
    expect(clientIp(request(undefined), 0)).toBe('unknown');
    expect(clientIp(request(undefined, '1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientIp(request(undefined, 'garbage'), 1)).toBe('unknown');
  });
});
