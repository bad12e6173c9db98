import { readlinkSync } from 'node:fs';
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
  // Its Linux thread id (/proc/thread-self → PID/task/TID), so the load generator can yield every thread but this one.
  port.postMessage({ ready: true, tid: Number(readlinkSync('/proc/thread-self').split('/').pop()) });
} catch (err) {
  port.postMessage({ ready: false, error: (err as Error).message });
}
