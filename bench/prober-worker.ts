import { parentPort, workerData } from 'node:worker_threads';
import { Prober, type ProberInit } from './prober.ts';

// The body of ProberThread's worker: probes on request, answers with the times.
const port = parentPort!;
try {
  const prober = await Prober.open(workerData as ProberInit);
  port.on('message', (m: { id?: number; close?: boolean }) => {
    if (m.close) {
      void prober.close().then(() => process.exit(0));
      return;
    }
    const id = m.id!;
    prober.probe().then(
      (probe) => port.postMessage({ id, probe, lost: prober.lost }),
      (err: Error) => port.postMessage({ id, error: err.message }),
    );
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ ready: false, error: (err as Error).message });
}
