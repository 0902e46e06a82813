import { Histogram, Registry } from 'prom-client';
import { TalliedHistogram } from '../../src/observability/frame-tally.js';

const BUCKETS = [0.001, 0.01, 0.1];
const SAMPLES = [0.0004, 0.001, 0.002, 0.05, 0.5, 2];

function pair(): { plain: Registry; tallied: Registry; histogram: TalliedHistogram<'namespace' | 'event'>; reference: Histogram<'namespace' | 'event'> } {
  const plain = new Registry();
  const tallied = new Registry();
  const config = { name: 'x_duration_seconds', help: 'h', labelNames: ['namespace', 'event'] as Array<'namespace' | 'event'>, buckets: BUCKETS };
  const reference = new Histogram({ ...config, registers: [plain] });
  const histogram = new TalliedHistogram({ ...config, registers: [tallied] });
  return { plain, tallied, histogram, reference };
}

describe('TalliedHistogram (per-frame durations kept off prom-client on the hot path)', () => {
  it('exposes exactly what prom-client Histogram exposes for the same observations', async () => {
    const { plain, tallied, histogram, reference } = pair();
    const a = histogram.tally({ namespace: 'main', event: 'ping' });
    const b = histogram.tally({ namespace: 'tracking', event: 'tracking.subscribe' });
    for (const s of SAMPLES) {
      a.observe(s);
      reference.observe({ namespace: 'main', event: 'ping' }, s);
    }
    b.observe(0.003);
    reference.observe({ namespace: 'tracking', event: 'tracking.subscribe' }, 0.003);
    expect(await tallied.metrics()).toBe(await plain.metrics());
    expect(await tallied.getMetricsAsJSON()).toEqual(await plain.getMetricsAsJSON());
  });

  it('omits label sets that saw nothing, and reset() zeroes the tallies', async () => {
    const { tallied, histogram } = pair();
    const t = histogram.tally({ namespace: 'main', event: 'ping' });
    expect(await tallied.metrics()).not.toContain('event="ping"');
    t.observe(0.002);
    expect(await tallied.metrics()).toContain('x_duration_seconds_count{namespace="main",event="ping"} 1');
    histogram.reset();
    expect(t.count).toBe(0);
    expect(await tallied.metrics()).not.toContain('event="ping"');
  });

  it('rests on prom-client private API that still exists and is still what the registry calls (fails when prom-client changes it)', async () => {
    expect(typeof (Histogram.prototype as unknown as Record<string, unknown>).getForPromString).toBe('function');
    const { tallied, histogram } = pair();
    histogram.tally({ namespace: 'main', event: 'ping' }).observe(0.002);
    const calls: string[] = [];
    const own = histogram.getForPromString.bind(histogram);
    histogram.getForPromString = async () => {
      calls.push('getForPromString');
      return own();
    };
    await tallied.metrics();
    await tallied.getMetricsAsJSON();
    expect(calls).toEqual(['getForPromString', 'getForPromString']);
  });
});
