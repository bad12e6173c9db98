/**
 * V8 flags the pipeline process runs with: `npm start` (package.json, kept equal by
 * node-flags.test.ts) and the benchmarks' pipeline processes.
 *
 * `--max-semi-space-size=64` (MB; Node's default is 16): decoded batches, readings in flight and
 * detector states live for a few turns, so with the default young generation many are copied and
 * promoted, and the collections that follow hold the loop that a leak's reading waits on. Measured
 * with `bench/throughput.ts --path embedded --batch 100 --levels 50,90 --seconds-per-level 10`,
 * alternating two runs each (2026-12-06): peak 164/165 → 170/179 k readings/s, technician push
 * p99 at 50 % of peak 51/75 → 46/55 ms, at 90 % 106/146 → 60/74 ms. It costs up to ~150 MB more
 * RSS. Adding `--single-threaded-gc` gained nothing.
 */
export const PIPELINE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
