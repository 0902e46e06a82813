import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/harness.js';

/**
 * R10: log lines go to stdout asynchronously (a flood must not block the event loop on
 * writes), and whatever is still queued is written when the process exits.
 */
test('R10: 20,000 lines logged right before process.exit all reach stdout, in order', () => {
  const entry = join(ROOT, 'dist', 'logging', 'realtime-logger.js');
  const script = `
    const { RealtimeLogger } = await import(${JSON.stringify(entry)});
    const logger = RealtimeLogger.create('info');
    for (let i = 0; i < 20000; i++) logger.info('line', { n: i });
    process.exit(0);
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  expect(run.status).toBe(0);
  const numbers = run.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { n: number }).n);
  expect(numbers).toHaveLength(20_000);
  expect(numbers.every((n, i) => n === i)).toBe(true);
});
