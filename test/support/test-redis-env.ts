/**
 * The addresses of the run's own Redis servers, started by jest's globalSetup
 * (test/support/global-setup.ts). There is no fallback to a shared server: a test run without
 * them fails loudly here instead of silently testing something else.
 */
function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set: run the tests through jest (jest.config.js globalSetup starts Redis)`);
  }
  return value;
}

/** `redis://127.0.0.1:<port>` of the standalone test server. */
export const TEST_REDIS_URL = required('TEST_REDIS_URL');

/** The three masters of the test cluster, as `{host, port}` seeds. */
export const TEST_REDIS_CLUSTER_NODES: ReadonlyArray<{ host: string; port: number }> = required('TEST_REDIS_CLUSTER_NODES')
  .split(',')
  .map((seed) => {
    const [host, port] = seed.split(':');
    return { host: host!, port: Number(port) };
  });
