// `npm run bench`: every scenario against ours, bare ws, corked ws and Socket.IO, side by side.
// Writes bench/results/latest.md and latest.json (smoke.* at BENCH_SIZE=tiny).
//   BENCH_SIZE=tiny|ci|full  BENCH_RUNS=3  BENCH_SERVERS=ours,bare  BENCH_SCENARIOS=fanout,inbound
//   BENCH_PROFILE=1 (node --cpu-prof our server; summarise with bench/profile.mjs)
import { main } from './lib/cli.mjs';

await main();
