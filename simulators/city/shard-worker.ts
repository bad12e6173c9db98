/**
 * Entry point of a forked publisher process (see run.ts): receives its shard, connects and
 * prepares, waits for the common start, then publishes and reports over IPC.
 *
 *   parent → { type: 'start', options }   child → { type: 'ready', devices, prepared }
 *   parent → { type: 'go' }               child → { type: 'progress', progress } … { type: 'done', report }
 *   parent → { type: 'close' }            child disconnects its gateways cleanly and exits
 *
 * The gateways stay connected after `done` until the parent says so: ten thousand gateways leaving
 * at once are a load of their own on the broker, not part of what a run measures.
 */
import { Shard, type ShardOptions, type ShardProgress, type ShardReport } from './shard.ts';

export type ToShard = { type: 'start'; options: ShardOptions; progressMs: number } | { type: 'go' } | { type: 'close' };
export type FromShard =
  | { type: 'ready'; devices: number; prepared: number }
  | { type: 'progress'; progress: ShardProgress }
  | { type: 'done'; report: ShardReport }
  | { type: 'error'; message: string };

const send = (message: FromShard) => new Promise<void>((resolve) => process.send!(message, undefined, undefined, () => resolve()));

async function serve(first: Extract<ToShard, { type: 'start' }>): Promise<void> {
  const shard = new Shard(first.options);
  const go = new Promise<void>((resolve) => process.on('message', (m: ToShard) => m.type === 'go' && resolve()));
  const close = new Promise<void>((resolve) => process.on('message', (m: ToShard) => m.type === 'close' && resolve()));
  await shard.connect();
  const prepared = shard.prepare();
  await send({ type: 'ready', devices: shard.deviceCount, prepared });
  await go;
  const timer = setInterval(() => void send({ type: 'progress', progress: shard.progress() }), first.progressMs);
  try {
    const report = await shard.run();
    clearInterval(timer);
    await send({ type: 'progress', progress: shard.progress() });
    await send({ type: 'done', report });
    await close;
  } finally {
    clearInterval(timer);
    await shard.close();
  }
}

if (!process.send) {
  process.stderr.write('shard-worker.ts is forked by simulators/city/run.ts, not run on its own\n');
  process.exit(2);
}
process.once('message', (m: ToShard) => {
  if (m.type !== 'start') return;
  serve(m).then(
    () => process.disconnect(),
    async (err: unknown) => {
      await send({ type: 'error', message: err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : String(err) });
      process.exit(1);
    },
  );
});
// The parent went away: nothing left to report to.
process.on('disconnect', () => process.exit(0));
