import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { Db } from './db.ts';
import { PgliteDb } from './pglite-db.ts';
import { TICKET_STORE_NICE, type WorkerError, type WorkerInit, type WorkerReply, type WorkerRequest } from './pglite-worker-protocol.ts';

/**
 * The PGlite worker: the embedded database runs here so that its WebAssembly turns (a ticket
 * storm is tens of thousands of statements) never hold up the main thread's ingest, detectors,
 * alert streams and /healthz. It answers WorkerDb's requests in order of arrival; PGlite itself
 * serialises a transaction against other statements.
 */

const port = parentPort!;
const init = workerData as WorkerInit;

function toWorkerError(err: unknown): WorkerError {
  const e = err as { name?: string; message?: string; code?: unknown; detail?: unknown };
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.detail === 'string' ? { detail: e.detail } : {}),
  };
}

const reply = (r: WorkerReply): void => port.postMessage(r);

/** An open transaction: the statements sent for it wait here for its callback to take them. */
interface OpenTx {
  queue: WorkerRequest[];
  wake?: () => void;
}

const ROLLBACK = Symbol('rollback');

async function main(): Promise<void> {
  // Linux sets a nice value per thread, and pid 0 is this thread; elsewhere it would be the whole process.
  if (process.platform === 'linux') setPriority(TICKET_STORE_NICE);
  const db = await PgliteDb.open(init);
  const open = new Map<number, OpenTx>();

  const runTransaction = (begin: number): void => {
    const state: OpenTx = { queue: [] };
    open.set(begin, state);
    const next = async (): Promise<WorkerRequest> => {
      while (state.queue.length === 0) await new Promise<void>((resolve) => (state.wake = resolve));
      return state.queue.shift()!;
    };
    let ended: WorkerRequest | undefined;
    db.transaction(async (tx: Db) => {
      reply({ id: begin, ok: true });
      for (;;) {
        const req = await next();
        if (req.op === 'query') {
          try {
            reply({ id: req.id, ok: true, rows: await tx.query(req.sql, req.params) });
          } catch (err) {
            reply({ id: req.id, ok: false, error: toWorkerError(err) });
          }
          continue;
        }
        ended = req;
        if (req.op === 'rollback') throw ROLLBACK;
        return;
      }
    }).then(
      () => reply({ id: ended!.id, ok: true }),
      (err: unknown) => {
        if (err === ROLLBACK) reply({ id: ended!.id, ok: true });
        else if (ended) reply({ id: ended.id, ok: false, error: toWorkerError(err) });
        else reply({ id: begin, ok: false, error: toWorkerError(err) });
      },
    ).finally(() => open.delete(begin));
  };

  port.on('message', (req: WorkerRequest) => {
    switch (req.op) {
      case 'query':
        if (req.tx !== undefined) {
          const state = open.get(req.tx);
          if (!state) return reply({ id: req.id, ok: false, error: { name: 'Error', message: `transaction ${req.tx} is not open` } });
          state.queue.push(req);
          state.wake?.();
          return;
        }
        db.query(req.sql, req.params).then(
          (rows) => reply({ id: req.id, ok: true, rows }),
          (err: unknown) => reply({ id: req.id, ok: false, error: toWorkerError(err) }),
        );
        return;
      case 'begin':
        return runTransaction(req.id);
      case 'commit':
      case 'rollback': {
        const state = open.get(req.tx);
        if (!state) return reply({ id: req.id, ok: false, error: { name: 'Error', message: `transaction ${req.tx} is not open` } });
        state.queue.push(req);
        state.wake?.();
        return;
      }
      case 'close':
        db.close().then(
          () => {
            reply({ id: req.id, ok: true });
            port.close();
          },
          (err: unknown) => reply({ id: req.id, ok: false, error: toWorkerError(err) }),
        );
    }
  });
  port.postMessage({ ready: true });
}

main().catch((err: unknown) => port.postMessage({ ready: false, error: toWorkerError(err) }));
