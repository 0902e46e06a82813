/**
 * jest globalTeardown: stops the Redis servers of global-setup.ts and removes their directory;
 * jest runs it after failed tests too. It finds the stop function on `globalThis` (same process).
 */
export default async function globalTeardown(): Promise<void> {
  const store = globalThis as Record<symbol, unknown>;
  const key = Symbol.for('realtime-layer.stop-test-redis');
  const stop = store[key];
  store[key] = undefined;
  if (typeof stop === 'function') await (stop as () => Promise<void>)();
}
