import { Client, type ServerHandle, sleep, startServer, token } from '../support/harness.js';

let server: ServerHandle;
beforeAll(async () => {
  server = await startServer({ options: { revalidateIntervalMs: 200 } });
});
afterAll(async () => {
  await server.stop();
});

test('finding 17: a token revoked in the store is caught by periodic revalidation and closed with 4401', async () => {
  const revoked = await Client.open(server.ws('/ws/tracking'), { headers: { authorization: `Bearer ${token({ sub: 'r1', jti: 'jti-revoked' })}` } });
  const other = await Client.open(server.ws('/ws/tracking'), { headers: { authorization: `Bearer ${token({ sub: 'r2', jti: 'jti-kept' })}` } });
  await server.request({ cmd: 'revokeInStoreOnly', jti: 'jti-revoked' });
  expect((await revoked.waitClose(3000)).code).toBe(4401);
  // The connection with another token id is untouched and still answers.
  expect((await other.call('ping', {})).event).toBe('pong');
  other.close();
});

describe('R7: periodic revalidation survives a flaky, slow revocation store', () => {
  const open = (s: ServerHandle, sub: string, jti: string) =>
    Client.open(s.ws('/ws/tracking'), { headers: { authorization: `Bearer ${token({ sub, jti })}` } });

  test('R7: a store that fails every third call still revokes everyone revoked; the rest stay; failures are counted, runs go on', async () => {
    const flaky = await startServer({ options: { revalidateIntervalMs: 150 }, revocationFaults: { failEvery: 3 } });
    try {
      // Kept connections first: the old loop stopped at the first failure (the third check) every run,
      // so the revoked tail behind them was never reached.
      const kept = await Promise.all(Array.from({ length: 9 }, (_, i) => open(flaky, `keep-${i}`, `jti-keep-${i}`)));
      const revoked = await Promise.all(Array.from({ length: 9 }, (_, i) => open(flaky, `gone-${i}`, `jti-gone-${i}`)));
      await flaky.request({ cmd: 'armRevocationFaults' });
      for (let i = 0; i < 9; i += 1) await flaky.request({ cmd: 'revokeInStoreOnly', jti: `jti-gone-${i}` });
      const codes = await Promise.all(revoked.map(async (c) => (await c.waitClose(5000)).code));
      expect(codes).toEqual(revoked.map(() => 4401));
      for (const c of kept) expect((await c.call('ping', {})).event).toBe('pong');
      const stats = await flaky.stats();
      expect(stats.lifecycle.revalidation.failures).toBeGreaterThan(0);
      expect(stats.lifecycle.revalidation.runs).toBeGreaterThan(1);
      expect(stats.revocationStore!.calls).toBeGreaterThanOrEqual(18);
      for (const c of kept) c.close();
    } finally {
      await flaky.stop();
    }
  });

  test('R7: one store call per distinct token however many connections share it, and runs never overlap with a slow store', async () => {
    // Checks take 400 ms, the interval is 50 ms: without single flight eight runs would be in flight at once.
    const slow = await startServer({ options: { revalidateIntervalMs: 50 }, revocationFaults: { delayMs: 400 } });
    try {
      const tabs = await Promise.all(Array.from({ length: 6 }, () => open(slow, 'many-tabs', 'jti-shared')));
      const single = await open(slow, 'single', 'jti-single');
      await slow.request({ cmd: 'armRevocationFaults' });
      const before = (await slow.stats()).lifecycle.revalidation;
      await sleep(1500);
      const stats = await slow.stats();
      const after = stats.lifecycle.revalidation;
      const runs = after.runs - before.runs;
      expect(stats.revocationStore!.maxInFlightPerToken).toBe(1);
      expect(runs).toBeGreaterThanOrEqual(2);
      expect(after.skipped - before.skipped).toBeGreaterThan(runs);
      // Two distinct tokens per run (7 connections), not 7; one run may straddle each snapshot.
      expect(after.checks - before.checks).toBeLessThanOrEqual(2 * runs + 2);
      expect(stats.revocationStore!.calls).toBeLessThanOrEqual((runs + 1) * 2);
      // Revocation still works through the slow store: all six tabs of the shared token go.
      await slow.request({ cmd: 'revokeInStoreOnly', jti: 'jti-shared' });
      const codes = await Promise.all(tabs.map(async (c) => (await c.waitClose(5000)).code));
      expect(codes).toEqual(tabs.map(() => 4401));
      expect((await single.call('ping', {})).event).toBe('pong');
      const metrics = await (await fetch(slow.http('/metrics'))).text();
      expect(metrics).toMatch(/realtime_revalidation_runs_total\{outcome="skipped"\} [1-9]/);
      expect(metrics).toMatch(/realtime_revalidation_duration_seconds_count [1-9]/);
      single.close();
    } finally {
      await slow.stop();
    }
  });
});
