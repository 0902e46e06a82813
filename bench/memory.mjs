// The memory scenario alone (needs `npm run build` for ours): node bench/memory.mjs
// Same options as bench/run.mjs (BENCH_SIZE, BENCH_RUNS, BENCH_SERVERS, BENCH_PROFILE);
// writes bench/results/memory.md and .json.
import { main } from './lib/cli.mjs';

await main(['memory'], 'memory');
